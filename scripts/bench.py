"""make bench: speed and cost of the assistant beside two references.

The references: Rasa's default configuration trained on this assistant's data and
domain, and the assistant `rasa init` creates (its own data, domain and default
configuration). Prints one stable table, then issue #14's targets against the
`rasa init` assistant. The assistant is trained clean; a reference is trained clean
when its data, domain or configuration changed, and otherwise kept with the time of
that training. All three are served at once, with the same action server code,
conversation store (SQLite), channels and Rasa server add-ons. One sender's turns
and the NLU-only parses alternate between them, so that the machine's other load
weighs on each alike; the 20 concurrent senders (Locust, scripts/locustfile.py)
load one server at a time, and Locust's CSV and HTML reports are kept in
reports/bench/. Figures only: nothing here passes or fails.
"""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
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
RASA_INIT_PROJECT = PROJECT_ROOT / "build" / "bench" / "rasa-init"
LOCUST_REPORTS = PROJECT_ROOT / "reports" / "bench"
LOAD_SECONDS = 30


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


@dataclass(frozen=True)
class TrainingInputs:
    config: Path
    domain: Path
    data: tuple[Path, ...]

    def fingerprint(self) -> str:
        """A hash of everything a training reads: the config, the domain and the data files."""
        digest = hashlib.sha256()
        for path in (self.config, self.domain, *self.data):
            for file in sorted(path.rglob("*.yml")) if path.is_dir() else [path]:
                digest.update(file.read_bytes())
        return digest.hexdigest()


ASSISTANT_DATA = tuple(PROJECT_ROOT / name for name in ("data/nlu", "data/rules.yml", "data/stories.yml"))


def train(inputs: TrainingInputs, out: Path, name: str, force: bool = True) -> tuple[float, str]:
    """Train from scratch and return (seconds, model path). Without ``force``, a model in
    ``out`` trained from the same inputs is kept, with the seconds of its training."""
    model = out / f"{name}.tar.gz"
    seconds_file, fingerprint_file = out / f"{name}.train_seconds", out / f"{name}.fingerprint"
    fingerprint = inputs.fingerprint()
    if not force and model.exists() and seconds_file.exists() and fingerprint_file.exists() \
            and fingerprint_file.read_text() == fingerprint:
        return float(seconds_file.read_text()), str(model)
    started = time.monotonic()
    # --force: every component trained anew, none taken from Rasa's training cache.
    subprocess.run(
        [str(VENV_BIN / "rasa"), "train", "--force", "--config", str(inputs.config), "--domain", str(inputs.domain),
         "--data", *map(str, inputs.data), "--out", str(out), "--fixed-model-name", name],
        cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    seconds = time.monotonic() - started
    seconds_file.write_text(f"{seconds:.1f}")
    fingerprint_file.write_text(fingerprint)
    return seconds, str(model)


def rasa_init_project() -> TrainingInputs:
    """The project `rasa init --no-prompt` creates, made by the function it calls, without
    the training it then starts: the bench trains it, timed, as it trains the others.
    Made anew each run: training writes an assistant id and the defaults it chose into
    config.yml, which would change the fingerprint."""
    shutil.rmtree(RASA_INIT_PROJECT, ignore_errors=True)
    subprocess.run(
        [str(VENV_BIN / "python"), "-c", "import sys; from rasa.cli.scaffold import create_initial_project; "
         "create_initial_project(sys.argv[1])", str(RASA_INIT_PROJECT)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return TrainingInputs(RASA_INIT_PROJECT / "config.yml", RASA_INIT_PROJECT / "domain.yml",
                          (RASA_INIT_PROJECT / "data",))


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


def under_load(name: str, served) -> dict:
    """CONCURRENT_SENDERS Locust users, each sending its next message as soon as it is answered."""
    LOCUST_REPORTS.mkdir(parents=True, exist_ok=True)
    prefix = LOCUST_REPORTS / name
    with open(f"{prefix}.log", "w") as log:  # Locust's summary and any error, beside its reports
        subprocess.run(
            [str(VENV_BIN / "locust"), "--locustfile", str(PROJECT_ROOT / "scripts" / "locustfile.py"), "--headless",
             "--host", served.url, "--users", str(CONCURRENT_SENDERS), "--spawn-rate", str(CONCURRENT_SENDERS),
             "--run-time", f"{LOAD_SECONDS}s", "--stop-timeout", "30", "--only-summary",
             "--csv", str(prefix), "--html", f"{prefix}.html"],
            cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            check=False,  # Locust exits 1 when a request failed: the failures are counted below.
        )
    with open(f"{prefix}_stats.csv", newline="") as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    return {
        "turns_per_s_20": float(total["Requests/s"]),
        "errors_20": int(total["Failure Count"]),
        "p95_under_load_ms": float(total["95%"]),
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


# Issue #14's targets for the assistant: (label, value from the figures, bound, at most?).
TARGETS = [
    ("turn p50 / rasa init's", lambda ours, init: ours["turn_p50_ms"] / init["turn_p50_ms"], 0.4, True),
    ("turns/s, 20 senders / rasa init's", lambda ours, init: ours["turns_per_s_20"] / init["turns_per_s_20"], 2.0,
     False),
    ("errors, 20 senders", lambda ours, init: ours["errors_20"], 0, True),
    ("turn p50 / NLU-only floor", lambda ours, init: ours["turn_p50_ms"] / ours["parse_p50_ms"], 1.6, True),
    ("Rasa server RSS (MB)", lambda ours, init: ours["rasa_rss_mb"], 700, True),
]
SERVED = {"assistant": "assistant", "default": "Rasa default", "init": "rasa init"}


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    # BENCH_REFERENCES=init leaves out the Rasa-default reference, whose first clean
    # training takes over an hour on two busy cores; the targets need only `rasa init`.
    with_default = "default" in os.environ.get("BENCH_REFERENCES", "default,init").split(",")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as directory, ExitStack() as stack:
        workdir = Path(directory)
        knowledge_url = f"sqlite:///{workdir / 'assistant.db'}"
        load_knowledge(create_engine(knowledge_url))
        # The references' models are kept between runs: the default configuration's clean
        # training takes about 20 minutes on two cores and only changes with the inputs.
        REFERENCE_MODELS.mkdir(parents=True, exist_ok=True)
        default_config = REFERENCE_MODELS / "default_config.yml"
        default_config.write_text(DEFAULT_CONFIG)
        print("[assistant] clean training...", flush=True)
        trained = {"assistant": train(TrainingInputs(PROJECT_ROOT / "config.yml", PROJECT_ROOT / "domain.yml",
                                                     ASSISTANT_DATA), workdir / "models", "assistant")}
        if with_default:
            print("[default] clean training, unless its inputs are unchanged...", flush=True)
            trained["default"] = train(TrainingInputs(default_config, PROJECT_ROOT / "domain.yml", ASSISTANT_DATA),
                                       REFERENCE_MODELS, "reference", force=False)
        print("[init] clean training, unless its inputs are unchanged...", flush=True)
        trained["init"] = train(rasa_init_project(), REFERENCE_MODELS, "rasa-init", force=False)
        figures = {
            name: {"train_s": seconds, "model_mb": Path(model).stat().st_size / 2**20}
            for name, (seconds, model) in trained.items()
        }
        servers = {}
        for name, (_, model) in trained.items():
            (workdir / name).mkdir()
            servers[name], started = start(name, model, workdir, knowledge_url, stack)
            figures[name].update(started)
        print("[all] one sender, alternating...", flush=True)
        for name, measured in one_sender(servers).items():
            figures[name].update(measured)
        for name, served in servers.items():
            print(f"[{name}] {CONCURRENT_SENDERS} senders (Locust)...", flush=True)
            figures[name].update(under_load(name, served))
            figures[name]["rasa_rss_mb"] = resident_mb(served.processes["rasa"])
            figures[name]["actions_rss_mb"] = resident_mb(served.processes["actions"])
    served = {name: label for name, label in SERVED.items() if name in figures}
    ours, default, init = figures["assistant"], figures.get("default"), figures["init"]

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    heads = " ".join(f"{label:>10}" for label in served.values())
    print(f"\n{'':38} {heads}" + (f" {'/dflt':>7}" if default else "") + f" {'/init':>7}")
    for label, key, form in ROWS:
        values = " ".join(f"{form.format(figures[name][key]):>10}" for name in served)
        to_default = f" {ratio(ours[key], default[key]):>7.2f}" if default else ""
        print(f"{label:38} {values}{to_default} {ratio(ours[key], init[key]):>7.2f}")
    print(f"\n{'issue #14 target':38} {'measured':>10} {'target':>10} {'met':>5}")
    for label, measure, bound, at_most in TARGETS:
        value = measure(ours, init)
        met = value <= bound if at_most else value >= bound
        print(f"{label:38} {value:>10.2f} {('<= ' if at_most else '>= ') + str(bound):>10} {'yes' if met else 'NO':>5}")
    print(f"\nmachine load average (1, 5, 15 min): {load_before} at the start, {load_average()} at the end; "
          f"Locust reports: {LOCUST_REPORTS.relative_to(PROJECT_ROOT)}/")


if __name__ == "__main__":
    sys.exit(main())
