"""The Rasa server's side of the check-ins: one runtime per process (settings, texts, the
sender and its scheduler), started and stopped with the server by the nurse console, and
what the SMS channel asks of it. The nurse API's routes are in channels/nurse.py.

Every database call and every Twilio call runs on a thread, off the server's event loop;
Twilio calls are bounded by TWILIO_TIMEOUT_SECONDS (assistant/twilio_sms.py).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache

from apscheduler.schedulers.background import BackgroundScheduler

from assistant import check_in_replies, check_in_store, twilio_sms
from assistant.check_in_sender import CheckInSender, remove_jobs, start_scheduler, worker_name
from assistant.check_ins import SystemClock, load_settings, load_texts
from assistant.db import engine_for
from assistant.off_loop import OffLoop
from assistant.settings import database_url, load_contacts, time_bounds

logger = logging.getLogger(__name__)
# The enrolment's consent request is sent while the nurse waits; a slow Twilio ties up only these.
SEND_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="check-in-sms")
# The SMS channel's look-ups (a few indexed rows) run on threads of their own and are given up
# after the pre-turn check's bound (assistant.settings.TimeBounds), before the patient's turn:
# a hanging database must not hold up triage advice (the message then goes to the assistant
# as an ordinary one). STOP may take as long as the database's own bounds: no turn waits on it.
DATABASE_THREADS = 4


def database_bound() -> float:
    """As long as the database's own bounds allow: for what no turn waits on."""
    bounds = time_bounds()
    return bounds.database_connect + bounds.database_statement


class CheckIns:
    """This server process's check-ins."""

    def __init__(self) -> None:
        # Read at start-up: a bad clinic.yml section or texts file stops the server, naming it.
        self.settings = load_settings()
        self.texts = load_texts()
        self.contacts = load_contacts()
        self.clock = SystemClock()
        self.engine = engine_for(database_url())
        self.lookups = OffLoop("check-in-db", DATABASE_THREADS, time_bounds().pre_turn_check)
        try:
            twilio: twilio_sms.TwilioSettings | None = twilio_sms.TwilioSettings.from_environment()
        except twilio_sms.NotConfigured as missing:
            logger.warning("Check-ins cannot be sent: %s", missing)
            twilio = None
        self.sender = CheckInSender(self.engine, clock=self.clock, settings=self.settings, texts=self.texts,
                                    contacts=self.contacts, twilio=twilio, worker=worker_name())
        self.scheduler: BackgroundScheduler | None = None
        # How the console names each answer: the reviewed word for 1, 2 and 3.
        self.answer_words = {**{str(answer.number): answer.word for answer in self.texts.answers},
                             check_in_store.MESSAGE_ANSWER: "wrote a message"}

    @property
    def can_send(self) -> bool:
        return self.sender.twilio is not None

    def start(self) -> None:
        if self.scheduler is None:
            self.scheduler = start_scheduler(self.engine, self.sender)

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None

    def for_console(self, row: dict) -> dict:
        """An enrolment as the console shows it: each answer with its word."""
        return {**row, "answers": [{**answer, "word": self.answer_words.get(answer["answer"], answer["answer"])}
                                   for answer in row["answers"]]}

    def now(self) -> datetime:
        return self.clock.now()

    async def send_now(self, message_id: int) -> str:
        """Send a text that is due (the consent request) while the caller waits; what became of it."""
        return await asyncio.get_running_loop().run_in_executor(SEND_THREADS, self.sender.deliver, message_id)

    def planned(self, messages: list[tuple[int, datetime]]) -> None:
        for message_id, due in messages:
            self.sender.schedule(message_id, due)

    # ------------------------------------------------------------ the SMS channel

    async def stop_number(self, phone: str) -> None:
        """STOP: the number's check-ins end, their pending jobs go."""
        seconds = database_bound()
        cancelled = await self.lookups.run(check_in_store.stop_for_phone, self.engine, phone, self.now(),
                                           timeout=seconds)
        await self.lookups.run(remove_jobs, self.engine, cancelled, timeout=seconds)

    async def consent(self, phone: str, body: str) -> str | None:
        """The reply to a YES that starts check-ins; None when the message is not that."""
        if not check_in_replies.is_consent(body):
            return None
        # A YES is no red flag: it may wait for the database's own bounds, not to lose the consent.
        consented = await self.lookups.run(check_in_replies.consent, self.engine, phone, self.now(),
                                           self.settings, self.texts, self.contacts, timeout=database_bound())
        if consented is None:
            return None
        self.planned(consented.planned)
        return consented.text

    async def answer(self, phone: str, body: str) -> check_in_replies.Answered | None:
        return await self.lookups.run(check_in_replies.answer, self.engine, phone, body, self.now(), self.texts)


@lru_cache(maxsize=1)
def runtime() -> CheckIns:
    return CheckIns()
