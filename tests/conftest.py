"""Shared fixtures: throwaway databases and the assistant's two servers on free ports."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from assistant.knowledge.load import load_knowledge
from assistant.settings import PROJECT_ROOT
from scripts.local_services import LocalPostgres, LocalRedis
from scripts.servers import Assistant, serve_assistant

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


def local_server(factory):
    """Build a throwaway server, or fail the test with the reason it cannot."""
    try:
        return factory()
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A throwaway PostgreSQL server for the whole run (Debian's package, installed by `make test`)."""
    server = local_server(LocalPostgres)
    server.start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_server() -> LocalPostgres:
    """A PostgreSQL server of its own, running, that the test may stop and start again."""
    server = local_server(LocalPostgres)
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A throwaway Redis server (Debian's package, installed by `make test`)."""
    server = LocalRedis(tmp_path_factory.mktemp("redis"))
    local_server(server.start)
    try:
        yield server.url
    finally:
        server.stop()
