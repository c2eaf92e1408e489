"""Nurse accounts and their sessions, in the assistant's SQL database.

Each nurse has a name and a secret; the secret is kept only as an argon2 hash. Logging in
gives a random session token, kept only as its SHA-256 (a stolen table opens nothing); a
session ends at log out or after the idle time-out (NURSE_SESSION_IDLE_MINUTES, 30 by
default). Accounts are managed from the command line:

    python -m assistant.accounts add NAME        # prints a new secret once
    python -m assistant.accounts rotate NAME     # a new secret; the nurse's sessions end
    python -m assistant.accounts disable NAME    # no more log in; the nurse's sessions end
    python -m assistant.accounts list

`add` and `rotate` take `--secret-stdin` to read the secret from standard input instead
(so it never appears on a command line or in shell history).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base, engine_for
from assistant.settings import database_url

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_SECRET_CHARS = 12
MAX_SECRET_CHARS = 256
DEFAULT_IDLE_MINUTES = 30
HASHER = PasswordHasher()  # argon2id with the library's defaults (RFC 9106 low-memory profile)
# Verified when the name is unknown, so a wrong name takes as long as a wrong secret.
DECOY_HASH = HASHER.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A name or secret that cannot be used (the message says why, never the secret)."""


class Nurse(Base):
    __tablename__ = "nurses"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(64), nullable=False, unique=True)
    secret_hash = Column(String(255), nullable=False)
    disabled = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    secret_set_at = Column(DateTime(timezone=True), nullable=False)


class NurseSession(Base):
    __tablename__ = "nurse_sessions"

    token_hash = Column(String(64), primary_key=True)  # SHA-256 of the token, hex
    nurse_id = Column(Integer, ForeignKey("nurses.id"), nullable=False, index=True)
    started_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False)
    ended_at = Column(DateTime(timezone=True))


@dataclass(frozen=True)
class Account:
    name: str
    disabled: bool
    created_at: datetime
    secret_set_at: datetime


@lru_cache(maxsize=None)
def ensure_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=[Nurse.__table__, NurseSession.__table__])


def idle_timeout() -> timedelta:
    value = os.environ.get("NURSE_SESSION_IDLE_MINUTES") or str(DEFAULT_IDLE_MINUTES)
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"NURSE_SESSION_IDLE_MINUTES must be a whole number of minutes, not {value!r}")
    return timedelta(minutes=int(value))


def utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise AccountError(
            "A name is 2-64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return name


def check_secret(secret: str) -> str:
    if not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
        raise AccountError(f"A secret is {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters long.")
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits


def add_nurse(engine: Engine, name: str, secret: str, now: datetime | None = None) -> None:
    ensure_tables(engine)
    check_name(name)
    check_secret(secret)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        if session.scalar(select(Nurse.id).where(Nurse.name == name)) is not None:
            raise AccountError(f"There is already a nurse named {name}.")
        session.add(Nurse(name=name, secret_hash=HASHER.hash(secret), disabled=False,
                          created_at=now, secret_set_at=now))


def end_sessions(session: Session, nurse_id: int, now: datetime) -> None:
    session.execute(
        update(NurseSession)
        .where(NurseSession.nurse_id == nurse_id, NurseSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def nurse_named(session: Session, name: str) -> Nurse:
    nurse = session.scalar(select(Nurse).where(Nurse.name == name))
    if nurse is None:
        raise AccountError(f"There is no nurse named {name}.")
    return nurse


def rotate_secret(engine: Engine, name: str, secret: str, now: datetime | None = None) -> None:
    """Give the nurse a new secret; the sessions opened with the old one end."""
    ensure_tables(engine)
    check_secret(secret)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        nurse = nurse_named(session, name)
        nurse.secret_hash = HASHER.hash(secret)
        nurse.secret_set_at = now
        end_sessions(session, nurse.id, now)


def set_disabled(engine: Engine, name: str, disabled: bool = True, now: datetime | None = None) -> None:
    """Disable (or enable again) an account; disabling ends its sessions."""
    ensure_tables(engine)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        nurse = nurse_named(session, name)
        nurse.disabled = disabled
        if disabled:
            end_sessions(session, nurse.id, now)


def list_accounts(engine: Engine) -> list[Account]:
    ensure_tables(engine)
    with Session(engine) as session:
        return [
            Account(nurse.name, nurse.disabled, utc(nurse.created_at), utc(nurse.secret_set_at))
            for nurse in session.scalars(select(Nurse).order_by(Nurse.name))
        ]


def log_in(engine: Engine, name: str, secret: str, now: datetime | None = None) -> str | None:
    """A new session token for a valid, enabled account's name and secret; None otherwise."""
    ensure_tables(engine)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        nurse = session.scalar(select(Nurse).where(Nurse.name == name))
        try:
            HASHER.verify(nurse.secret_hash if nurse else DECOY_HASH, secret)
        except (VerificationError, InvalidHashError):
            return None
        if nurse is None or nurse.disabled:
            return None
        token = secrets.token_urlsafe(32)
        session.add(NurseSession(token_hash=token_hash(token), nurse_id=nurse.id,
                                 started_at=now, last_seen_at=now))
        return token


def session_nurse(engine: Engine, token: str, touch: bool = True, now: datetime | None = None) -> str | None:
    """The name of the nurse whose live session ``token`` opens, or None.

    A session is live until logged out, until the account is disabled or its secret
    rotated, and while it was last used less than the idle time-out ago. ``touch``
    counts this use as activity (the live queue's stream does not: only what a nurse
    does keeps a session open).
    """
    ensure_tables(engine)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        found = session.execute(
            select(NurseSession, Nurse.name)
            .join(Nurse, Nurse.id == NurseSession.nurse_id)
            .where(NurseSession.token_hash == token_hash(token), NurseSession.ended_at.is_(None),
                   Nurse.disabled.is_(False))
        ).first()
        if found is None:
            return None
        record, name = found
        if now - utc(record.last_seen_at) >= idle_timeout():
            record.ended_at = now
            return None
        if touch:
            record.last_seen_at = now
        return name


def log_out(engine: Engine, token: str, now: datetime | None = None) -> bool:
    """End the session ``token`` opens; False when there was no live one."""
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        ended = session.execute(
            update(NurseSession)
            .where(NurseSession.token_hash == token_hash(token), NurseSession.ended_at.is_(None))
            .values(ended_at=now or datetime.now(timezone.utc))
        )
        return ended.rowcount == 1


def read_secret(from_stdin: bool) -> tuple[str, bool]:
    """The secret to set, and whether it was generated here (then it is shown once)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return new_secret(), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.accounts", description="Manage nurse-console accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command, text in (("add", "add an account"), ("rotate", "give an account a new secret")):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("name")
        sub.add_argument("--secret-stdin", action="store_true", help="read the secret from standard input")
    commands.add_parser("disable", help="disable an account and end its sessions").add_argument("name")
    commands.add_parser("enable", help="enable a disabled account").add_argument("name")
    commands.add_parser("list", help="list the accounts")
    args = parser.parse_args(argv)
    engine = engine_for(database_url())
    try:
        if args.command in ("add", "rotate"):
            secret, generated = read_secret(args.secret_stdin)
            (add_nurse if args.command == "add" else rotate_secret)(engine, args.name, secret)
            print(f"{args.command}: {args.name}")
            if generated:
                print(f"secret (shown once, give it to the nurse privately): {secret}")
        elif args.command in ("disable", "enable"):
            set_disabled(engine, args.name, args.command == "disable")
            print(f"{args.command}d: {args.name}")
        else:
            for account in list_accounts(engine):
                state = "disabled" if account.disabled else "active"
                print(f"{account.name}\t{state}\tsecret set {account.secret_set_at:%Y-%m-%d %H:%M} UTC")
    except AccountError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
