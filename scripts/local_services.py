"""Throwaway PostgreSQL and Redis servers on loopback (Debian's packages), and a tarpit
to put in front of any dependency, for the tests."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import redis

from scripts.servers import free_port, start, wait_until


def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class LocalPostgres:
    """A PostgreSQL server in a temporary folder; stop() and start() again keep its data."""

    def __init__(self) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL server binaries not found: `make postgresql` installs them.")
        self.binaries = binaries
        # Outside pytest's private temp folder, which the server's own user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="assistant-postgres-"))
        # PostgreSQL refuses to run as root: run it as the package's own user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self.datadir = self.folder / "data"
        subprocess.run(
            [*self.as_user, str(binaries / "initdb"), "-D", str(self.datadir), "-U", "postgres",
             "--auth=trust"],
            check=True, capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.binaries / "pg_ctl"), "-D", str(self.datadir), "-w", "-l",
             str(self.folder / "server.log"), "-o",
             f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200",
             "start"],
            check=True, capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.binaries / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"],
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class LocalRedis:
    """A Redis server without persistence: it holds only locks and counters."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise RuntimeError("redis-server not found: `make production-services` installs it.")
        log = self.folder / "redis.log"
        self.process = start(
            [redis_server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            log, dict(os.environ),
        )
        client = redis.Redis(port=self.port, socket_timeout=2)
        wait_until(client.ping, 30, "Redis", self.process, log, not_yet=(redis.ConnectionError,))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


class Tarpit:
    """A loopback TCP port in front of a dependency: it either forwards every connection to
    the real service, or, hanging, accepts connections and never answers, which is what a
    database behind a failed-over address, a dropped firewall rule or a stuck process looks
    like to a client (a stopped server, by contrast, refuses at once).

    Switching cuts the connections of the other mode, as a failover does: clients holding
    pooled connections find them closed and connect again, into the new mode."""

    def __init__(self, service_port: int | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.listener.getsockname()[1]
        self.service_port = service_port  # None: hanging
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            with self.lock:
                service_port = self.service_port
                self.connections.append(client)
            if service_port is not None:
                threading.Thread(target=self.forward, args=(client, service_port), daemon=True).start()

    def forward(self, client: socket.socket, service_port: int) -> None:
        try:
            service = socket.create_connection(("127.0.0.1", service_port), timeout=5)
        except OSError:
            client.close()
            return
        service.settimeout(None)
        with self.lock:
            self.connections.append(service)
        threading.Thread(target=pump, args=(service, client), daemon=True).start()
        pump(client, service)

    def cut(self) -> None:
        with self.lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def hang(self) -> None:
        with self.lock:
            self.service_port = None
        self.cut()

    def serve(self, service_port: int) -> None:
        with self.lock:
            self.service_port = service_port
        self.cut()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def pump(source: socket.socket, destination: socket.socket) -> None:
    """Copy bytes one way until either side closes."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            destination.sendall(data)
    for side in (source, destination):
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)
