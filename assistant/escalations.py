"""Escalations: urgent and emergency turns recorded for the nurse line."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from sqlalchemy import JSON, Column, DateTime, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base

# The same conversation repeating the same sign within this window is one escalation.
DUPLICATE_WINDOW = timedelta(minutes=30)
OPEN, HANDLED = "open", "handled"


class Escalation(Base):
    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(64), nullable=False)
    urgency = Column(String(20), nullable=False)
    signs = Column(JSON, nullable=False)  # sign ids, e.g. ["chest_pain"]
    matched_words = Column(JSON, nullable=False)  # the patient's words that matched
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    status = Column(String(20), nullable=False, default=OPEN)
    handled_note = Column(Text)
    handled_at = Column(DateTime(timezone=True))


@lru_cache(maxsize=None)
def ensure_table(engine: Engine) -> None:
    Escalation.__table__.create(engine, checkfirst=True)


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
    now: datetime | None = None,
) -> int | None:
    """Store an escalation; None when this conversation raised the same signs just before."""
    ensure_table(engine)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        recent = session.scalars(
            select(Escalation).where(
                Escalation.sender_id == sender_id,
                Escalation.created_at >= now - DUPLICATE_WINDOW,
            )
        ).all()
        if any(set(signs) <= set(row.signs) for row in recent):
            return None
        escalation = Escalation(
            sender_id=sender_id,
            channel=channel,
            urgency=urgency,
            signs=list(signs),
            matched_words=list(matched_words),
            created_at=now,
            status=OPEN,
        )
        session.add(escalation)
        session.flush()
        return escalation.id


def escalations_for(engine: Engine, sender_id: str) -> list[dict]:
    """A conversation's escalations, oldest first, as plain dicts."""
    ensure_table(engine)
    with Session(engine) as session:
        rows = session.scalars(
            select(Escalation).where(Escalation.sender_id == sender_id).order_by(Escalation.id)
        ).all()
        return [
            {
                "id": row.id,
                "channel": row.channel,
                "urgency": row.urgency,
                "signs": row.signs,
                "matched_words": row.matched_words,
                "created_at": as_utc(row.created_at),
                "status": row.status,
            }
            for row in rows
        ]
