"""What the check-in tests share: a clock the test sets, and a clinic's check-in set-up on one database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from assistant import check_in_replies, check_in_store, sms
from assistant.check_in_sender import CheckInSender
from assistant.check_ins import Enrolment, load_settings, load_texts
from assistant.settings import load_contacts
from assistant.twilio_sms import TwilioSettings


class SetClock:
    """The time is what the test says it is."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


# Zones far enough apart that in one of them it is always daytime: a text goes at once, outside the quiet hours,
# whatever the hour the tests run.
ZONES = ("America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")


def daytime_zone() -> str:
    return next(zone for zone in ZONES if 9 <= datetime.now(ZoneInfo(zone)).hour < 19)


def twilio_settings(twilio) -> TwilioSettings:
    """The stand-in's settings, as a server pointed at it reads them."""
    return TwilioSettings(twilio.account_sid, twilio.auth_token, twilio.from_number, 1.0, twilio.url)


@dataclass
class Clinic:
    """One database, one clock, one sender; the patient's side of the SMS channel, as channels/sms.py calls it."""

    engine: Engine
    clock: SetClock
    sender: CheckInSender

    @classmethod
    def on(cls, engine: Engine, twilio, clock: SetClock, worker: str = "test") -> "Clinic":
        sender = CheckInSender(engine, clock=clock, settings=load_settings(), texts=load_texts(),
                               contacts=load_contacts(), twilio=twilio_settings(twilio), worker=worker)
        return cls(engine, clock, sender)

    def enrol(self, phone: str, procedure_date: date, zone: str = "America/New_York", first_name: str | None = "Maria",
              procedure: str = "kyphoplasty") -> int:
        enrolment_id, request_id = check_in_store.enrol(
            self.engine, Enrolment(phone, first_name, procedure, procedure_date, zone), "nurse-ann",
            self.clock.now(), load_settings())
        self.sender.deliver(request_id)
        return enrolment_id

    def text_from(self, phone: str, body: str) -> str | None:
        """The patient texts the clinic: the check-in reply, or None when it goes on to the assistant."""
        if body == "STOP":
            sms.set_opted_out(self.engine, phone, True)
            check_in_store.stop_for_phone(self.engine, phone, self.clock.now())
            return sms.stop_text()
        if check_in_replies.is_consent(body):
            consented = check_in_replies.consent(self.engine, phone, self.clock.now(), load_settings(), load_texts(),
                                                 load_contacts())
            if consented:
                return consented.text
        answered = check_in_replies.answer(self.engine, phone, body, self.clock.now(), load_texts())
        return answered.text if answered else None

    def at(self, moment: datetime) -> list[str]:
        """Move the clock to ``moment`` and send what is due then."""
        self.clock.moment = moment
        return self.sender.sweep()


def bodies_to(twilio, phone: str) -> list[str]:
    return [message["Body"] for message in twilio.messages if message["To"] == phone]
