"""A nurse's reply to a patient: its text checked for the channel, and the record of each
reply and what became of it (sent, waiting for the patient to come back, or failed).

A failed text message stays here with its failure, so no reply is lost silently; the
nurse is told at once. Replies to the website widget wait here until the patient's page
is open again.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Text, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.db import Base
from assistant.escalations import as_utc
from assistant.render import SMS_MESSAGE_SEGMENTS, segments, to_gsm7, widget_message

MAX_REPLY_CHARS = 1000  # a text message holds at most 459 GSM-7 characters; web replies get a little more room
# SENDING: recorded before Twilio is called, so a reply whose outcome could not be stored still shows.
# WAITING: for the patient's web page to open.
SENDING, SENT, WAITING, FAILED = "sending", "sent", "waiting", "failed"
NURSE_ROLE = "nurse"  # the role of a nurse's message in the widget and in the stored conversation


class ReplyRefused(ValueError):
    """The text cannot be sent as it is; the message says why, without quoting it."""


class NurseReply(Base):
    __tablename__ = "nurse_replies"

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(Integer, nullable=False, index=True)
    sender_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(64), nullable=False)
    nurse = Column(String(64), nullable=False)
    text = Column(Text, nullable=False)
    status = Column(String(16), nullable=False)
    failure = Column(String(200))  # what went wrong, in words that name no patient data
    created_at = Column(DateTime(timezone=True), nullable=False)
    delivered_at = Column(DateTime(timezone=True))


@lru_cache(maxsize=None)
def ensure_table(engine: Engine) -> None:
    NurseReply.__table__.create(engine, checkfirst=True)


def sms_text(text: str) -> str:
    """The reply as one GSM-7 text message of at most SMS_MESSAGE_SEGMENTS segments."""
    plain = to_gsm7(text).strip()
    if not plain:
        raise ReplyRefused("The reply has no characters a text message can carry.")
    cost = segments(plain)
    if cost > SMS_MESSAGE_SEGMENTS:
        raise ReplyRefused(
            f"The reply would take {cost} text-message segments; at most {SMS_MESSAGE_SEGMENTS} "
            f"(about {SMS_MESSAGE_SEGMENTS * 153} plain characters). Shorten it."
        )
    return plain


def widget_payload(text: str) -> dict[str, Any]:
    """The reply as one `bot_uttered` message, marked as from the nurse."""
    return widget_message({"role": NURSE_ROLE, "text": text})


def record(
    engine: Engine, *, escalation_id: int, sender_id: str, channel: str, nurse: str, text: str, status: str,
) -> int:
    ensure_table(engine)
    now = datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        reply = NurseReply(
            escalation_id=escalation_id, sender_id=sender_id, channel=channel, nurse=nurse, text=text,
            status=status, created_at=now, delivered_at=now if status == SENT else None,
        )
        session.add(reply)
        session.flush()
        return int(reply.id)


def settle(engine: Engine, reply_id: int, status: str, failure: str | None = None) -> None:
    """What became of a reply being sent."""
    ensure_table(engine)
    delivered = datetime.now(timezone.utc) if status == SENT else None
    with Session(engine) as session, session.begin():
        session.execute(update(NurseReply).where(NurseReply.id == reply_id)
                        .values(status=status, failure=failure, delivered_at=delivered))


def waiting_for(engine: Engine, sender_id: str) -> list[tuple[int, str]]:
    """The replies waiting for this conversation's web page, oldest first: (id, text)."""
    ensure_table(engine)
    query = (select(NurseReply.id, NurseReply.text)
             .where(NurseReply.sender_id == sender_id, NurseReply.status == WAITING).order_by(NurseReply.id))
    with Session(engine) as session:
        return [(int(reply_id), text) for reply_id, text in session.execute(query)]


def mark_delivered(engine: Engine, reply_ids: list[int]) -> None:
    for reply_id in reply_ids:
        settle(engine, reply_id, SENT)


def replies_to(engine: Engine, escalation_id: int) -> list[dict]:
    """An escalation's replies, oldest first, with what became of each."""
    ensure_table(engine)
    query = select(NurseReply).where(NurseReply.escalation_id == escalation_id).order_by(NurseReply.id)
    with Session(engine) as session:
        return [
            {"id": reply.id, "nurse": reply.nurse, "channel": reply.channel, "text": reply.text,
             "status": reply.status, "failure": reply.failure, "created_at": as_utc(reply.created_at).isoformat()}
            for reply in session.scalars(query)
        ]
