"""SMS: the carrier keywords (STOP, START, HELP) and the numbers that opted out."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import Column, DateTime, String, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base
from assistant.settings import Contacts

PROGRAM_NAME = "Spine procedure questions"

# Carrier keywords, handled by the SMS channel before the assistant sees the message.
KEYWORDS = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "stop"),
    "START": "start",
    "UNSTOP": "start",
    "HELP": "help",
    "INFO": "help",
}


def keyword(text: str) -> str | None:
    """stop, start or help when the whole message is one of those keywords."""
    return KEYWORDS.get(text.strip().strip(".!").upper())


def help_text(contacts: Contacts) -> str:
    return (
        f"{PROGRAM_NAME} ({contacts.clinic_name}): answers about vertebroplasty and kyphoplasty "
        f"from our patient leaflets. Not medical advice. Nurse line: {contacts.nurse_phone}. "
        f"Emergency: call {contacts.emergency_number}. Reply STOP to stop messages."
    )


def stop_text() -> str:
    return f"You will get no more messages from {PROGRAM_NAME}. Reply START to turn them back on."


def start_text() -> str:
    return f"Messages from {PROGRAM_NAME} are on again. Send your question, or HELP for help."


class SmsOptOut(Base):
    __tablename__ = "sms_opt_outs"

    phone = Column(String(64), primary_key=True)
    opted_out_at = Column(DateTime(timezone=True), nullable=False)


@lru_cache(maxsize=None)
def ensure_table(engine: Engine) -> None:
    SmsOptOut.__table__.create(engine, checkfirst=True)


def set_opted_out(engine: Engine, phone: str, opted_out: bool) -> None:
    ensure_table(engine)
    with Session(engine) as session, session.begin():
        session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))
        if opted_out:
            session.add(SmsOptOut(phone=phone, opted_out_at=datetime.now(timezone.utc)))


def is_opted_out(engine: Engine, phone: str) -> bool:
    ensure_table(engine)
    with Session(engine) as session:
        return session.scalar(select(SmsOptOut.phone).where(SmsOptOut.phone == phone)) is not None
