"""The production profile: two Rasa replicas behind nginx, sharing PostgreSQL and a Redis lock store.

One stack for the module, started as `make run-prod` starts it (scripts/production.py), on
loopback: PostgreSQL, Redis, the action server, two replicas, nginx round-robin. The tests run
in order and keep a ledger of every turn sent, so the last one can check, after killing a replica
and restarting every process, that each conversation still holds exactly its turns.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from assistant.settings import PROJECT_ROOT
from scripts.local_services import LocalPostgres, LocalRedis
from scripts.production import ProductionStack, load_config, start_services
from scripts.servers import free_port

ALLOWED_ORIGIN = "https://www.example-hospital.org"
SENDERS = 50
LOAD_SECONDS = 30
KILL_LOAD_SECONDS = 25
KILL_AFTER_SECONDS = 5
# A conversation whose turn died with the killed replica stays locked this long (Rasa's default: 60 s).
LOCK_LIFETIME_SECONDS = 10
REQUEST_TIMEOUT = 90
TURN_DEADLINE = 30
APOLOGY = "apology"

# Questions whose answer does not depend on the conversation, each followed by its follow-up
# naming the other procedure: the follow-up is answered only if the conversation's context
# (topic) reached the replica that serves it.
QUESTIONS = [
    ("how long does vertebroplasty take?", "duration", "vertebroplasty"),
    ("what is kyphoplasty", "overview", "kyphoplasty"),
    ("what are the risks of vertebroplasty?", "risks", "vertebroplasty"),
]
FOLLOW_UP = {"vertebroplasty": "and kyphoplasty?", "kyphoplasty": "and vertebroplasty?"}
TOPIC_OF_QUESTION = {question: topic for question, topic, _ in QUESTIONS}


@dataclass
class Turn:
    message: str
    expected: tuple[str, str]  # topic, procedure
    started: float  # time.monotonic()
    error: str | None = None  # HTTP status, exception or wrong answer; None: answered as expected


@dataclass
class Production:
    postgres: LocalPostgres
    redis: LocalRedis
    env: dict = field(repr=False)  # holds the API token
    stack: ProductionStack
    ledger: dict[str, list[Turn]] = field(default_factory=dict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.stack.public_url

    @property
    def token(self) -> str:
        return self.env["RASA_API_TOKEN"]

    def record(self, sender: str, turn: Turn) -> None:
        with self.lock:
            self.ledger.setdefault(sender, []).append(turn)

    def tracker(self, sender: str) -> list[dict]:
        response = requests.get(
            f"{self.url}/conversations/{sender}/tracker",
            params={"token": self.token, "include_events": "ALL"}, timeout=30,
        )
        response.raise_for_status()
        return response.json()["events"]


def production_env(postgres: LocalPostgres, redis: LocalRedis, run_dir: Path) -> dict:
    env = {name: value for name, value in os.environ.items()
           if name not in ("ASSISTANT_DATABASE_URL", "RASA_JWT_SECRET")}
    return {
        **env,
        "RASA_API_TOKEN": secrets.token_hex(16),
        "REST_API_TOKEN": secrets.token_hex(16),
        "CORS_ORIGINS": ALLOWED_ORIGIN,
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(postgres.port),
        "POSTGRES_DB": "postgres",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
        "REDIS_URL": redis.url,
        "REPLICA_PORTS": f"{free_port()},{free_port()}",
        "ACTION_PORT": str(free_port()),
        "NGINX_LISTEN": f"127.0.0.1:{free_port()}",
        "PROD_RUN_DIR": str(run_dir),
        "RATE_LIMIT_PER_MINUTE": "0",
        "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME_SECONDS),
        # 50 senders overload two replicas on a small machine: turns queue for seconds, and
        # with the usual deadlines many would get the apology. These tests check what is
        # stored and answered under load, not how fast (tests/test_tarpit.py does that), so
        # a turn may take up to TURN_DEADLINE, well inside nginx's 90 s.
        "TURN_ADVICE_DEADLINE": str(TURN_DEADLINE), "TURN_REPLY_DEADLINE": str(TURN_DEADLINE),
    }


@pytest.fixture(scope="module")
def production():
    postgres = LocalPostgres()
    postgres.start()
    # Outside pytest's private temp folder: nginx's workers (www-data) write below it.
    folder = Path(tempfile.mkdtemp(prefix="assistant-production-"))
    folder.chmod(0o755)
    redis = LocalRedis(folder)
    stack = None
    try:
        redis.start()
        env = production_env(postgres, redis, folder / "run")
        stack = start_services(load_config(env), env)
        served = Production(postgres, redis, env, stack)
        yield served
        stack = served.stack  # the restart test replaces it
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
        postgres.remove()
        # The servers' logs, for a failed run.
        logs = PROJECT_ROOT / "test-output" / "production-logs"
        shutil.rmtree(logs, ignore_errors=True)
        if (folder / "run").exists():
            shutil.copytree(folder / "run", logs, ignore=shutil.ignore_patterns("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
        shutil.rmtree(folder, ignore_errors=True)


def send(
    production: Production, sender: str, message: str, expected: tuple[str, str], base_url: str | None = None
) -> Turn:
    """One REST turn, recorded in the ledger with what went wrong, if anything."""
    turn = Turn(message, expected, time.monotonic())
    try:
        response = requests.post(
            f"{base_url or production.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message}, timeout=REQUEST_TIMEOUT,
            headers={"Authorization": f"Bearer {production.env['REST_API_TOKEN']}"},
        )
    except requests.RequestException as error:
        turn.error = type(error).__name__
    else:
        if response.status_code != 200:
            turn.error = f"HTTP {response.status_code}"
        else:
            customs = [m["custom"] for m in response.json() if "custom" in m]
            answered = [(c["topic"], c["procedure"]) for c in customs if c["type"] == "answer"]
            if [c["type"] for c in customs] == ["fallback"] and customs[0]["topic"] is None:
                turn.error = APOLOGY  # the turn outlasted its deadline: the bounded apology
            elif answered != [expected]:
                turn.error = f"answer {answered} instead of {expected}"
    production.record(sender, turn)
    return turn


def converse(production: Production, sender: str, first_question: int, deadline: float) -> None:
    """A patient's turns, one at a time: a question, its follow-up, the next question...

    After a failed turn the next message is a new question, so every follow-up's expected
    answer is known whether or not the failed turn was stored.
    """
    question_index, last = first_question, None
    while time.monotonic() < deadline:
        if last is not None and last.error is None and last.message in TOPIC_OF_QUESTION:
            topic, procedure = last.expected
            other = "kyphoplasty" if procedure == "vertebroplasty" else "vertebroplasty"
            last = send(production, sender, FOLLOW_UP[procedure], (topic, other))
        else:
            question, topic, procedure = QUESTIONS[question_index % len(QUESTIONS)]
            question_index += 1
            last = send(production, sender, question, (topic, procedure))


def run_senders(production: Production, prefix: str, seconds: float, meanwhile=None) -> list[str]:
    """SENDERS conversations in parallel through nginx for `seconds`; `meanwhile()` runs alongside."""
    senders = [f"{prefix}-{index:02d}-{secrets.token_hex(3)}" for index in range(SENDERS)]
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(SENDERS) as pool:
        running = [pool.submit(converse, production, sender, index, deadline) for index, sender in enumerate(senders)]
        if meanwhile:
            meanwhile()
        for future in running:
            future.result()
    return senders


def stored_events(production: Production, senders: list[str]) -> dict[str, list[dict]]:
    """Each sender's rows in the tracker store's events table, in stored order."""
    engine = create_engine(production.postgres.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name, action_name, timestamp, data FROM events "
                     "WHERE sender_id = ANY(:senders) ORDER BY id"),
                {"senders": senders},
            ).mappings().all()
    finally:
        engine.dispose()
    events: dict[str, list[dict]] = {sender: [] for sender in senders}
    for row in rows:
        events[row["sender_id"]].append(dict(row))
    return events


def check_events(events: list[dict]) -> list[str]:
    """What is wrong with one conversation's stored events: duplicates or a half-stored turn."""
    problems = []
    duplicates = [key for key, count in Counter((e["type_name"], e["timestamp"], e["data"]) for e in events).items()
                  if count > 1]
    if duplicates:
        problems.append(f"{len(duplicates)} events stored twice")
    # Every turn: the user's message, at least one bot message, then back to listening.
    turns, current = [], None
    for event in events:
        if event["type_name"] == "user":
            current = []
            turns.append(current)
        elif current is not None:
            current.append(event)
    for turn in turns:
        if not any(e["type_name"] == "bot" for e in turn) or not turn or turn[-1]["action_name"] != "action_listen":
            problems.append("a turn without its reply")
    return problems


def user_messages(events: list[dict]) -> list[str]:
    return [json.loads(e["data"])["text"] for e in events if e["type_name"] == "user"]


def answered(turns: list[Turn]) -> int:
    return sum(turn.error is None for turn in turns)


# ------------------------------------------------------------------------------- tests


def test_the_launcher_refuses_to_serve_the_api_without_a_token(tmp_path):
    base = {name: value for name, value in os.environ.items() if not name.startswith("RASA_")}
    settings = (
        "POSTGRES_HOST=127.0.0.1\nPOSTGRES_DB=assistant\nPOSTGRES_USER=assistant\n"
        "REDIS_URL=redis://127.0.0.1:6379/0\n"
    )
    cases = {
        "no token": (settings + "REST_API_TOKEN=def\n", "RASA_API_TOKEN"),
        "any origin": (settings + "REST_API_TOKEN=def\nRASA_API_TOKEN=abc\nCORS_ORIGINS=*\n", "CORS_ORIGINS"),
        "open REST webhook": (settings + "RASA_API_TOKEN=abc\n", "REST_API_TOKEN"),
    }
    for case, (content, named) in cases.items():
        env_file = tmp_path / f"{case.replace(' ', '-')}.env"
        env_file.write_text(content)
        launched = subprocess.run(
            [sys.executable, "-m", "scripts.production", "--env-file", str(env_file)],
            cwd=PROJECT_ROOT, env=base, capture_output=True, text=True, timeout=120,
        )
        assert launched.returncode == 2, (case, launched.stdout, launched.stderr)
        assert "Not starting" in launched.stderr and named in launched.stderr, case
        assert "Traceback" not in launched.stderr


def test_the_api_needs_the_token_and_cors_allows_only_configured_origins(production):
    sender = f"api-{secrets.token_hex(4)}"
    question, topic, procedure = QUESTIONS[0]
    assert send(production, sender, question, (topic, procedure)).error is None
    # Both replicas answer through nginx (round-robin), each behind the token.
    for _ in range(2):
        without = requests.get(f"{production.url}/conversations/{sender}/tracker", timeout=30)
        wrong = requests.get(f"{production.url}/conversations/{sender}/tracker", params={"token": "guess"}, timeout=30)
        assert (without.status_code, wrong.status_code) == (401, 401)
        assert production.tracker(sender)
    for replica in production.stack.config.replica_urls:
        assert requests.get(f"{replica}/conversations/{sender}/tracker", timeout=30).status_code == 401
    # The REST webhook writes into the conversation its caller names: it needs its own token.
    for headers in ({}, {"Authorization": "Bearer guess"}):
        refused = requests.post(
            f"{production.url}/webhooks/rest/webhook", json={"sender": sender, "message": "my private question"},
            headers=headers, timeout=30,
        )
        assert refused.status_code == 401 and "private" not in refused.text

    def preflight(origin: str) -> requests.Response:
        return requests.options(
            f"{production.url}/webhooks/rest/webhook",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"}, timeout=30,
        )

    assert preflight(ALLOWED_ORIGIN).headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "Access-Control-Allow-Origin" not in preflight("https://evil.example").headers
    # nginx logs method and path only: neither the token nor the patient's words.
    access_log = (production.stack.config.run_dir / "nginx-access.log").read_text()
    assert "/conversations/" in access_log
    assert production.token not in access_log and "vertebroplasty" not in access_log


def test_a_conversation_alternating_between_replicas_keeps_its_context(production, report):
    sender = f"alternating-{secrets.token_hex(4)}"
    replicas = production.stack.config.replica_urls
    script = []
    for question, topic, procedure in QUESTIONS:
        other = "kyphoplasty" if procedure == "vertebroplasty" else "vertebroplasty"
        script += [(question, (topic, procedure)), (FOLLOW_UP[procedure], (topic, other))]
    # Turn n goes to replica n % 2: every follow-up is served by the replica that did not see its question.
    turns = [send(production, sender, message, expected, base_url=replicas[index % 2])
             for index, (message, expected) in enumerate(script)]
    assert [turn.error for turn in turns] == [None] * len(script)

    events = stored_events(production, [sender])[sender]
    assert check_events(events) == []
    assert user_messages(events) == [message for message, _ in script]
    tracker = production.tracker(sender)
    assert [(e["event"], e.get("timestamp")) for e in tracker] == [
        (e["type_name"], e["timestamp"]) for e in events
    ]
    report(f"production: alternating conversation, {len(script)} turns over 2 replicas, "
           f"{len(events)} events, each stored once")


def test_50_senders_for_30_seconds_lose_and_duplicate_no_event(production, report):
    senders = run_senders(production, "load", LOAD_SECONDS)
    errors = Counter(turn.error for sender in senders for turn in production.ledger[sender] if turn.error)
    assert not errors, errors

    events = stored_events(production, senders)
    problems = {sender: check_events(events[sender]) for sender in senders}
    assert {sender: found for sender, found in problems.items() if found} == {}
    sent = {sender: [turn.message for turn in production.ledger[sender]] for sender in senders}
    assert {sender: user_messages(events[sender]) for sender in senders} == sent
    turns = sum(len(messages) for messages in sent.values())
    report(f"production: {SENDERS} senders x {LOAD_SECONDS} s through nginx: {turns} turns, 0 errors, "
           f"{sum(len(e) for e in events.values())} events checked, none lost or duplicated")


def test_a_killed_replica_then_a_full_restart_lose_no_conversation(production, report):
    victim = f"replica-{production.stack.config.replica_ports[1]}"
    killed_at = {}

    def kill_one_replica():
        time.sleep(KILL_AFTER_SECONDS)
        killed_at["time"] = time.monotonic()
        production.stack.processes[victim].kill()

    senders = run_senders(production, "kill", KILL_LOAD_SECONDS, meanwhile=kill_one_replica)
    kill_time = killed_at["time"]
    failed = {sender: [t for t in production.ledger[sender] if t.error] for sender in senders}
    # Only the turn a sender had in flight on the killed replica may fail, with nginx's 502;
    # nginx sends every later turn to the surviving replica, which answers every conversation.
    # A turn behind the dead replica's ticket on its conversation waits until the ticket
    # expires (LOCK_LIFETIME_SECONDS), then is answered (addons/lock_store.py): no apology.
    assert {sender: len(turns) for sender, turns in failed.items() if len(turns) > 1} == {}
    assert {turn.error for turns in failed.values() for turn in turns} <= {"HTTP 502"}
    answered_after_kill = {sender: sum(t.error is None and t.started > kill_time for t in production.ledger[sender])
                           for sender in senders}
    assert min(answered_after_kill.values()) > 0, answered_after_kill

    events = stored_events(production, senders)
    assert {sender: check_events(events[sender]) for sender in senders if check_events(events[sender])} == {}
    stored_unanswered = 0
    for sender in senders:
        stored = len(user_messages(events[sender]))
        ok = answered(production.ledger[sender])
        # Every answered turn is stored (a reply goes out once its turn is stored); a turn
        # whose replica died may have been stored before the reply was lost; none twice.
        assert ok <= stored <= ok + len(failed[sender]), sender
        stored_unanswered += max(0, stored - ok)
    failures = Counter(turn.error for turns in failed.values() for turn in turns)
    report(f"production: SIGKILL of {victim} {KILL_AFTER_SECONDS} s into {SENDERS} senders x {KILL_LOAD_SECONDS} s: "
           f"{sum(map(len, (production.ledger[s] for s in senders)))} turns, failed in flight {dict(failures) or 0} "
           f"({stored_unanswered} of them stored), "
           f"every sender answered after the kill "
           f"(min {min(answered_after_kill.values())} turns each)")

    # Full restart of every process: nginx, replicas, action server, Redis and PostgreSQL (same data).
    everyone = list(production.ledger)
    before = stored_events(production, everyone)
    production.stack.stop()
    production.redis.stop()
    production.postgres.stop()
    production.postgres.start()
    production.redis.start()
    production.stack = start_services(load_config(production.env), production.env)

    def still_there(sender: str) -> str | None:
        """What is wrong with the conversation after the restart, if anything."""
        if [(e["event"], e.get("timestamp")) for e in production.tracker(sender)] != [
            (e["type_name"], e["timestamp"]) for e in before[sender]
        ]:
            return "tracker differs from before the restart"
        # The follow-up needs the topic of the last question the conversation stored.
        topic = [TOPIC_OF_QUESTION[m] for m in user_messages(before[sender]) if m in TOPIC_OF_QUESTION][-1]
        turn = send(production, sender, "and kyphoplasty?", (topic, "kyphoplasty"))
        return turn.error

    with ThreadPoolExecutor(10) as pool:
        after_restart = dict(zip(everyone, pool.map(still_there, everyone)))
    assert {sender: problem for sender, problem in after_restart.items() if problem} == {}
    report(f"production: after restarting every process, {len(everyone)} conversations "
           f"({sum(map(len, before.values()))} events) intact and each answered a follow-up in context")
