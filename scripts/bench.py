"""make bench: speed and cost of the assistant beside Rasa's default configuration.

Prints one stable table. The assistant is trained clean; the reference is trained
clean when its data, domain or configuration changed, and otherwise kept with the
time of that training. Both are served at once, with the same action server code,
conversation store (SQLite) and Rasa server add-ons. One sender's turns and the
NLU-only parses alternate between them, so that the machine's other load weighs on
both alike; the 20 concurrent senders load one server at a time. Figures only:
nothing here passes or fails.
"""
from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import requests
from sqlalchemy import create_engine

from assistant.knowledge.load import load_knowledge
from assistant.settings import PROJECT_ROOT
from scripts.servers import VENV_BIN, serve_assistant

DEFAULT_CONFIG = "recipe: default.v1\nlanguage: en\npipeline:\npolicies:\n"
# A mixed conversation: answers, follow-ups, red flags, fallbacks and small talk.
CONVERSATION = [
    "hi", "how long does kyphoplasty take?", "and vertebroplasty?", "does it hurt?",
    "can it cause numbness?", "I had kyphoplasty yesterday and now I have a fever",
    "what should I eat before", "how much does it cost", "blorp fizzle wug",
    "my mum cant breathe since her vertebroplasty", "when can I drive again", "thanks",
]
SEQUENTIAL_TURNS = 240
CONCURRENT_SENDERS = 20
REFERENCE_MODELS = PROJECT_ROOT / "build" / "bench-reference"
LOAD_SECONDS = 30


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


TRAINING_INPUTS = ["domain.yml", "data/nlu", "data/rules.yml", "data/stories.yml"]


def training_fingerprint(config: Path) -> str:
    """A hash of everything a training reads: the config, the domain and the data files."""
    digest = hashlib.sha256(config.read_bytes())
    for name in TRAINING_INPUTS:
        path = PROJECT_ROOT / name
        for file in sorted(path.rglob("*.yml")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def train(config: Path, out: Path, name: str, force: bool = True) -> tuple[float, str]:
    """Train from scratch and return (seconds, model path). Without ``force``, a model in
    ``out`` trained from the same inputs is kept, with the seconds of its training."""
    model = out / f"{name}.tar.gz"
    seconds_file, fingerprint_file = out / f"{name}.train_seconds", out / f"{name}.fingerprint"
    fingerprint = training_fingerprint(config)
    if not force and model.exists() and seconds_file.exists() and fingerprint_file.exists() \
            and fingerprint_file.read_text() == fingerprint:
        return float(seconds_file.read_text()), str(model)
    started = time.monotonic()
    # --force: every component trained anew, none taken from Rasa's training cache.
    subprocess.run(
        [str(VENV_BIN / "rasa"), "train", "--force", "--config", str(config),
         "--data", "data/nlu", "data/rules.yml", "data/stories.yml", "--out", str(out),
         "--fixed-model-name", name],
        cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    seconds = time.monotonic() - started
    seconds_file.write_text(f"{seconds:.1f}")
    fingerprint_file.write_text(fingerprint)
    return seconds, str(model)


def resident_mb(process: subprocess.Popen) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_turn(url: str, sender: str, text: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        ok = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30).ok
    except requests.RequestException:
        ok = False
    return time.perf_counter() - started, ok


def parse_seconds(served, text: str) -> float:
    began = time.perf_counter()
    requests.post(f"{served.url}/model/parse", params={"token": served.token}, json={"text": text}, timeout=30)
    return time.perf_counter() - began


def one_sender(servers: dict) -> dict[str, dict]:
    """Turns, then NLU-only parses, one at a time, alternating between the servers, so that
    whatever else the machine is doing weighs on each of them alike."""
    senders = {name: f"bench-{uuid.uuid4().hex[:8]}" for name in servers}
    turns: dict[str, list[float]] = {name: [] for name in servers}
    parses: dict[str, list[float]] = {name: [] for name in servers}
    for i in range(SEQUENTIAL_TURNS):
        for name, served in servers.items():
            turns[name].append(timed_turn(served.url, senders[name], CONVERSATION[i % len(CONVERSATION)])[0])
    for i in range(SEQUENTIAL_TURNS):
        for name, served in servers.items():
            parses[name].append(parse_seconds(served, CONVERSATION[i % len(CONVERSATION)]))
    return {
        name: {
            "turn_p50_ms": 1000 * statistics.median(turns[name]),
            "turn_p95_ms": 1000 * percentile(turns[name], 0.95),
            "turn_p99_ms": 1000 * percentile(turns[name], 0.99),
            "parse_p50_ms": 1000 * statistics.median(parses[name]),
        }
        for name in servers
    }


def under_load(served) -> dict:
    """CONCURRENT_SENDERS senders, each sending its next message as soon as it is answered."""
    seconds_each: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + LOAD_SECONDS

    def sender_loop(number: int) -> None:
        nonlocal errors
        who, i = f"load-{number}-{uuid.uuid4().hex[:6]}", 0
        while time.monotonic() < deadline:
            seconds, ok = timed_turn(served.url, who, CONVERSATION[i % len(CONVERSATION)])
            i += 1
            with lock:
                seconds_each.append(seconds)
                errors += not ok

    threads = [threading.Thread(target=sender_loop, args=(n,)) for n in range(CONCURRENT_SENDERS)]
    load_started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "turns_per_s_20": len(seconds_each) / (time.monotonic() - load_started),
        "errors_20": errors,
        "p95_under_load_ms": 1000 * percentile(seconds_each, 0.95),
    }


def start(name: str, model: str, workdir: Path, knowledge_url: str, stack: ExitStack):
    """Serve a model and return (server, figures of its start); warmed up with one conversation."""
    print(f"[{name}] starting...", flush=True)
    started_at = time.monotonic()
    # No per-sender rate limit: the benchmark's senders send far more than a patient would.
    served = stack.enter_context(
        serve_assistant(workdir / name, knowledge_url, model=model, extra_env={"RATE_LIMIT_PER_MINUTE": "0"})
    )
    answered = timed_turn(served.url, "warm-up", "hello")[1]
    start_to_first_turn = time.monotonic() - started_at if answered else float("nan")
    for text in CONVERSATION:
        timed_turn(served.url, "warm-up", text)
    return served, {"start_to_first_turn_s": start_to_first_turn}


ROWS = [
    ("clean training (s)", "train_s", "{:.0f}"),
    ("model size (MB)", "model_mb", "{:.1f}"),
    ("start to first answered turn (s)", "start_to_first_turn_s", "{:.1f}"),
    ("turn p50, one sender (ms)", "turn_p50_ms", "{:.1f}"),
    ("turn p95, one sender (ms)", "turn_p95_ms", "{:.1f}"),
    ("turn p99, one sender (ms)", "turn_p99_ms", "{:.1f}"),
    ("NLU-only parse p50, the floor (ms)", "parse_p50_ms", "{:.1f}"),
    ("turns/s, 20 senders, 30 s", "turns_per_s_20", "{:.1f}"),
    ("errors, 20 senders", "errors_20", "{:.0f}"),
    ("turn p95 under load (ms)", "p95_under_load_ms", "{:.1f}"),
    ("Rasa server RSS after the load (MB)", "rasa_rss_mb", "{:.0f}"),
    ("action server RSS after the load (MB)", "actions_rss_mb", "{:.0f}"),
]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as directory, ExitStack() as stack:
        workdir = Path(directory)
        knowledge_url = f"sqlite:///{workdir / 'assistant.db'}"
        load_knowledge(create_engine(knowledge_url))
        # The reference's model is kept between runs: its clean training takes about
        # 20 minutes on two cores and only changes with the training inputs.
        REFERENCE_MODELS.mkdir(parents=True, exist_ok=True)
        default_config = REFERENCE_MODELS / "default_config.yml"
        default_config.write_text(DEFAULT_CONFIG)
        print("[assistant] clean training...", flush=True)
        ours_train_s, ours_model = train(PROJECT_ROOT / "config.yml", workdir / "models", "assistant")
        print("[reference] clean training, unless its inputs are unchanged...", flush=True)
        reference_train_s, reference_model = train(default_config, REFERENCE_MODELS, "reference", force=False)
        figures = {
            "assistant": {"train_s": ours_train_s, "model_mb": Path(ours_model).stat().st_size / 2**20},
            "reference": {"train_s": reference_train_s, "model_mb": Path(reference_model).stat().st_size / 2**20},
        }
        servers = {}
        for name, model in (("assistant", ours_model), ("reference", reference_model)):
            (workdir / name).mkdir()
            servers[name], started = start(name, model, workdir, knowledge_url, stack)
            figures[name].update(started)
        print("[both] one sender, alternating...", flush=True)
        for name, measured in one_sender(servers).items():
            figures[name].update(measured)
        for name, served in servers.items():
            print(f"[{name}] {CONCURRENT_SENDERS} senders...", flush=True)
            figures[name].update(under_load(served))
            figures[name]["rasa_rss_mb"] = resident_mb(served.processes["rasa"])
            figures[name]["actions_rss_mb"] = resident_mb(served.processes["actions"])
    ours, reference = figures["assistant"], figures["reference"]

    print(f"\n{'':38} {'assistant':>10} {'reference':>10} {'ratio':>7}")
    for label, key, form in ROWS:
        ratio = ours[key] / reference[key] if reference[key] else float("nan")
        print(f"{label:38} {form.format(ours[key]):>10} {form.format(reference[key]):>10} {ratio:>7.2f}")
    print(f"\nturn p50 / NLU floor: {ours['turn_p50_ms'] / ours['parse_p50_ms']:.2f}; "
          f"turn p95 / NLU floor: {ours['turn_p95_ms'] / ours['parse_p50_ms']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
