"""Sending the check-in texts: claim a due outbox row, render it, send it through Twilio,
settle it; retry a failed send with backoff; record no_reply items. And the scheduler that
calls this on time.

The schedule has two halves in the one database: the outbox (assistant/check_in_store.py)
says what is to be sent and whether it was, exactly once; APScheduler's SQLAlchemyJobStore
holds one date job per planned text, so each goes out on time and the plan survives a
restart. Every replica runs a scheduler on that job store; APScheduler 3 does not coordinate
them, so two may run one job: the outbox claim lets one of them send. A sweep every
SWEEP_SECONDS, in each replica's own memory, sends whatever is due and was missed (a job
another replica added, a stale claim) and looks for silent check-ins.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timezone
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from assistant import check_in_store as store
from assistant import sms, twilio_sms
from assistant.check_ins import (
    CheckInSettings, CheckInTexts, Clock, check_in_text, consent_request_text, sendable_at,
)
from assistant.escalations import NO_REPLY, record_escalation
from assistant.settings import Contacts
from assistant.vocabulary import ROUTINE

logger = logging.getLogger(__name__)
JOBS_TABLE = "check_in_jobs"
JOB_PREFIX = "check-in-"
# Texts are due at a whole hour and sent by their own jobs; the sweep only catches what those
# missed, and a no_reply item a minute late is on time for the nurses.
SWEEP_SECONDS = 60
# Sends at once: each is bounded by TWILIO_TIMEOUT_SECONDS, and a clinic's check-ins are at one hour.
SEND_THREADS = 2
SENT, RETRYING, FAILED, CANCELLED, DEFERRED, HELD, NOT_CLAIMED = (
    "sent", "retrying", "failed", "cancelled", "deferred", "held", "not claimed")


def worker_name() -> str:
    """Who claimed a text: this host and process (no patient data)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CheckInSender:
    """Sends due texts at ``clock.now()``; ``schedule`` is told of each text that becomes due later."""

    def __init__(self, engine: Engine, *, clock: Clock, settings: CheckInSettings, texts: CheckInTexts,
                 contacts: Contacts, twilio: twilio_sms.TwilioSettings | None, worker: str,
                 schedule: Callable[[int, datetime], None] = lambda message_id, due: None) -> None:
        self.engine, self.clock, self.settings, self.texts = engine, clock, settings, texts
        self.contacts, self.twilio, self.worker, self.schedule = contacts, twilio, worker, schedule

    def render(self, message: dict) -> str:
        person = {"first_name": message["first_name"], "procedure": message["procedure"],
                  "procedure_date": message["procedure_date"]}
        if message["kind"] == store.CONSENT_REQUEST:
            return consent_request_text(self.texts, self.settings, self.contacts, **person)
        return check_in_text(self.texts, self.settings, self.contacts, day=message["day"], **person)

    def deliver(self, message_id: int) -> str:
        """Send one text if it is due and nobody else has it; what became of it."""
        now = self.clock.now()
        if not store.claim(self.engine, message_id, self.worker, now):
            return NOT_CLAIMED
        message = store.claimed_message(self.engine, message_id)
        if message is None:  # deleted meanwhile ("delete my data")
            return CANCELLED
        if message["enrolment_status"] == store.PAUSED:  # kept due: resuming decides
            store.settle(self.engine, message_id, self.worker, {"status": store.DUE, "attempts": message["attempts"] - 1})
            return HELD
        if message["enrolment_status"] != store.SENDABLE_WHEN[message["kind"]]:
            store.settle(self.engine, message_id, self.worker, {"status": store.CANCELLED, "failure": "check-ins not active"})
            return CANCELLED
        if sms.is_opted_out(self.engine, message["phone"]):
            store.settle(self.engine, message_id, self.worker,
                         {"status": store.CANCELLED, "failure": "the number opted out (STOP); waiting for YES"})
            return CANCELLED
        later = sendable_at(now, message["time_zone"], self.settings.quiet_hours)
        if later > now:
            store.settle(self.engine, message_id, self.worker,
                         {"status": store.DUE, "due_at": later, "attempts": message["attempts"] - 1})
            self.schedule(message_id, later)
            return DEFERRED
        try:
            if self.twilio is None:
                raise twilio_sms.SendFailed("text messages are not configured on this server")
            twilio_sms.send_text(self.twilio, message["phone"], self.render(message))
        except twilio_sms.SendFailed as failure:
            return self.failed(message, str(failure), now, retryable=failure.retryable)
        try:
            store.mark_sent(self.engine, message_id, self.worker, now)
        except SQLAlchemyError as error:  # sent: left 'sending', it is not sent again before STALE_CLAIM
            logger.error("Check-in text %d sent, its status not stored: %s", message_id, type(error).__name__)
        return SENT

    def failed(self, message: dict, failure: str, now: datetime, retryable: bool) -> str:
        attempts = message["attempts"]
        if retryable and attempts <= self.settings.retries:
            due = now + self.settings.retry_delay(attempts)
            store.settle(self.engine, message["id"], self.worker, {"status": store.DUE, "due_at": due, "failure": failure})
            self.schedule(message["id"], due)
            logger.warning("Check-in text %d not sent (attempt %d), retried later: %s", message["id"], attempts, failure)
            return RETRYING
        store.settle(self.engine, message["id"], self.worker, {"status": store.FAILED, "failure": failure})
        logger.error("Check-in text %d not sent after %d attempts: %s", message["id"], attempts, failure)
        return FAILED

    def sweep(self) -> list[str]:
        """Send everything due now, then record the no_reply items; what became of each text."""
        outcomes = [self.deliver(message_id) for message_id in store.due_messages(self.engine, self.clock.now())]
        if self.settings.no_reply_alert:
            self.record_silences()
        return outcomes

    def record_silences(self) -> None:
        now = self.clock.now()
        for silent in store.silent_check_ins(self.engine, now, self.settings.no_reply_hours):
            if store.mark_no_reply(self.engine, silent["message_id"], now):
                escalation = record_escalation(self.engine, sender_id=silent["phone"], channel="sms", urgency=ROUTINE,
                                               signs=[], matched_words=[], kind=NO_REPLY, now=now)
                store.link_escalation(self.engine, silent["message_id"], escalation)


# ---------------------------------------------------------------- APScheduler

class SharedJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy job store, shared by every replica's scheduler.

    Two schedulers may both run a date job; the second to finish finds it removed already.
    APScheduler 3 raises JobLookupError then, which ends that scheduler's thread: here it is
    nothing (the outbox claim already kept the text to one send)."""

    def update_job(self, job) -> None:
        try:
            super().update_job(job)
        except JobLookupError:
            pass

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except JobLookupError:
            pass


# The process's sender. APScheduler keeps a job as a reference to a module-level function and
# its arguments (here only the outbox row's id: no patient data in the job store).
current: CheckInSender | None = None


def send_job(message_id: int) -> None:
    if current is None:
        return
    try:
        current.deliver(message_id)
    except SQLAlchemyError as error:  # its text would show the query's values (numbers): the type only
        logger.warning("Check-in text %d not sent, database error %s: the sweep tries again", message_id,
                       type(error).__name__)


def sweep_job() -> None:
    if current is None:
        return
    try:
        current.sweep()
    except SQLAlchemyError as error:
        logger.warning("Check-in sweep: database error %s", type(error).__name__)


def job_store(engine: Engine) -> SharedJobStore:
    return SharedJobStore(engine=engine, tablename=JOBS_TABLE)


def start_scheduler(engine: Engine, sender: CheckInSender, paused: bool = False) -> BackgroundScheduler:
    """This process's scheduler, started: the shared job store, and its own sweep."""
    global current
    current = sender
    scheduler = BackgroundScheduler(
        timezone=timezone.utc,
        jobstores={"default": job_store(engine), "local": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(SEND_THREADS)},
        # Run a job however late (a restart after its time): the outbox says whether it is still to send.
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    scheduler.add_job(sweep_job, "interval", seconds=SWEEP_SECONDS, id="check-in-sweep", jobstore="local",
                      next_run_time=datetime.now(timezone.utc))
    scheduler.start(paused=paused)
    sender.schedule = lambda message_id, due: schedule(scheduler, message_id, due)
    return scheduler


def schedule(scheduler: BackgroundScheduler, message_id: int, due: datetime) -> None:
    scheduler.add_job(send_job, "date", run_date=due, args=[message_id], id=f"{JOB_PREFIX}{message_id}",
                      replace_existing=True)


def remove_jobs(engine: Engine, message_ids: list[int]) -> None:
    """Remove the jobs of texts no longer to be sent (STOP, ended, "delete my data"), from any process."""
    if not message_ids:
        return
    jobs = job_store(engine)
    jobs.start(None, "default")
    for message_id in message_ids:
        jobs.remove_job(f"{JOB_PREFIX}{message_id}")
