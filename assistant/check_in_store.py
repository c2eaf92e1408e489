"""Check-ins in the assistant's database: the enrolments, and an outbox row per text to send.

Exactly-once sending rests here, not on the scheduler (APScheduler 3 does not coordinate
several schedulers on one job store): a row is claimed by one conditional UPDATE (due ->
sending, by whom, when) before Twilio is called, and settled after. Whoever's UPDATE
changes the row sends it; everyone else leaves it. A claim left 'sending' by a replica that
died is taken again only after STALE_CLAIM.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import (
    Column, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint, and_, delete, or_, select, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.check_ins import CheckInSettings, Enrolment, plan, sendable_at
from assistant.db import Base
from assistant.escalations import as_utc

AWAITING_CONSENT, ACTIVE, PAUSED, STOPPED, FINISHED = "awaiting_consent", "active", "paused", "stopped", "finished"
OPEN = (AWAITING_CONSENT, ACTIVE, PAUSED)
CONSENT_REQUEST, CHECK_IN = "consent_request", "check_in"
DUE, SENDING, SENT, FAILED, CANCELLED = "due", "sending", "sent", "failed", "cancelled"
# What each kind of text needs of its enrolment to be sent.
SENDABLE_WHEN = {CONSENT_REQUEST: AWAITING_CONSENT, CHECK_IN: ACTIVE}
# Longer than any one send can take (two Twilio attempts of TWILIO_TIMEOUT_SECONDS, 10 s each,
# and the database writes around them), so a live sender's claim is never taken from it.
STALE_CLAIM = timedelta(minutes=10)
MESSAGE_ANSWER = "message"  # the first reply to a check-in was a message for the assistant, not 1, 2 or 3


class AlreadyEnrolled(Exception):
    """The number already has check-ins that are not over."""


class CheckInEnrolment(Base):
    __tablename__ = "check_in_enrolments"

    id = Column(Integer, primary_key=True, autoincrement=True)
    phone = Column(String(32), nullable=False, index=True)
    # The phone while the enrolment is open, NULL after: unique, so a number has one open enrolment.
    open_phone = Column(String(32), unique=True)
    first_name = Column(String(64))
    procedure = Column(String(32), nullable=False)
    procedure_date = Column(Date, nullable=False)
    time_zone = Column(String(64), nullable=False)
    status = Column(String(20), nullable=False)
    enrolled_by = Column(String(64), nullable=False)
    enrolled_at = Column(DateTime(timezone=True), nullable=False)
    consented_at = Column(DateTime(timezone=True))
    ended_at = Column(DateTime(timezone=True))
    ended_by = Column(String(64))  # the nurse, or "patient" (STOP)


class CheckInMessage(Base):
    """The outbox: one row per text planned, claimed once, settled once."""

    __tablename__ = "check_in_messages"
    __table_args__ = (UniqueConstraint("enrolment_id", "kind", "day"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    enrolment_id = Column(Integer, ForeignKey("check_in_enrolments.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(20), nullable=False)
    day = Column(Integer)  # days after the procedure, for a check-in
    due_at = Column(DateTime(timezone=True), nullable=False, index=True)
    status = Column(String(16), nullable=False, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    claimed_by = Column(String(128))
    claimed_at = Column(DateTime(timezone=True))
    sent_at = Column(DateTime(timezone=True))
    failure = Column(String(200))  # why it was not sent, naming no patient data
    answer = Column(String(16))  # "1", "2", "3" or "message"
    answered_at = Column(DateTime(timezone=True))
    no_reply_at = Column(DateTime(timezone=True))  # when a no_reply item was recorded for it
    escalation_id = Column(Integer)


@lru_cache(maxsize=None)
def ensure_tables(engine: Engine) -> None:
    CheckInEnrolment.__table__.create(engine, checkfirst=True)
    CheckInMessage.__table__.create(engine, checkfirst=True)


def when(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None


# ---------------------------------------------------------------- enrolment and consent

def enrol(engine: Engine, enrolment: Enrolment, nurse: str, now: datetime, settings: CheckInSettings) -> tuple[int, int]:
    """Store the enrolment, awaiting consent, with its consent request due now (or when the
    quiet hours end); (enrolment id, consent request id). AlreadyEnrolled if the number has open check-ins."""
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        if session.scalar(select(CheckInEnrolment.id).where(CheckInEnrolment.open_phone == enrolment.phone)):
            raise AlreadyEnrolled()
        row = CheckInEnrolment(
            phone=enrolment.phone, open_phone=enrolment.phone, first_name=enrolment.first_name,
            procedure=enrolment.procedure, procedure_date=enrolment.procedure_date, time_zone=enrolment.time_zone,
            status=AWAITING_CONSENT, enrolled_by=nurse, enrolled_at=now,
        )
        session.add(row)
        session.flush()
        message = CheckInMessage(enrolment_id=row.id, kind=CONSENT_REQUEST, status=DUE, attempts=0,
                                 due_at=sendable_at(now, enrolment.time_zone, settings.quiet_hours))
        session.add(message)
        session.flush()
        return int(row.id), int(message.id)


def consent(engine: Engine, phone: str, now: datetime, settings: CheckInSettings) -> dict | None:
    """The patient replied YES: their enrolment awaiting consent becomes active, with a check-in
    planned for each day still ahead. The enrolment (with "planned": the new rows' ids and times),
    or None when the number has no enrolment awaiting consent, or no check-in day is left."""
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        row = session.scalars(select(CheckInEnrolment).where(
            CheckInEnrolment.open_phone == phone, CheckInEnrolment.status == AWAITING_CONSENT)).first()
        if row is None:
            return None
        ahead = [(day, due) for day, due in plan(row.procedure_date, row.time_zone, settings) if due > now]
        # A YES after the last check-in day promises nothing: the programme is over, the YES an ordinary message.
        changed = session.execute(
            update(CheckInEnrolment).where(CheckInEnrolment.id == row.id, CheckInEnrolment.status == AWAITING_CONSENT)
            .values(status=ACTIVE if ahead else FINISHED, consented_at=now,
                    open_phone=phone if ahead else None, ended_at=None if ahead else now)
            .execution_options(synchronize_session=False)).rowcount
        if changed != 1 or not ahead:  # or a YES on another replica got there first
            return None
        session.execute(update(CheckInMessage).where(
            CheckInMessage.enrolment_id == row.id, CheckInMessage.kind == CONSENT_REQUEST, CheckInMessage.status == DUE)
            .values(status=CANCELLED, failure="consent given before it was sent")
            .execution_options(synchronize_session=False))
        planned = [CheckInMessage(enrolment_id=row.id, kind=CHECK_IN, day=day, due_at=due, status=DUE, attempts=0)
                   for day, due in ahead]
        session.add_all(planned)
        session.flush()
        return {"id": row.id, "procedure": row.procedure, "procedure_date": row.procedure_date,
                "planned": [(int(message.id), due) for message, (_, due) in zip(planned, ahead)]}


def close_open_messages(session: Session, enrolment_ids: list[int], reason: str) -> list[int]:
    """Cancel the texts of these enrolments not yet sent; their ids."""
    ids = list(session.scalars(select(CheckInMessage.id).where(
        CheckInMessage.enrolment_id.in_(enrolment_ids), CheckInMessage.status == DUE)))
    if ids:
        session.execute(update(CheckInMessage).where(CheckInMessage.id.in_(ids), CheckInMessage.status == DUE)
                        .values(status=CANCELLED, failure=reason).execution_options(synchronize_session=False))
    return ids


def stop_for_phone(engine: Engine, phone: str, now: datetime) -> list[int]:
    """STOP: every open check-in programme of the number ends; the ids of the texts cancelled."""
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        enrolments = list(session.scalars(select(CheckInEnrolment.id).where(CheckInEnrolment.open_phone == phone)))
        if not enrolments:
            return []
        session.execute(update(CheckInEnrolment).where(CheckInEnrolment.id.in_(enrolments))
                        .values(status=STOPPED, open_phone=None, ended_at=now, ended_by="patient")
                        .execution_options(synchronize_session=False))
        return close_open_messages(session, enrolments, "the patient texted STOP")


def change_status(engine: Engine, enrolment_id: int, nurse: str, action: str, now: datetime) -> tuple[dict | None, list[int]]:
    """A nurse pauses, resumes or ends an enrolment: (the enrolment after, or None if it may not
    change so; the ids of texts cancelled). Resuming skips the check-ins that fell due while paused."""
    ensure_tables(engine)
    allowed = {"pause": (ACTIVE,), "resume": (PAUSED,), "end": OPEN}[action]
    values = {"pause": {"status": PAUSED}, "resume": {"status": ACTIVE},
              "end": {"status": STOPPED, "open_phone": None, "ended_at": now, "ended_by": nurse}}[action]
    cancelled: list[int] = []
    with Session(engine) as session, session.begin():
        changed = session.execute(
            update(CheckInEnrolment).where(CheckInEnrolment.id == enrolment_id, CheckInEnrolment.status.in_(allowed))
            .values(**values).execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            return None, []
        if action == "end":
            cancelled = close_open_messages(session, [enrolment_id], f"ended by {nurse}")
        elif action == "resume":
            missed = list(session.scalars(select(CheckInMessage.id).where(
                CheckInMessage.enrolment_id == enrolment_id, CheckInMessage.status == DUE, CheckInMessage.due_at <= now)))
            if missed:
                session.execute(update(CheckInMessage).where(CheckInMessage.id.in_(missed))
                                .values(status=CANCELLED, failure="fell due while paused")
                                .execution_options(synchronize_session=False))
            cancelled = missed
    return enrolment_row(engine, enrolment_id), cancelled


def forget(engine: Engine, phone: str) -> list[int]:
    """"Delete my data": every enrolment of the number and its texts; the ids of the texts deleted."""
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        enrolments = list(session.scalars(select(CheckInEnrolment.id).where(CheckInEnrolment.phone == phone)))
        if not enrolments:
            return []
        ids = list(session.scalars(select(CheckInMessage.id).where(CheckInMessage.enrolment_id.in_(enrolments))))
        session.execute(delete(CheckInMessage).where(CheckInMessage.enrolment_id.in_(enrolments)))
        session.execute(delete(CheckInEnrolment).where(CheckInEnrolment.id.in_(enrolments)))
        return ids


# ---------------------------------------------------------------- the outbox

def claim(engine: Engine, message_id: int, worker: str, now: datetime) -> bool:
    """Take the text for sending: True for exactly one caller while it is due (or its claim went stale)."""
    ensure_tables(engine)
    claimable = or_(and_(CheckInMessage.status == DUE, CheckInMessage.due_at <= now),
                    and_(CheckInMessage.status == SENDING, CheckInMessage.claimed_at < now - STALE_CLAIM))
    with Session(engine) as session, session.begin():
        return session.execute(
            update(CheckInMessage).where(CheckInMessage.id == message_id, claimable)
            .values(status=SENDING, claimed_by=worker, claimed_at=now, attempts=CheckInMessage.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount == 1


def claimed_message(engine: Engine, message_id: int) -> dict | None:
    """A claimed text with what rendering and sending it needs."""
    with Session(engine) as session:
        found = session.execute(select(CheckInMessage, CheckInEnrolment).join(
            CheckInEnrolment, CheckInEnrolment.id == CheckInMessage.enrolment_id).where(CheckInMessage.id == message_id)).first()
        if found is None:
            return None
        message, enrolment = found
        return {"id": message.id, "kind": message.kind, "day": message.day, "attempts": message.attempts,
                "enrolment_id": enrolment.id, "enrolment_status": enrolment.status, "phone": enrolment.phone,
                "first_name": enrolment.first_name, "procedure": enrolment.procedure,
                "procedure_date": enrolment.procedure_date, "time_zone": enrolment.time_zone}


def settle(engine: Engine, message_id: int, worker: str, values: dict) -> bool:
    """Record what became of a claimed text, if the claim is still this worker's."""
    with Session(engine) as session, session.begin():
        return session.execute(
            update(CheckInMessage).where(CheckInMessage.id == message_id, CheckInMessage.status == SENDING,
                                         CheckInMessage.claimed_by == worker)
            .values(**values).execution_options(synchronize_session=False)).rowcount == 1


def mark_sent(engine: Engine, message_id: int, worker: str, now: datetime) -> None:
    """Sent; the enrolment is finished once its last check-in has gone."""
    if not settle(engine, message_id, worker, {"status": SENT, "sent_at": now, "failure": None}):
        return
    with Session(engine) as session, session.begin():
        enrolment_id, kind = session.execute(select(CheckInMessage.enrolment_id, CheckInMessage.kind)
                                             .where(CheckInMessage.id == message_id)).one()
        left = session.scalar(select(CheckInMessage.id).where(
            CheckInMessage.enrolment_id == enrolment_id, CheckInMessage.kind == CHECK_IN,
            CheckInMessage.status.in_((DUE, SENDING))).limit(1))
        if kind == CHECK_IN and left is None:
            session.execute(update(CheckInEnrolment).where(CheckInEnrolment.id == enrolment_id,
                                                           CheckInEnrolment.status == ACTIVE)
                            .values(status=FINISHED, open_phone=None, ended_at=now)
                            .execution_options(synchronize_session=False))


def due_messages(engine: Engine, now: datetime) -> list[int]:
    """The texts to send now: due ones whose enrolment is in the state their kind needs, and
    ones whose claim went stale."""
    ensure_tables(engine)
    sendable = or_(*(and_(CheckInMessage.kind == kind, CheckInEnrolment.status == status)
                     for kind, status in SENDABLE_WHEN.items()))
    query = select(CheckInMessage.id).join(CheckInEnrolment, CheckInEnrolment.id == CheckInMessage.enrolment_id).where(
        or_(and_(CheckInMessage.status == DUE, CheckInMessage.due_at <= now, sendable),
            and_(CheckInMessage.status == SENDING, CheckInMessage.claimed_at < now - STALE_CLAIM))
    ).order_by(CheckInMessage.due_at)
    with Session(engine) as session:
        return list(session.scalars(query))


def next_due(engine: Engine, message_id: int) -> datetime | None:
    """When a due text is to be sent (for its scheduler job), None when it is no longer due."""
    with Session(engine) as session:
        row = session.execute(select(CheckInMessage.due_at, CheckInMessage.status)
                              .where(CheckInMessage.id == message_id)).first()
        return as_utc(row.due_at) if row and row.status == DUE else None


# ---------------------------------------------------------------- replies

def pending_check_in(engine: Engine, phone: str) -> dict | None:
    """The check-in this number's next message answers: the last text sent to it, when that
    was a check-in of a programme not stopped and nothing has answered it yet."""
    ensure_tables(engine)
    query = (select(CheckInMessage, CheckInEnrolment)
             .join(CheckInEnrolment, CheckInEnrolment.id == CheckInMessage.enrolment_id)
             .where(CheckInEnrolment.phone == phone, CheckInMessage.status == SENT)
             .order_by(CheckInMessage.sent_at.desc(), CheckInMessage.id.desc()).limit(1))
    with Session(engine) as session:
        found = session.execute(query).first()
        if found is None:
            return None
        message, enrolment = found
        if message.kind != CHECK_IN or message.answer is not None or enrolment.status not in (ACTIVE, PAUSED, FINISHED):
            return None
        return {"message_id": message.id, "enrolment_id": enrolment.id, "day": message.day,
                "procedure": enrolment.procedure, "procedure_date": enrolment.procedure_date.isoformat(),
                "sent_at": when(message.sent_at)}


def record_answer(engine: Engine, message_id: int, answer: str, now: datetime) -> bool:
    """The first reply to a check-in, once: False when another reply got there first."""
    with Session(engine) as session, session.begin():
        return session.execute(
            update(CheckInMessage).where(CheckInMessage.id == message_id, CheckInMessage.answer.is_(None))
            .values(answer=answer, answered_at=now).execution_options(synchronize_session=False)).rowcount == 1


def link_escalation(engine: Engine, message_id: int, escalation_id: int | None) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(CheckInMessage).where(CheckInMessage.id == message_id)
                        .values(escalation_id=escalation_id).execution_options(synchronize_session=False))


def silent_check_ins(engine: Engine, now: datetime, hours: int) -> list[dict]:
    """Check-ins sent at least ``hours`` ago with no reply and no no_reply item yet."""
    ensure_tables(engine)
    query = (select(CheckInMessage.id, CheckInEnrolment.phone)
             .join(CheckInEnrolment, CheckInEnrolment.id == CheckInMessage.enrolment_id)
             .where(CheckInMessage.kind == CHECK_IN, CheckInMessage.status == SENT, CheckInMessage.answer.is_(None),
                    CheckInMessage.no_reply_at.is_(None), CheckInMessage.sent_at <= now - timedelta(hours=hours),
                    CheckInEnrolment.status.in_((ACTIVE, FINISHED))))
    with Session(engine) as session:
        return [{"message_id": message_id, "phone": phone} for message_id, phone in session.execute(query)]


def mark_no_reply(engine: Engine, message_id: int, now: datetime) -> bool:
    """Take the no_reply item for this check-in: True for exactly one caller."""
    with Session(engine) as session, session.begin():
        return session.execute(
            update(CheckInMessage).where(CheckInMessage.id == message_id, CheckInMessage.no_reply_at.is_(None),
                                         CheckInMessage.answer.is_(None))
            .values(no_reply_at=now).execution_options(synchronize_session=False)).rowcount == 1


# ---------------------------------------------------------------- the console

def message_dict(message: CheckInMessage) -> dict:
    return {"id": message.id, "kind": message.kind, "day": message.day, "due_at": when(message.due_at),
            "status": message.status, "attempts": message.attempts, "sent_at": when(message.sent_at),
            "failure": message.failure, "answer": message.answer, "answered_at": when(message.answered_at),
            "escalation_id": message.escalation_id}


def enrolment_dict(enrolment: CheckInEnrolment, messages: list[CheckInMessage]) -> dict:
    check_ins = [message for message in messages if message.kind == CHECK_IN]
    upcoming = [message for message in check_ins if message.status in (DUE, SENDING)]
    return {
        "id": enrolment.id, "phone": enrolment.phone, "first_name": enrolment.first_name,
        "procedure": enrolment.procedure, "procedure_date": enrolment.procedure_date.isoformat(),
        "time_zone": enrolment.time_zone, "status": enrolment.status, "enrolled_by": enrolment.enrolled_by,
        "enrolled_at": when(enrolment.enrolled_at), "consented_at": when(enrolment.consented_at),
        "ended_at": when(enrolment.ended_at), "ended_by": enrolment.ended_by,
        "next_check_in": when(min(message.due_at for message in upcoming)) if upcoming else None,
        "answers": [{"day": message.day, "answer": message.answer, "answered_at": when(message.answered_at)}
                    for message in check_ins if message.answer],
        "failed_sends": [message_dict(message) for message in messages if message.status == FAILED],
        "messages": [message_dict(message) for message in messages],
    }


def enrolment_row(engine: Engine, enrolment_id: int) -> dict | None:
    with Session(engine) as session:
        enrolment = session.get(CheckInEnrolment, enrolment_id)
        if enrolment is None:
            return None
        messages = list(session.scalars(select(CheckInMessage).where(CheckInMessage.enrolment_id == enrolment_id)
                                        .order_by(CheckInMessage.due_at, CheckInMessage.id)))
        return enrolment_dict(enrolment, messages)


def list_enrolments(engine: Engine, limit: int = 500) -> list[dict]:
    """Every enrolment, open ones first, the newest first within each."""
    ensure_tables(engine)
    with Session(engine) as session:
        enrolments = list(session.scalars(select(CheckInEnrolment).order_by(
            CheckInEnrolment.open_phone.is_(None), CheckInEnrolment.enrolled_at.desc()).limit(limit)))
        ids = [enrolment.id for enrolment in enrolments]
        messages: dict[int, list[CheckInMessage]] = {enrolment_id: [] for enrolment_id in ids}
        for message in session.scalars(select(CheckInMessage).where(CheckInMessage.enrolment_id.in_(ids))
                                       .order_by(CheckInMessage.due_at, CheckInMessage.id)):
            messages[message.enrolment_id].append(message)
        return [enrolment_dict(enrolment, messages[enrolment.id]) for enrolment in enrolments]


def check_in_of_escalation(engine: Engine, escalation_id: int) -> dict | None:
    """The check-in a check_in or no_reply escalation was raised for, for its note."""
    ensure_tables(engine)
    with Session(engine) as session:
        found = session.execute(select(CheckInMessage, CheckInEnrolment).join(
            CheckInEnrolment, CheckInEnrolment.id == CheckInMessage.enrolment_id)
            .where(CheckInMessage.escalation_id == escalation_id)).first()
        if found is None:
            return None
        message, enrolment = found
        return {"day": message.day, "procedure": enrolment.procedure,
                "procedure_date": enrolment.procedure_date.isoformat(), "sent_at": when(message.sent_at),
                "answer": message.answer, "answered_at": when(message.answered_at)}
