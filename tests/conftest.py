"""Shared fixtures: throwaway databases and the assistant's two servers on free ports."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from assistant.knowledge.load import load_knowledge
from assistant.settings import PROJECT_ROOT
from scripts.servers import Assistant, free_port, serve_assistant

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: no browser download
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

REPORTS: list[str] = []


def pytest_terminal_summary(terminalreporter):
    """Figures the tests measured (accuracy per topic, ...), printed after the run."""
    for report in REPORTS:
        terminalreporter.write_line(report)


@pytest.fixture(scope="session")
def report():
    return REPORTS.append


@pytest.fixture(scope="session")
def knowledge_db_url(tmp_path_factory) -> str:
    """A freshly loaded SQLite knowledge base for this test run."""
    url = f"sqlite:///{tmp_path_factory.mktemp('kb') / 'assistant.db'}"
    load_knowledge(create_engine(url))
    return url


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, knowledge_db_url) -> Assistant:
    """The whole assistant: action server and Rasa server, with their own stores."""
    with serve_assistant(tmp_path_factory.mktemp("servers"), knowledge_db_url) as served:
        yield served


@pytest.fixture(scope="session")
def assistant_without_actions(tmp_path_factory, knowledge_db_url) -> Assistant:
    """The Rasa server alone: its action server is not running."""
    with serve_assistant(tmp_path_factory.mktemp("no-actions"), knowledge_db_url, with_actions=False) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    """Chromium driven by Playwright, for the widget and console tests."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make chromium` installs Debian's package.")
    (PROJECT_ROOT / "test-output" / "screenshots").mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A throwaway PostgreSQL server (Debian's package, installed by `make test`), on a free port."""

    def __init__(self):
        binaries = postgres_binaries()
        if binaries is None:
            pytest.fail("PostgreSQL server binaries not found: `make postgresql` installs them.")
        self.binaries = binaries
        # Outside pytest's private temp folder, which the server's own user cannot enter.
        self.datadir = Path(tempfile.mkdtemp(prefix="assistant-postgres-"))
        # PostgreSQL refuses to run as root: run it as the package's own user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.datadir, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        self.pg_ctl("initdb", "-o", "-U postgres --auth=trust")

    def pg_ctl(self, *arguments: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.binaries / "pg_ctl"), "-D", str(self.datadir / "data"), *arguments],
            check=True, capture_output=True,
        )

    def start(self) -> None:
        self.pg_ctl(
            "-w", "-l", str(self.datadir / "server.log"),
            "-o", f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1", "start",
        )

    def stop(self) -> None:
        self.pg_ctl("-w", "-m", "fast", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL server for the whole run."""
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_server() -> PostgresServer:
    """A PostgreSQL server of its own, running, that the test may stop and start again."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A throwaway Redis server (Debian's package, installed by `make test`)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server not found: `make redis` installs it.")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):  # up to 10 s
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("redis-server did not start within 10 s.")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=20)
