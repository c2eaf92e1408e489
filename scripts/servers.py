"""The assistant's servers on free local ports, for the tests and the benchmark."""
from __future__ import annotations

import glob
import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from assistant.accounts import add_nurse
from assistant.db import engine_for
from assistant.settings import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    check, timeout: float, what: str, process: subprocess.Popen, log: Path,
    not_yet: tuple[type[Exception], ...] = (requests.RequestException,),
) -> None:
    """Wait for check() to be true; the errors in not_yet mean the server is still starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except not_yet:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not start within {timeout} s:\n{log.read_text()[-3000:]}")


@dataclass
class Assistant:
    url: str
    token: str
    action_url: str
    web_url: str  # the demo page with the chat widget (build/web)
    sms_auth_token: str  # the Twilio auth token the SMS channel checks signatures with
    nurse_name: str  # a nurse-console account in the assistant's database
    nurse_secret: str
    processes: dict
    workdir: Path  # its logs (rasa.log, actions.log) and conversation store (tracker.db)
    env: dict

    def start_actions(self) -> None:
        """Start the action server on its port (again) and wait until it answers."""
        log = self.workdir / "actions.log"
        port = self.action_url.rsplit(":", 1)[1]
        self.processes["actions"] = start(
            [str(VENV_BIN / "rasa"), "run", "actions", "--port", port, "--actions", "actions"], log, self.env
        )
        wait_until(
            lambda: requests.get(f"{self.action_url}/health", timeout=2).ok,
            120, "action server", self.processes["actions"], log,
        )

    def stop_actions(self) -> None:
        stop(self.processes.pop("actions"))

    def send(self, sender: str, message, timeout: float = 30) -> list[dict]:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()

    def parse(self, text: str) -> dict:
        response = requests.post(
            f"{self.url}/model/parse", params={"token": self.token}, json={"text": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    @property
    def nurse_token(self) -> str:
        """A new session token of the test nurse (logs in through the console's API)."""
        response = requests.post(
            f"{self.url}/webhooks/nurse/api/login",
            json={"name": self.nurse_name, "secret": self.nurse_secret}, timeout=30,
        )
        response.raise_for_status()
        return response.json()["token"]

    def is_up(self) -> bool:
        return requests.get(self.url, timeout=5).ok


def latest_model() -> str:
    models = sorted(glob.glob(str(PROJECT_ROOT / "models" / "*.tar.gz")), key=os.path.getmtime)
    if not models:
        raise RuntimeError("No trained model in models/: `make test` or `make run` trains one first.")
    return models[-1]


def start(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def serve_assistant(
    workdir: Path, knowledge_db_url: str, with_actions: bool = True, model: str | None = None,
    extra_env: dict | None = None, action_endpoint_url: str | None = None, tracker_store_url: str | None = None,
    asyncio_debug: bool = False,
):
    """Start the Rasa server (REST + API) and, unless told not to, the action server.

    The Rasa server calls the action server at ``action_endpoint_url`` if given (e.g. a proxy
    in front of it), and keeps conversations at ``tracker_store_url`` (a SQLAlchemy URL) if
    given, else in tracker.db in ``workdir``. With ``asyncio_debug``, asyncio logs in
    rasa.log every callback that holds the event loop over 100 ms ("Executing ... took"),
    for the tests to find; it slows the server, so not for measuring."""
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    token, sms_auth_token, nurse_secret = (secrets.token_hex(16) for _ in range(3))
    nurse_name = f"nurse-{secrets.token_hex(4)}"
    add_nurse(engine_for(knowledge_db_url), nurse_name, nurse_secret)
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: {action_endpoint_url or f'http://127.0.0.1:{action_port}/webhook'}\n"
        "tracker_store:\n  type: addons.tracker_store.PatientSQLTrackerStore\n"
        + (f"  url: {tracker_store_url}\n" if tracker_store_url else f"  dialect: sqlite\n  db: {workdir / 'tracker.db'}\n")
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "ASSISTANT_DATABASE_URL": knowledge_db_url,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "WIDGET_ORIGINS": f"http://127.0.0.1:{web_port}",
        "TWILIO_AUTH_TOKEN": sms_auth_token,
        "SMS_PUBLIC_URL": "",
        "REST_API_TOKEN": "",
        "PYTHONASYNCIODEBUG": "1" if asyncio_debug else "",
        **(extra_env or {}),
    }
    processes = {}
    served = Assistant(
        url=f"http://127.0.0.1:{rasa_port}",
        token=token,
        action_url=f"http://127.0.0.1:{action_port}",
        web_url=f"http://127.0.0.1:{web_port}",
        sms_auth_token=sms_auth_token,
        nurse_name=nurse_name,
        nurse_secret=nurse_secret,
        processes=processes,
        workdir=workdir,
        env=env,
    )
    try:
        processes["web"] = start(
            [sys.executable, "-m", "http.server", str(web_port), "--bind", "127.0.0.1",
             "--directory", str(PROJECT_ROOT / "build" / "web")],
            workdir / "web.log",
            env,
        )
        rasa_log = workdir / "rasa.log"
        processes["rasa"] = start(
            [
                str(VENV_BIN / "rasa"), "run", "--port", str(rasa_port), "--enable-api",
                "--auth-token", token, "--model", model or latest_model(), "--endpoints", str(endpoints),
                "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            ],
            rasa_log,
            env,
        )
        if with_actions:  # while the Rasa server loads its model
            served.start_actions()
        wait_until(
            lambda: requests.get(f"{served.url}/status", params={"token": token}, timeout=2)
            .json().get("model_file"),
            240, "Rasa server", processes["rasa"], rasa_log,
        )
        yield served
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            stop(process)
