"""The nurse line's audit log: who did what to which conversation, and when.

Append-only: this module writes rows and reads them; nothing here (nor any endpoint)
edits or deletes one. Entries name the nurse, the action, the conversation (sender id)
and the escalation; never patient text.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import Column, DateTime, Integer, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base

LOGGED_IN, LOGGED_OUT = "logged_in", "logged_out"
VIEWED_TRANSCRIPT = "viewed_transcript"
CLAIMED, RELEASED, HANDLED = "claimed", "released", "handled"
ENROLLED, REPLIED = "enrolled", "replied"  # for the enrolment and reply-to-patient features
# The check-ins list shows patient data (numbers, names, answers): each view is recorded.
VIEWED_CHECK_INS = "viewed_check_ins"
PAUSED_CHECK_INS, RESUMED_CHECK_INS, ENDED_CHECK_INS = "paused_check_ins", "resumed_check_ins", "ended_check_ins"
ACTIONS = (LOGGED_IN, LOGGED_OUT, VIEWED_TRANSCRIPT, CLAIMED, RELEASED, HANDLED, ENROLLED, REPLIED,
           VIEWED_CHECK_INS, PAUSED_CHECK_INS, RESUMED_CHECK_INS, ENDED_CHECK_INS)
MAX_ENTRIES = 500


class AuditEntry(Base):
    __tablename__ = "nurse_audit_log"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    nurse = Column(String(64), nullable=False, index=True)
    action = Column(String(32), nullable=False)
    sender_id = Column(String(255), index=True)
    escalation_id = Column(Integer)


@lru_cache(maxsize=None)
def ensure_table(engine: Engine) -> None:
    AuditEntry.__table__.create(engine, checkfirst=True)


def record(
    engine: Engine, nurse: str, action: str, *, sender_id: str | None = None,
    escalation_id: int | None = None, now: datetime | None = None,
) -> None:
    """Append one entry (enrolment or a later reply to a patient: call this with ENROLLED or REPLIED)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; one of {', '.join(ACTIONS)}")
    ensure_table(engine)
    with Session(engine) as session, session.begin():
        session.add(AuditEntry(at=now or datetime.now(timezone.utc), nurse=nurse, action=action,
                               sender_id=sender_id, escalation_id=escalation_id))


def entries(engine: Engine, nurse: str = "", sender_id: str = "", limit: int = MAX_ENTRIES) -> list[dict]:
    """The newest entries first, optionally only one nurse's or one conversation's."""
    ensure_table(engine)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if nurse:
        query = query.where(AuditEntry.nurse == nurse)
    if sender_id:
        query = query.where(AuditEntry.sender_id == sender_id)
    with Session(engine) as session:
        return [
            {
                "id": entry.id,
                "at": (entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=timezone.utc)).isoformat(),
                "nurse": entry.nurse,
                "action": entry.action,
                "sender_id": entry.sender_id,
                "escalation_id": entry.escalation_id,
            }
            for entry in session.scalars(query)
        ]
