"""What a text from a number enrolled for check-ins means, before the assistant sees it.

- "YES" from a number whose enrolment awaits consent: the check-ins start (and the number's
  opt-out, if any, is lifted: YES is their new opt-in). From any other number it is a
  message like any other: unknown numbers are never enrolled.
- The first message after a check-in answers it. A lone 1, 2 or 3 (or its word) is the
  answer: an acknowledgement, and for "worse" an urgent check_in item for the nurses. So a
  number right after a check-in is the check-in's answer, never an option of the dialogue;
  from the next message on, numbers pick the dialogue's options again.
- Any other first message goes to the assistant as usual (answers, triage advice and
  escalations), carrying the check-in as context for the nurse's triage note.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from assistant import check_in_store as store
from assistant import sms
from assistant.check_ins import CheckInSettings, CheckInTexts, consent_given_text, read_answer
from assistant.escalations import CHECK_IN, record_escalation
from assistant.settings import Contacts
from assistant.vocabulary import URGENT

CONSENT_WORD = "YES"


@dataclass(frozen=True)
class Consented:
    text: str  # the reply to the YES
    planned: list[tuple[int, datetime]]  # the check-ins planned: (outbox id, when)


@dataclass(frozen=True)
class Answered:
    text: str | None  # the reply to a 1, 2 or 3; None: the message goes to the assistant
    context: dict | None = None  # the check-in the message answers, for the assistant's turn


def is_consent(body: str) -> bool:
    return body.strip().rstrip(".!").strip().upper() == CONSENT_WORD


def consent(engine: Engine, phone: str, now: datetime, settings: CheckInSettings, texts: CheckInTexts,
            contacts: Contacts) -> Consented | None:
    """Start the check-ins of a number awaiting consent; None when it awaits none."""
    enrolment = store.consent(engine, phone, now, settings)
    if enrolment is None:
        return None
    sms.set_opted_out(engine, phone, False)
    text = consent_given_text(texts, settings, contacts, procedure=enrolment["procedure"],
                              procedure_date=enrolment["procedure_date"])
    return Consented(text, enrolment["planned"])


def answer(engine: Engine, phone: str, body: str, now: datetime, texts: CheckInTexts) -> Answered | None:
    """The number's message as the answer to its pending check-in; None when none is pending."""
    pending = store.pending_check_in(engine, phone)
    if pending is None:
        return None
    given = read_answer(body, texts)
    recorded = str(given.number) if given else store.MESSAGE_ANSWER
    if not store.record_answer(engine, pending["message_id"], recorded, now):
        return None  # another message answered it a moment ago: this one is an ordinary message
    if given is None:
        return Answered(None, {key: pending[key] for key in ("day", "procedure", "procedure_date", "sent_at")})
    if given.escalate:
        escalation = record_escalation(engine, sender_id=phone, channel="sms", urgency=URGENT, signs=[],
                                       matched_words=[], kind=CHECK_IN, now=now)
        store.link_escalation(engine, pending["message_id"], escalation)
    return Answered(given.reply)
