"""A database that stops answering (accepts, then stays silent) while nurses use the console.

The nurse handlers' database calls run off the Rasa server's event loop with a time bound:
each gets a 503 within NURSE_DB_TIMEOUT_SECONDS, the server keeps answering meanwhile, and
the console works again as soon as the database answers again.
"""
from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine

from assistant.knowledge.load import load_knowledge
from scripts.servers import free_port, serve_assistant
from tests.helpers import NurseApi

TIME_BOUND_S = 2


class StallingProxy:
    """A loopback TCP relay to PostgreSQL that can be told to stop relaying (a hanging database)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.flowing = threading.Event()
        self.flowing.set()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    def pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.flowing.wait()  # stalled: bytes are held, nothing is answered
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.flowing.set()
        self.listener.close()


@pytest.fixture(scope="module")
def stalling(tmp_path_factory, postgres_url):
    load_knowledge(create_engine(postgres_url))
    proxy = StallingProxy(int(postgres_url.rsplit(":", 1)[1].split("/")[0]))
    url = postgres_url.replace(f":{proxy.target_port}/", f":{proxy.port}/")
    with serve_assistant(tmp_path_factory.mktemp("stalling"), url,
                         extra_env={"NURSE_DB_TIMEOUT_SECONDS": str(TIME_BOUND_S)}) as served:
        yield served, proxy
    proxy.close()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_hanging_database_gets_a_bounded_503_and_never_stalls_the_server(stalling):
    assistant, proxy = stalling
    api = NurseApi(assistant, assistant.nurse_token)
    assert api.get("/escalations").status_code == 200

    proxy.flowing.clear()
    try:
        calls = [lambda: api.get("/escalations"), lambda: api.get("/escalations/1"),
                 lambda: api.post("/assess", {"text": "she has a fever"}), lambda: api.get("/audit"),
                 lambda: api.post("/escalations/1/claim"), lambda: api.get("/session")]
        with ThreadPoolExecutor(len(calls)) as pool:
            waiting = [pool.submit(timed, call) for call in calls]
            time.sleep(0.5)  # every nurse call is now waiting on the database
            health, took = timed(lambda: requests.get(assistant.url, timeout=10))
            assert health.status_code == 200 and took < 1.0, took
            for future in waiting:
                response, took = future.result()
                assert response.status_code == 503, response.text
                assert response.json() == {"error": "The database is unavailable; try again shortly."}
                assert took < TIME_BOUND_S + 2, took
    finally:
        proxy.flowing.set()

    deadline = time.monotonic() + 30
    while api.get("/escalations").status_code != 200:
        assert time.monotonic() < deadline, "the console did not recover when the database answered again"
        time.sleep(0.5)
