"""SMS: keywords, opt-outs, and fitting a turn's replies into one plain-text message."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import Column, DateTime, String, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant import gsm7
from assistant.db import Base
from assistant.settings import Contacts

REPLY_LIMIT = 320  # GSM-7 characters in one reply (two SMS segments)
MORE_LIMIT = 3 * 153  # GSM-7 characters in three concatenated segments
MORE_HINT = "Reply MORE for more."
PROGRAM_NAME = "Spine procedure questions"

KEYWORDS = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "stop"),
    "START": "start",
    "UNSTOP": "start",
    "HELP": "help",
    "INFO": "help",
    "MORE": "more",
}
ASCII_FOR = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u00a0": " ", "\u2022": "-",
}


def keyword(text: str) -> str | None:
    """stop, start, help or more when the whole message is one of those keywords."""
    return KEYWORDS.get(text.strip().strip(".!").upper())


def choice(text: str) -> int | None:
    """The option number when the whole message is a digit: "1" or " 2 "."""
    stripped = text.strip().rstrip(".")
    return int(stripped) if stripped.isdigit() and len(stripped) == 1 else None


def to_gsm7(text: str) -> str:
    """Plain GSM-7 text: typographic punctuation made ASCII, anything else outside GSM-7 dropped."""
    text = "".join(ASCII_FOR.get(char, char) for char in text)
    text = re.sub(r"[*_`#]", "", text)  # no markdown in SMS
    return "".join(char for char in text if gsm7.is_gsm7(char))


def fit(text: str, limit: int, suffix: str = "") -> str:
    """``text`` cut at a sentence end so that it and ``suffix`` fit in ``limit`` septets."""
    text = to_gsm7(text)
    if gsm7.septet_length(text) <= limit:
        return text
    room = limit - gsm7.septet_length(suffix) - 1
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = ""
    for sentence in sentences:
        candidate = f"{kept} {sentence}".strip()
        if gsm7.septet_length(candidate) > room:
            break
        kept = candidate
    if not kept:  # one long sentence: cut at a word
        kept = text[: max(room - 3, 0)].rsplit(" ", 1)[0] + "..."
    return f"{kept} {suffix}".strip()


def options_line(titles: list[str]) -> str:
    numbered = ", ".join(f"{number} for {title}" for number, title in enumerate(titles, start=1))
    return f"Reply {numbered}."


@dataclass
class Turn:
    """A turn's bot messages, sorted by what the SMS must keep."""

    advice: str | None  # triage advice: always first, never cut
    body: list[str]
    options: list[str]  # suggestion titles, numbered in the reply
    disclaimer: bool


def split_turn(messages: list[dict], disclaimer: str) -> Turn:
    texts = [m["text"] for m in messages if m.get("text")]
    triage = any((m.get("custom") or {}).get("type") == "triage" for m in messages)
    has_disclaimer = disclaimer in texts
    texts = [text for text in texts if text != disclaimer and not text.startswith("Source:")]
    advice = texts.pop(0) if triage and texts else None
    options = [b["title"] for m in messages for b in (m.get("buttons") or [])]
    return Turn(advice, texts, options, has_disclaimer)


def compose_reply(turn: Turn, disclaimer: str, limit: int = REPLY_LIMIT) -> str:
    """One SMS of at most ``limit`` GSM-7 characters: advice, answer, options, disclaimer."""
    fixed_head = to_gsm7(turn.advice) if turn.advice else ""
    fixed_tail = [options_line(turn.options)] if turn.options else []
    if turn.disclaimer:
        fixed_tail.append(to_gsm7(disclaimer))
    body = " ".join(turn.body)

    def joined(middle: str, tail: list[str]) -> str:
        return "\n".join(part for part in (fixed_head, middle, *tail) if part)

    while fixed_tail and gsm7.septet_length(joined("", fixed_tail)) > limit:
        fixed_tail.pop()  # the advice outranks everything after it
    whole = joined(to_gsm7(body), fixed_tail)
    if gsm7.septet_length(whole) <= limit:
        return whole
    room = limit - gsm7.septet_length(joined("", fixed_tail)) - 1
    if room < gsm7.septet_length(MORE_HINT) + 20:
        return joined(MORE_HINT if body and room >= len(MORE_HINT) else "", fixed_tail)
    return joined(fit(body, room, MORE_HINT), fixed_tail)


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
