"""Escalations: urgent and emergency turns recorded for the nurse line."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from sqlalchemy import JSON, Column, DateTime, Integer, String, Text, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base, create_or_extend

# The same conversation repeating the same sign within this window is one escalation.
DUPLICATE_WINDOW = timedelta(minutes=30)
OPEN, HANDLED = "open", "handled"
TRIAGE, HANDOFF = "triage", "handoff"  # a reported warning sign, or a request to talk to a nurse
URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}


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


@lru_cache(maxsize=None)
def ensure_table(engine: Engine) -> None:
    create_or_extend(engine, Escalation.__table__)


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
        )
        session.add(escalation)
        session.flush()
        return escalation.id


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
        "created_at": as_utc(row.created_at).isoformat(),
        "status": row.status,
        "handled_note": row.handled_note,
        "handled_at": as_utc(row.handled_at).isoformat() if row.handled_at else None,
    }


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


def list_escalations(engine: Engine, status: str = OPEN, search: str = "", limit: int = 200) -> list[dict]:
    """The queue: most urgent first, newest first within an urgency.

    ``status`` is open, handled or all; ``search`` matches the sender, channel,
    signs, the patient's matched words and the nurse's note.
    """
    ensure_table(engine)
    with Session(engine) as session:
        query = select(Escalation).order_by(Escalation.created_at.desc()).limit(5000)
        if status in (OPEN, HANDLED):
            query = query.where(Escalation.status == status)
        rows = [as_dict(row) for row in session.scalars(query).all()]
    if search:
        needle = search.lower()
        rows = [row for row in rows if needle in searchable_text(row)]
    rows.sort(key=lambda row: (row["status"] != OPEN, URGENCY_RANK.get(row["urgency"], 3)))
    return rows[:limit]


def searchable_text(row: dict) -> str:
    parts = [row["sender_id"], row["channel"], row["kind"], *row["signs"], *row["matched_words"], row["handled_note"] or ""]
    return " ".join(parts).lower()


def get_escalation(engine: Engine, escalation_id: int) -> dict | None:
    ensure_table(engine)
    with Session(engine) as session:
        row = session.get(Escalation, escalation_id)
        return as_dict(row) if row else None


def mark_handled(engine: Engine, escalation_id: int, note: str, now: datetime | None = None) -> dict | None:
    """Close an escalation with the nurse's note; None if there is no such escalation."""
    ensure_table(engine)
    with Session(engine) as session, session.begin():
        row = session.get(Escalation, escalation_id)
        if row is None:
            return None
        row.status = HANDLED
        row.handled_note = note
        row.handled_at = now or datetime.now(timezone.utc)
        session.flush()
        return as_dict(row)
