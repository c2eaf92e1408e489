"""A dependency that accepts connections and never answers never silences the assistant.

Each dependency sits behind a tarpit (scripts/local_services.Tarpit), a loopback port that
forwards to the real service until the test makes it hang: it then accepts and never
answers, and cuts the connections it was forwarding, as a failed-over address does. One at
a time, the knowledge database, the conversation store, Redis and the action server hang;
meanwhile, on REST, the widget and SMS, a red flag gets its advice within 2 s and every
other message its answer or the apology with the nurse line within 5 s, for two
conversations at once, and the health checks answer. Then the tarpit forwards again and
the server answers by itself, and every conversation's stored events are whole turns.

Two profiles: the plain one (one Rasa server, its conversation store and knowledge base in
PostgreSQL, the rate limit's counters in Redis, each behind its tarpit), and the production
one (a replica behind nginx, PostgreSQL for everything, Redis for the lock and the counters).
Both run with asyncio's debug mode on, and no callback may hold the event loop over 100 ms
once they are warmed up.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.helpers import RED_FLAG, Phone, custom_of
from widget_client import WidgetClient

from assistant.knowledge.load import load_knowledge
from assistant.settings import PROJECT_ROOT, load_contacts
from scripts.local_services import LocalPostgres, LocalRedis, Tarpit
from scripts.production import load_config, start_services
from scripts.servers import free_port, serve_assistant

ADVICE_WITHIN = 2.0  # seconds, from the patient's message to the advice
REPLY_WITHIN = 5.0  # seconds, to the answer or the apology
HEALTH_WITHIN = 1.0
RECOVERY_WITHIN = 30.0
QUESTION = "how long does kyphoplasty take?"
APOLOGY = "Sorry, I cannot look up that answer right now"
SLOW_CALLBACK = "Executing "  # asyncio's debug mode: "Executing <Task ...> took 0.123 seconds"


@dataclass
class Served:
    """What the clients need of a running assistant, plain or behind nginx."""

    url: str
    web_url: str  # an origin the widget's socket accepts
    sms_auth_token: str
    rest_token: str
    logs: list[Path]  # the Rasa servers' logs
    events_url: str  # the conversation store, reached without its tarpit
    tarpits: dict[str, tuple[Tarpit, int]]  # dependency: its tarpit and the real service's port
    log_offsets: dict[Path, int] = field(default_factory=dict)

    def rest(self, sender: str, message: str) -> list[dict]:
        headers = {"Authorization": f"Bearer {self.rest_token}"} if self.rest_token else {}
        response = requests.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                                 headers=headers, timeout=30)
        response.raise_for_status()
        return response.json()

    def mark_logs(self) -> None:
        """From here on, the servers are warm: slow callbacks count."""
        self.log_offsets = {log: log.stat().st_size for log in self.logs}

    def slow_callbacks(self) -> list[str]:
        found = []
        for log, offset in self.log_offsets.items():
            with log.open("rb") as handle:
                handle.seek(offset)
                found += [line for line in handle.read().decode("utf-8", "replace").splitlines()
                          if SLOW_CALLBACK in line and " took " in line]
        return found


def texts_of(messages: list[dict]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def warm_up(served: Served) -> None:
    """Each channel once, and each kind of turn, so that what is loaded lazily is loaded."""
    for message in (QUESTION, RED_FLAG, "and vertebroplasty?"):
        served.rest(f"warm-{secrets.token_hex(4)}", message)
    Phone(served).text(QUESTION)
    widget = WidgetClient(served)
    try:
        widget.say(QUESTION)
    finally:
        widget.close()
    served.mark_logs()


@dataclass
class PatientTurn:
    sender: str
    seconds: float
    reply: str
    custom: dict | None  # None on SMS


def one_patient(served: Served, channel: str, message: str) -> PatientTurn:
    """One message on one channel from a new patient."""
    if channel == "rest":
        sender = f"tarpit-{secrets.token_hex(5)}"
        seconds, messages = timed(lambda: served.rest(sender, message))
        return PatientTurn(sender, seconds, texts_of(messages), custom_of(messages))
    if channel == "sms":
        phone = Phone(served)
        seconds, reply = timed(lambda: phone.text(message))
        return PatientTurn(phone.number, seconds, reply or "", None)
    widget = WidgetClient(served)
    try:
        seconds, messages = timed(lambda: widget.say(message))
    finally:
        widget.close()
    return PatientTurn(widget.session_id, seconds, texts_of(messages), custom_of(messages))


def health(served: Served) -> float:
    seconds, _ = timed(lambda: [requests.get(f"{served.url}{path}", timeout=10).raise_for_status()
                                for path in ("/", "/webhooks/rest/")])
    return seconds


def stored_events(events_url: str, senders: list[str]) -> list:
    """The conversation store's rows for these senders, in stored order."""
    engine = create_engine(events_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT sender_id, type_name, action_name, data FROM events "
                     "WHERE sender_id = ANY(:senders) ORDER BY id"), {"senders": senders},
            ).all()
    finally:
        engine.dispose()


def answered_and_stored(served: Served) -> bool:
    """Whether a new conversation gets its answer and is stored: the assistant is itself again."""
    sender = f"recovery-{secrets.token_hex(4)}"
    return custom_of(served.rest(sender, QUESTION))["type"] == "answer" and bool(stored_events(served.events_url, [sender]))


def stored_turns_problems(events_url: str, senders: list[str]) -> dict[str, str]:
    """Conversations whose stored events are not whole turns: a message without the end of its
    turn (listening again) before the next message or at the end, or an event stored twice."""
    rows = stored_events(events_url, senders)
    problems = {}
    for sender in senders:
        events = [row for row in rows if row.sender_id == sender]
        if len({row.data for row in events}) != len(events):
            problems[sender] = "an event stored twice"
        open_turn = False
        for row in events:
            if row.type_name == "user":
                if open_turn:
                    problems[sender] = "a message without the end of its turn"
                open_turn = True
            elif row.type_name == "action" and row.action_name == "action_listen":
                open_turn = False
        if open_turn:
            problems[sender] = "the last message without the end of its turn"
    return problems


def hang_and_recover(served: Served, dependency: str, report, answers_possible: bool) -> None:
    """The scenario for one dependency: hang, the patients' turns, the health checks, recovery,
    the stored turns. ``answers_possible``: whether an answer may still come (else the apology)."""
    tarpit, service_port = served.tarpits[dependency]
    nurse_phone, emergency = load_contacts().nurse_phone, load_contacts().emergency_number
    tarpit.hang()
    try:
        cases = [(channel, message) for channel in ("rest", "widget", "sms") for message in (RED_FLAG, QUESTION)]
        # Every case at once, each its own conversation: one conversation's hanging turn holds up no other.
        with ThreadPoolExecutor(len(cases) + 1) as pool:
            turns = [(case, pool.submit(one_patient, served, *case)) for case in cases]
            health_seconds = pool.submit(health, served)
            results = [(case, future.result()) for case, future in turns]
            health_seconds = health_seconds.result()
    finally:
        tarpit.serve(service_port)
    started = time.monotonic()
    while not answered_and_stored(served):
        assert time.monotonic() - started < RECOVERY_WITHIN, f"no answer {RECOVERY_WITHIN} s after {dependency} came back"
        time.sleep(0.5)
    recovery = time.monotonic() - started

    seconds: dict[str, str] = {}
    for (channel, message), turn in results:
        if message == RED_FLAG:
            assert turn.seconds <= ADVICE_WITHIN, (dependency, channel, turn.seconds)
            assert emergency in turn.reply, (dependency, channel, turn.reply)
            assert turn.custom is None or (turn.custom["type"], turn.custom["urgency"]) == ("triage", "emergency")
        else:
            assert turn.seconds <= REPLY_WITHIN, (dependency, channel, turn.seconds)
            apologised = APOLOGY in turn.reply and nurse_phone in turn.reply
            assert apologised or (answers_possible and "hour" in turn.reply.lower()), (dependency, channel, turn.reply)
            assert turn.custom is None or turn.custom["type"] == ("fallback" if apologised else "answer")
        seconds[f"{'advice' if message == RED_FLAG else 'reply'} {channel}"] = f"{turn.seconds:.2f}" + (
            "" if message == RED_FLAG else " apology" if APOLOGY in turn.reply else " answer")
    assert health_seconds <= HEALTH_WITHIN, (dependency, health_seconds)

    # Turns that outlasted their deadline end in the background once their calls fail or return.
    senders = [turn.sender for _, turn in results]
    deadline = time.monotonic() + RECOVERY_WITHIN
    while (problems := stored_turns_problems(served.events_url, senders)) and time.monotonic() < deadline:
        time.sleep(1)
    assert problems == {}, dependency
    report(f"tarpit {dependency}: seconds to {seconds}, health checks {health_seconds:.2f} s, "
           f"answering again {recovery:.1f} s after it came back")


# ------------------------------------------------------------------------------ plain profile


@pytest.fixture(scope="module")
def plain(tmp_path_factory, postgres_url, redis_url):
    """One Rasa server; its knowledge base and conversation store in PostgreSQL, its rate-limit
    counters in Redis and its action server, each behind a tarpit that forwards for now."""
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    database = f"tarpit_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {database}"))
    admin.dispose()
    postgres_port, redis_port = make_url(postgres_url).port, urlsplit(redis_url).port
    tarpits = {name: Tarpit(port) for name, port in
               (("knowledge database", postgres_port), ("conversation store", postgres_port), ("Redis", redis_port))}
    tarpits["action server"] = Tarpit()
    direct = f"postgresql+psycopg2://postgres@127.0.0.1:{postgres_port}/{database}"
    load_knowledge(create_engine(direct))

    def behind(name: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{tarpits[name].port}/{database}"

    try:
        with serve_assistant(
            tmp_path_factory.mktemp("tarpit"), behind("knowledge database"),
            extra_env={"REDIS_URL": f"redis://127.0.0.1:{tarpits['Redis'].port}/0"},
            action_endpoint_url=f"http://127.0.0.1:{tarpits['action server'].port}/webhook",
            tracker_store_url=behind("conversation store"), asyncio_debug=True,
        ) as assistant:
            action_port = int(assistant.action_url.rsplit(":", 1)[1])
            tarpits["action server"].serve(action_port)
            served = Served(
                url=assistant.url, web_url=assistant.web_url, sms_auth_token=assistant.sms_auth_token,
                rest_token="", logs=[assistant.workdir / "rasa.log"], events_url=direct,
                tarpits={name: (tarpit, tarpit.service_port) for name, tarpit in tarpits.items()},
            )
            warm_up(served)
            yield served
    finally:
        for tarpit in tarpits.values():
            tarpit.close()


@pytest.mark.parametrize("dependency, answers_possible", [
    ("knowledge database", False), ("conversation store", True), ("Redis", True), ("action server", False),
])
def test_a_hanging_dependency_never_silences_the_assistant_which_recovers_by_itself(
    plain, dependency, answers_possible, report
):
    hang_and_recover(plain, dependency, report, answers_possible)


def test_no_callback_holds_the_event_loop_over_100_ms_once_warm(plain):
    assert plain.slow_callbacks() == []


# ------------------------------------------------------------------------- production profile


@pytest.fixture(scope="module")
def production():
    """A replica behind nginx, as `make run-prod` starts it; PostgreSQL (conversations,
    knowledge, escalations, opt-outs) and Redis (lock, rate-limit counters) behind tarpits."""
    postgres = LocalPostgres()
    postgres.start()
    # Outside pytest's private temp folder: nginx's workers (www-data) write below it.
    folder = Path(tempfile.mkdtemp(prefix="assistant-tarpit-"))
    folder.chmod(0o755)
    redis = LocalRedis(folder)
    tarpits: dict[str, Tarpit] = {}
    stack = None
    try:
        redis.start()
        tarpits = {"PostgreSQL": Tarpit(postgres.port), "Redis": Tarpit(redis.port)}
        listen, origin = f"127.0.0.1:{free_port()}", "https://www.example-hospital.org"
        env = {
            **{name: value for name, value in os.environ.items()
               if name not in ("ASSISTANT_DATABASE_URL", "RASA_JWT_SECRET")},
            "RASA_API_TOKEN": secrets.token_hex(16), "REST_API_TOKEN": secrets.token_hex(16),
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16), "SMS_PUBLIC_URL": f"http://{listen}", "WIDGET_ORIGINS": origin,
            "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(tarpits["PostgreSQL"].port),
            "POSTGRES_DB": "postgres", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "",
            "REDIS_URL": f"redis://127.0.0.1:{tarpits['Redis'].port}/0", "RATE_LIMIT_PER_MINUTE": "100",
            "REPLICA_PORTS": str(free_port()), "ACTION_PORT": str(free_port()), "NGINX_LISTEN": listen,
            "PROD_RUN_DIR": str(folder / "run"), "PYTHONASYNCIODEBUG": "1",
        }
        config = load_config(env)
        stack = start_services(config, env)
        served = Served(
            url=stack.public_url, web_url=origin, sms_auth_token=env["TWILIO_AUTH_TOKEN"],
            rest_token=env["REST_API_TOKEN"], logs=[stack.log(f"replica-{port}") for port in config.replica_ports],
            events_url=postgres.url, tarpits={name: (tarpit, tarpit.service_port) for name, tarpit in tarpits.items()},
        )
        warm_up(served)
        yield served
    finally:
        if stack is not None:
            stack.stop()
        for tarpit in tarpits.values():
            tarpit.close()
        redis.stop()
        postgres.remove()
        logs = PROJECT_ROOT / "test-output" / "tarpit-production-logs"  # for a failed run
        shutil.rmtree(logs, ignore_errors=True)
        if (folder / "run").exists():
            shutil.copytree(folder / "run", logs, ignore=shutil.ignore_patterns(
                "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("dependency, answers_possible", [("PostgreSQL", False), ("Redis", True)])
def test_in_production_a_hanging_dependency_never_silences_the_assistant_which_recovers_by_itself(
    production, dependency, answers_possible, report
):
    hang_and_recover(production, dependency, report, answers_possible)


def test_in_production_no_callback_holds_the_event_loop_over_100_ms_once_warm(production):
    assert production.slow_callbacks() == []
