"""Production profile: the action server, several Rasa replicas and nginx in front.

The replicas share the tracker store, knowledge base and escalations in PostgreSQL and
a Redis lock store, so any replica can serve any turn of any conversation. Everything
is configured through environment variables (deploy/production.env.sample):

    python -m scripts.production --env-file deploy/production.env    # `make run-prod`

Each replica is started as `python -m scripts.production --replica PORT`, which reads
the API token from the environment, so no secret shows on a command line.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from assistant.knowledge.load import KnowledgeError, load_knowledge
from assistant.settings import PROJECT_ROOT
from scripts.servers import VENV_BIN, latest_model, start, wait_until

ENDPOINTS = PROJECT_ROOT / "deploy" / "endpoints.prod.yml"
NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx.conf.template"
# Read by credentials.yml: unset, Rasa would refuse to start; empty, the channel refuses everyone.
CHANNEL_SETTINGS = ("WIDGET_ORIGINS", "TWILIO_AUTH_TOKEN", "SMS_PUBLIC_URL", "REST_API_TOKEN")
START_TIMEOUT = 600  # s: a replica loads its model in about a minute on a busy machine


class ConfigError(ValueError):
    """The environment does not describe a safe production setup (the message says what to set)."""


@dataclass(frozen=True)
class ProductionConfig:
    api_token: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    jwt_method: str
    cors_origins: tuple[str, ...]
    replica_ports: tuple[int, ...]
    action_port: int
    nginx_listen: str
    knowledge_db_url: str = field(repr=False)  # may hold a password
    redis_url: str = field(repr=False)
    run_dir: Path
    model: str

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.replica_ports]


def _ports(value: str, name: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated port numbers.") from None
    if not ports or any(not 0 < port < 65536 for port in ports) or len(set(ports)) != len(ports):
        raise ConfigError(f"{name} must list distinct port numbers between 1 and 65535.")
    return ports


def load_config(env: dict[str, str]) -> ProductionConfig:
    """Check the environment and gather the settings; names what is missing, never a value."""
    api_token, jwt_secret = env.get("RASA_API_TOKEN", ""), env.get("RASA_JWT_SECRET", "")
    if not api_token and not jwt_secret:
        raise ConfigError(
            "Refusing to serve Rasa's HTTP API without authentication: set RASA_API_TOKEN "
            "(or RASA_JWT_SECRET) in the environment or the env file."
        )
    required = ("POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "REDIS_URL", "REST_API_TOKEN")
    missing = [name for name in required if not env.get(name)]
    if missing:
        raise ConfigError(f"Missing settings: {', '.join(missing)} (see deploy/production.env.sample).")
    cors_origins = tuple(origin.strip() for origin in env.get("CORS_ORIGINS", "").split(",") if origin.strip())
    if "*" in cors_origins:
        raise ConfigError("CORS_ORIGINS must list the allowed origins (https://...), not '*'.")
    if urlsplit(env["REDIS_URL"]).scheme not in ("redis", "rediss"):
        raise ConfigError("REDIS_URL must look like redis://[:password@]host:port/db.")
    user, password = quote(env["POSTGRES_USER"], safe=""), quote(env.get("POSTGRES_PASSWORD", ""), safe="")
    knowledge_db_url = env.get("ASSISTANT_DATABASE_URL") or (
        f"postgresql+psycopg2://{user}:{password}"
        f"@{env['POSTGRES_HOST']}:{env.get('POSTGRES_PORT') or 5432}/{env['POSTGRES_DB']}"
    )
    return ProductionConfig(
        api_token=api_token,
        jwt_secret=jwt_secret,
        jwt_method=env.get("RASA_JWT_METHOD") or "HS256",
        cors_origins=cors_origins,
        replica_ports=_ports(env.get("REPLICA_PORTS") or "5005,5006", "REPLICA_PORTS"),
        action_port=_ports(env.get("ACTION_PORT") or "5055", "ACTION_PORT")[0],
        nginx_listen=env.get("NGINX_LISTEN") or "127.0.0.1:8000",
        knowledge_db_url=knowledge_db_url,
        redis_url=env["REDIS_URL"],
        run_dir=PROJECT_ROOT / (env.get("PROD_RUN_DIR") or "var/prod"),  # relative: to the project
        model=env.get("RASA_MODEL") or latest_model(),
    )


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments are skipped, surrounding quotes removed."""
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def service_environment(config: ProductionConfig, env: dict[str, str]) -> dict[str, str]:
    """The environment of every process: what endpoints.prod.yml and credentials.yml read."""
    redis = urlsplit(config.redis_url)
    return {
        **{name: "" for name in CHANNEL_SETTINGS},
        **env,
        "PYTHONPATH": str(PROJECT_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "POSTGRES_PORT": env.get("POSTGRES_PORT") or "5432",
        "POSTGRES_PASSWORD": env.get("POSTGRES_PASSWORD", ""),
        "ASSISTANT_DATABASE_URL": config.knowledge_db_url,
        "ACTION_SERVER_URL": f"http://127.0.0.1:{config.action_port}/webhook",
        "REDIS_HOST": redis.hostname or "localhost",
        "REDIS_PORT": str(redis.port or 6379),
        "REDIS_DB": redis.path.strip("/") or "0",
        "REDIS_PASSWORD": redis.password or "",
    }


def replica_arguments(config: ProductionConfig, port: int) -> list[str]:
    """`rasa run` for one replica: API behind the token or JWT, CORS for the configured origins."""
    arguments = [
        "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
        "--model", config.model, "--endpoints", str(ENDPOINTS),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
    ]
    if config.api_token:
        arguments += ["--auth-token", config.api_token]
    if config.jwt_secret:
        arguments += ["--jwt-secret", config.jwt_secret, "--jwt-method", config.jwt_method]
    if config.cors_origins:
        arguments += ["--cors", *config.cors_origins]
    return arguments


def nginx_conf(config: ProductionConfig) -> str:
    values = {
        # As root, the workers drop to Debian's web-server user.
        "user": "user www-data;" if os.geteuid() == 0 else "",
        "workdir": str(config.run_dir),
        "listen": config.nginx_listen,
        "replicas": "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in config.replica_ports
        ),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda match: values[match.group(1)], NGINX_TEMPLATE.read_text())


class ProductionStack:
    """The action server, the Rasa replicas and nginx, each logging into config.run_dir."""

    def __init__(self, config: ProductionConfig, env: dict[str, str]) -> None:
        self.config = config
        self.env = service_environment(config, env)
        self.processes: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> Path:
        return self.config.run_dir / f"{name}.log"

    def start_replica(self, port: int) -> None:
        name = f"replica-{port}"
        self.processes[name] = start(
            [sys.executable, "-m", "scripts.production", "--replica", str(port)], self.log(name), self.env
        )

    def start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise ConfigError("nginx not found: `make production-services` installs Debian's package.")
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        # nginx's workers (www-data) write their temporary files below it.
        self.config.run_dir.chmod(0o755)
        self.processes["actions"] = start(
            [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(self.config.action_port), "--actions", "actions"],
            self.log("actions"), self.env,
        )
        for port in self.config.replica_ports:
            self.start_replica(port)
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{self.config.action_port}/health", timeout=2).ok,
            START_TIMEOUT, "action server", self.processes["actions"], self.log("actions"),
        )
        for port, url in zip(self.config.replica_ports, self.config.replica_urls):
            self.wait_for_replica(port, url)
        conf = self.config.run_dir / "nginx.conf"
        conf.write_text(nginx_conf(self.config))
        self.processes["nginx"] = start([nginx, "-c", str(conf), "-g", "daemon off;"], self.log("nginx"), self.env)
        wait_until(
            lambda: requests.get(self.public_url, timeout=2).ok,
            30, "nginx", self.processes["nginx"], self.log("nginx"),
        )

    def wait_for_replica(self, port: int, url: str) -> None:
        # Rasa answers on / only once its model is loaded.
        name = f"replica-{port}"
        wait_until(lambda: requests.get(url, timeout=2).ok, START_TIMEOUT, name, self.processes[name], self.log(name))

    @property
    def public_url(self) -> str:
        host_port = self.config.nginx_listen.split()[0]
        return f"http://{host_port}" if ":" in host_port else f"http://127.0.0.1:{host_port}"

    def stop(self) -> None:
        """nginx first, so no request reaches a replica that is shutting down."""
        for name in ["nginx", *(name for name in self.processes if name != "nginx")]:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def run_replica(port: int) -> None:
    """One `rasa run`, its secrets read from the environment (the launcher checked them)."""
    import rasa.__main__

    config = load_config(dict(os.environ))
    sys.argv = ["rasa", *replica_arguments(config, port)]
    rasa.__main__.main()


def start_services(config: ProductionConfig, env: dict[str, str]) -> ProductionStack:
    """Load the knowledge base into its database, then start every process."""
    engine = create_engine(config.knowledge_db_url)
    try:
        load_knowledge(engine)
    finally:
        engine.dispose()
    stack = ProductionStack(config, env)
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


def serve(env: dict[str, str]) -> int:
    config = load_config(env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Starting the action server, {len(config.replica_ports)} Rasa replicas and nginx "
          f"(logs in {config.run_dir}) ...", flush=True)
    try:
        stack = start_services(config, env)
    except KeyboardInterrupt:
        return 130
    try:
        print(f"\n  The assistant is up behind nginx at {stack.public_url}  (Ctrl-C stops every process)\n", flush=True)
        # nginx routes around a replica that dies; the others keep serving.
        replicas = {f"replica-{port}" for port in config.replica_ports}
        exited: set[str] = set()
        while True:
            for name, process in stack.processes.items():
                if process.poll() is not None and name not in exited:
                    exited.add(name)
                    print(f"{name} exited with code {process.returncode}: see {stack.log(name)}", flush=True)
            if "nginx" in exited or replicas <= exited:
                return 1
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, help="KEY=VALUE settings; they override the environment")
    parser.add_argument("--replica", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.replica:
            run_replica(args.replica)
            return 0
        env = dict(os.environ)
        if args.env_file:
            if not args.env_file.exists():
                raise ConfigError(
                    f"{args.env_file} not found: copy deploy/production.env.sample to it and fill it in."
                )
            env.update(read_env_file(args.env_file))
        return serve(env)
    except (ConfigError, KnowledgeError) as error:
        print(f"Not starting: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"Not starting: the database did not answer ({error.orig}).", file=sys.stderr)
        return 2
    except RuntimeError as error:  # a process that exited or did not come up; its log's end follows
        print(f"Not starting: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
