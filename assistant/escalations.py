"""Escalations: urgent and emergency turns recorded for the nurse line, and the nurse line's work on them.

A nurse claims an open escalation (one nurse at a time: a conditional UPDATE, so of two
claiming at once one wins), handles it with a note, or releases the claim. Every change
stamps `changed_at`, which the live queue watches.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import (
    JSON, Column, DateTime, Integer, String, Text, and_, case, cast, delete, func, or_,
    select, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base, create_or_extend
from assistant.settings import clinic_file
from assistant.vocabulary import URGENCIES, URGENCY_RANK

# The same conversation repeating the same sign within this window is one escalation.
DUPLICATE_WINDOW = timedelta(minutes=30)
OPEN, HANDLED = "open", "handled"
STATUSES = (OPEN, HANDLED)
TRIAGE, HANDOFF = "triage", "handoff"  # a reported warning sign, or a request to talk to a nurse
# A check-in answered "worse", or one left unanswered (assistant/check_in_sender.py).
CHECK_IN, NO_REPLY = "check_in", "no_reply"
MAX_NOTE_CHARS = 2000


class Escalation(Base):
    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False, index=True)
    kind = Column(String(20), nullable=False, default=TRIAGE)
    channel = Column(String(64), nullable=False)
    urgency = Column(String(20), nullable=False)
    signs = Column(JSON, nullable=False)  # sign ids, e.g. ["chest_pain"]
    matched_words = Column(JSON, nullable=False)  # the patient's words that matched
    message_id = Column(String(64))  # the patient's message that raised it, in the conversation
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    status = Column(String(20), nullable=False, default=OPEN)
    handled_note = Column(Text)
    handled_at = Column(DateTime(timezone=True))
    # Added with claims; nullable, so tables from before gain them in place (ensure_table).
    claimed_by = Column(String(64))
    claimed_at = Column(DateTime(timezone=True))
    handled_by = Column(String(64))
    changed_at = Column(DateTime(timezone=True), index=True)


class EscalationConflict(Exception):
    """The escalation is not in a state that allows this (claimed by another nurse, or handled)."""

    def __init__(self, message: str, row: dict) -> None:
        super().__init__(message)
        self.row = row


@lru_cache(maxsize=None)
def ensure_table(engine: Engine) -> None:
    create_or_extend(engine, Escalation.__table__)


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def response_targets(path: Path | None = None) -> dict[str, int]:
    """Minutes within which the clinic answers each urgency (clinic.yml's response_targets_minutes)."""
    path = path or clinic_file()
    with open(path, encoding="utf-8") as handle:
        raw = (yaml.safe_load(handle) or {}).get("response_targets_minutes")
    if not isinstance(raw, dict) or set(raw) != set(URGENCIES):
        raise ValueError(f"{path}: response_targets_minutes must give minutes for each of {', '.join(URGENCIES)}")
    for urgency, minutes in raw.items():
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
            raise ValueError(f"{path}: response_targets_minutes.{urgency} must be a whole number of minutes, at least 1")
    return {urgency: raw[urgency] for urgency in URGENCIES}


def record_escalation(
    engine: Engine,
    *,
    sender_id: str,
    channel: str,
    urgency: str,
    signs: list[str],
    matched_words: list[str],
    kind: str = TRIAGE,
    message_id: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Store an escalation; None when this conversation raised the same signs just before."""
    ensure_table(engine)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        recent = session.scalars(
            select(Escalation).where(
                Escalation.sender_id == sender_id,
                Escalation.kind == kind,
                Escalation.created_at >= now - DUPLICATE_WINDOW,
            )
        ).all()
        if any(set(signs) <= set(row.signs) for row in recent):
            return None
        escalation = Escalation(
            sender_id=sender_id,
            kind=kind,
            channel=channel,
            urgency=urgency,
            signs=list(signs),
            matched_words=list(matched_words),
            message_id=message_id,
            created_at=now,
            status=OPEN,
            changed_at=now,
        )
        session.add(escalation)
        session.flush()
        return escalation.id


def when(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None


def as_dict(row: Escalation) -> dict:
    return {
        "id": row.id,
        "sender_id": row.sender_id,
        "kind": row.kind,
        "channel": row.channel,
        "urgency": row.urgency,
        "signs": row.signs,
        "matched_words": row.matched_words,
        "message_id": row.message_id,
        "created_at": when(row.created_at),
        "status": row.status,
        "claimed_by": row.claimed_by,
        "claimed_at": when(row.claimed_at),
        "handled_by": row.handled_by,
        "handled_note": row.handled_note,
        "handled_at": when(row.handled_at),
    }


def with_age(row: dict, now: datetime, targets: dict[str, int]) -> dict:
    """The row with its age in seconds and whether it is open past the clinic's target for its urgency."""
    age = (now - datetime.fromisoformat(row["created_at"])).total_seconds()
    target = targets.get(row["urgency"])
    overdue = row["status"] == OPEN and target is not None and age > target * 60
    return {**row, "age_seconds": int(age), "target_minutes": target, "overdue": overdue}


def escalations_for(engine: Engine, sender_id: str) -> list[dict]:
    """A conversation's escalations, oldest first, as plain dicts."""
    ensure_table(engine)
    with Session(engine) as session:
        rows = session.scalars(
            select(Escalation).where(Escalation.sender_id == sender_id).order_by(Escalation.id)
        ).all()
        return [as_dict(row) for row in rows]


def delete_escalations_for(engine: Engine, sender_id: str) -> int:
    """Delete every escalation of a conversation (the patient asked to be forgotten); returns how many."""
    ensure_table(engine)
    with Session(engine) as session, session.begin():
        return session.execute(delete(Escalation).where(Escalation.sender_id == sender_id)).rowcount


def like_pattern(search: str) -> str:
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


SEARCHED = (
    Escalation.sender_id, Escalation.channel, Escalation.kind, cast(Escalation.signs, Text),
    cast(Escalation.matched_words, Text), Escalation.handled_note, Escalation.claimed_by, Escalation.handled_by,
)


def list_escalations(engine: Engine, status: str = OPEN, search: str = "", limit: int = 200) -> list[dict]:
    """The queue, filtered and sorted in SQL: open first, most urgent first, then the longest
    waiting first among open ones (they are the likeliest to be overdue) and the newest first
    among handled ones.

    ``status`` is open, handled or all; ``search`` matches (case-insensitively) the sender,
    channel, kind, signs, the patient's matched words, the nurses' names and the note.
    """
    ensure_table(engine)
    is_open = Escalation.status == OPEN
    query = select(Escalation).order_by(
        case((is_open, 0), else_=1),
        case(URGENCY_RANK, value=Escalation.urgency, else_=len(URGENCY_RANK)),
        case((is_open, Escalation.created_at), else_=None).asc(),
        Escalation.created_at.desc(),
        Escalation.id,
    ).limit(limit)
    if status in STATUSES:
        query = query.where(Escalation.status == status)
    if search:
        pattern = like_pattern(search)
        query = query.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in SEARCHED)))
    with Session(engine) as session:
        return [as_dict(row) for row in session.scalars(query)]


def change_mark(engine: Engine) -> tuple:
    """Changes whenever an escalation is added, claimed, released, handled or deleted."""
    ensure_table(engine)
    with Session(engine) as session:
        count, latest = session.execute(select(func.count(Escalation.id), func.max(Escalation.changed_at))).one()
        return count, latest


def get_escalation(engine: Engine, escalation_id: int) -> dict | None:
    ensure_table(engine)
    with Session(engine) as session:
        row = session.get(Escalation, escalation_id)
        return as_dict(row) if row else None


def conditional_update(engine: Engine, escalation_id: int, condition, values: dict) -> dict | None:
    """Apply ``values`` if the row still meets ``condition`` (one atomic UPDATE); the row after, or None if it did not."""
    with Session(engine) as session, session.begin():
        changed = session.execute(
            update(Escalation).where(and_(Escalation.id == escalation_id, condition)).values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            return None
    return get_escalation(engine, escalation_id)


def refusal(engine: Engine, escalation_id: int, nurse: str) -> Exception | None:
    """Why a change was refused: None when there is no such escalation, else the conflict."""
    row = get_escalation(engine, escalation_id)
    if row is None:
        return None
    if row["status"] == HANDLED:
        return EscalationConflict(f"Already handled by {row['handled_by'] or 'a nurse'}.", row)
    if row["claimed_by"] and row["claimed_by"] != nurse:
        return EscalationConflict(f"Claimed by {row['claimed_by']}.", row)
    return EscalationConflict("Not claimed by you.", row)


def change(engine: Engine, escalation_id: int, nurse: str, condition, values: dict) -> dict | None:
    """The changed row; None if there is no such escalation; raises EscalationConflict if it may not change."""
    ensure_table(engine)
    row = conditional_update(engine, escalation_id, condition, values)
    if row is not None:
        return row
    problem = refusal(engine, escalation_id, nurse)
    if problem is None:
        return None
    raise problem


def claim(engine: Engine, escalation_id: int, nurse: str, now: datetime | None = None) -> dict | None:
    """Claim an open, unclaimed escalation for ``nurse`` (claiming one's own again is a no-op)."""
    now = now or datetime.now(timezone.utc)
    free = and_(Escalation.status == OPEN, or_(Escalation.claimed_by.is_(None), Escalation.claimed_by == nurse))
    return change(engine, escalation_id, nurse, free,
                  {"claimed_by": nurse, "claimed_at": now, "changed_at": now})


def release(engine: Engine, escalation_id: int, nurse: str, now: datetime | None = None) -> dict | None:
    """Give back one's own claim: the escalation is open for anyone again."""
    now = now or datetime.now(timezone.utc)
    mine = and_(Escalation.status == OPEN, Escalation.claimed_by == nurse)
    return change(engine, escalation_id, nurse, mine,
                  {"claimed_by": None, "claimed_at": None, "changed_at": now})


def mark_handled(engine: Engine, escalation_id: int, nurse: str, note: str, now: datetime | None = None) -> dict | None:
    """Close an open escalation that is unclaimed or claimed by ``nurse``, with the nurse's note."""
    if not note.strip():
        raise ValueError("Handling an escalation needs a note.")
    now = now or datetime.now(timezone.utc)
    allowed = and_(Escalation.status == OPEN, or_(Escalation.claimed_by.is_(None), Escalation.claimed_by == nurse))
    return change(engine, escalation_id, nurse, allowed, {
        "status": HANDLED, "handled_note": note.strip(), "handled_at": now, "handled_by": nurse,
        "claimed_by": nurse, "claimed_at": func.coalesce(Escalation.claimed_at, now), "changed_at": now,
    })
