"""Where the assistant's configuration comes from.

Contact details live in ``clinic.yml`` (or the file named by ASSISTANT_CLINIC_FILE);
the database is any SQLAlchemy URL in ASSISTANT_DATABASE_URL, a SQLite file by default.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = PROJECT_ROOT / "data" / "knowledge"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'assistant.db'}"
# The five patient leaflets, read where they are kept (the shared folder beside the
# checkout) and never copied into the project: a leaflet changed there is noticed by the
# next load. LEAFLETS_DIR names another folder.
DEFAULT_LEAFLETS_DIR = PROJECT_ROOT.parent / "shared" / "sources"


def leaflets_dir() -> Path:
    return Path(os.environ.get("LEAFLETS_DIR") or DEFAULT_LEAFLETS_DIR)


@dataclass(frozen=True)
class Contacts:
    clinic_name: str
    nurse_phone: str
    emergency_number: str

    def as_placeholders(self) -> dict[str, str]:
        return {
            "clinic_name": self.clinic_name,
            "nurse_phone": self.nurse_phone,
            "emergency_number": self.emergency_number,
        }


CONTACT_FIELDS = tuple(Contacts.__dataclass_fields__)


def clinic_file() -> Path:
    return Path(os.environ.get("ASSISTANT_CLINIC_FILE", PROJECT_ROOT / "clinic.yml"))


@lru_cache(maxsize=None)
def load_contacts(path: Path | None = None) -> Contacts:
    path = path or clinic_file()
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    missing = [field for field in CONTACT_FIELDS if not str(raw.get(field, "")).strip()]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return Contacts(**{field: str(raw[field]).strip() for field in CONTACT_FIELDS})


def database_url() -> str:
    return os.environ.get("ASSISTANT_DATABASE_URL", DEFAULT_DATABASE_URL)


def rate_limit_per_minute() -> str | None:
    """RATE_LIMIT_PER_MINUTE as given (parsed by assistant.rate_limit)."""
    return os.environ.get("RATE_LIMIT_PER_MINUTE")


def redis_url() -> str | None:
    """REDIS_URL: where replicas share state (the rate-limit counters); unset means in process."""
    return os.environ.get("REDIS_URL") or None


DEFAULT_REQUEST_MAX_BYTES = 100_000  # a question is a few hundred bytes; 1 MB bodies are refused


def request_max_bytes() -> int:
    """The largest request body the Rasa server reads (SANIC_REQUEST_MAX_SIZE, Sanic's own setting)."""
    value = os.environ.get("SANIC_REQUEST_MAX_SIZE") or str(DEFAULT_REQUEST_MAX_BYTES)
    if not value.strip().isdigit():
        raise ValueError(f"SANIC_REQUEST_MAX_SIZE must be a number of bytes, not {value!r}")
    return int(value)


def asyncio_debug_requested() -> bool:
    """Python's asyncio debug mode, asked for as Python documents it (PYTHONASYNCIODEBUG or -X dev)."""
    return bool(os.environ.get("PYTHONASYNCIODEBUG")) or sys.flags.dev_mode


# A turn's time bounds in seconds: a reported warning sign gets its advice within the
# first, any other message its reply (or the apology) within the second, whatever hangs.
DEFAULT_TURN_DEADLINES = (1.5, 4.5)


def turn_deadlines() -> tuple[float, float]:
    """TURN_ADVICE_DEADLINE and TURN_REPLY_DEADLINE (seconds), checked."""
    values = []
    for name, default in zip(("TURN_ADVICE_DEADLINE", "TURN_REPLY_DEADLINE"), DEFAULT_TURN_DEADLINES):
        raw = os.environ.get(name) or str(default)
        try:
            values.append(float(raw))
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    advice, reply = values
    if not 0 < advice <= reply:
        raise ValueError("TURN_ADVICE_DEADLINE must be positive and at most TURN_REPLY_DEADLINE")
    return advice, reply


@dataclass(frozen=True)
class TimeBounds:
    """How long, in seconds, the Rasa server and the action server wait on what they depend on.

    Chosen so that a hanging dependency costs a turn less than TURN_REPLY_DEADLINE, while a
    healthy one stays far under them (tests/test_tarpit.py: the advice arrives in 1.5-1.7 s
    and the apology in 4.5-4.7 s, whichever dependency hangs)."""

    database_connect: float  # connecting, and SQLite's wait on a locked file; libpq's floor is 2 s
    database_statement: float  # one PostgreSQL statement, on the server
    redis: float  # connecting to Redis and each reply
    action_server: float  # one call to the action server, answer included
    pre_turn_check: float  # the database or Redis look-up made before a turn (rate limit, SMS opt-out)


TIME_BOUND_DEFAULTS = {
    "DATABASE_CONNECT_TIMEOUT": 2.0,
    "DATABASE_STATEMENT_TIMEOUT": 3.0,
    "REDIS_TIMEOUT": 0.5,
    # Under the reply deadline, so a hanging action server frees the conversation's lock
    # about when the patient gets the apology, not after Rasa's 300 s.
    "ACTION_SERVER_TIMEOUT": 4.0,
    # Part of the 1.5 s in which a red flag gets its advice.
    "PRE_TURN_CHECK_TIMEOUT": 0.3,
}


def seconds_setting(name: str, default: float) -> float:
    raw = os.environ.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def time_bounds() -> TimeBounds:
    """The time bounds from the environment (names and defaults in TIME_BOUND_DEFAULTS), checked."""
    values = [seconds_setting(name, default) for name, default in TIME_BOUND_DEFAULTS.items()]
    return TimeBounds(*values)
