"""Check-ins after the procedure: the clinic's settings, the reviewed texts, enrolment checks,
the plan of check-in times, the texts as sent, and what a patient's reply means.

Plain Python and plain data: the database (assistant/check_in_store.py), the sending
(assistant/check_in_sender.py) and the HTTP and SMS glue (channels/) build on this. Every
function that needs the time takes it (`now`) from a `Clock`, so the tests drive a whole
programme in seconds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
import yaml

from assistant import gsm7
from assistant.render import SMS_MESSAGE_LIMIT, to_gsm7
from assistant.settings import PROJECT_ROOT, Contacts, clinic_file, load_contacts
from assistant.triage_rules import CALL_YOUR_DOCTOR
from assistant.vocabulary import EMERGENCY, PROCEDURES, URGENT

CHECK_IN_TEXTS_FILE = PROJECT_ROOT / "data" / "check_ins.yml"
FIRST_NAME = re.compile(r"^[^\W\d_][^\W\d_' -]*(?:['\- ][^\W\d_]+)*$")
MAX_FIRST_NAME_CHARS = 20  # the check-in must still fit three segments with the longest name


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class CheckInSettingsError(ValueError):
    """clinic.yml's check_ins section or data/check_ins.yml is wrong; the message names the file and entry."""


class EnrolmentError(ValueError):
    """An enrolment that cannot be accepted; the message names the field, never its value."""


@dataclass(frozen=True)
class QuietHours:
    start: int  # local hour from which nothing is sent
    end: int  # local hour until which nothing is sent

    def covers(self, hour: int) -> bool:
        if self.start > self.end:  # across midnight: 21 until 8
            return hour >= self.start or hour < self.end
        return self.start <= hour < self.end


@dataclass(frozen=True)
class CheckInSettings:
    time_zone: str
    days: tuple[int, ...]
    local_hour: int
    quiet_hours: QuietHours
    enrol_up_to_days_ahead: int
    no_reply_alert: bool
    no_reply_hours: int
    retries: int
    retry_minutes: int

    def retry_delay(self, attempt: int) -> timedelta:
        """The wait before the retry that follows failed attempt number ``attempt`` (1, 2, ...)."""
        return timedelta(minutes=self.retry_minutes * 2 ** (attempt - 1))


def whole(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CheckInSettingsError(f"{where} must be a whole number from {low} to {high}")
    return value


def valid_zone(name: Any) -> bool:
    return isinstance(name, str) and name in zone_names()


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=None)
def load_settings(path: Path | None = None) -> CheckInSettings:
    path = path or clinic_file()
    with open(path, encoding="utf-8") as handle:
        raw = (yaml.safe_load(handle) or {}).get("check_ins")
    where = f"{path}: check_ins"
    if not isinstance(raw, dict):
        raise CheckInSettingsError(f"{where} must be a mapping (see README, Check-ins)")
    known = {"time_zone", "days", "local_hour", "quiet_hours", "enrol_up_to_days_ahead", "no_reply_alert",
             "no_reply_hours", "retries", "retry_minutes"}
    if set(raw) != known:
        raise CheckInSettingsError(f"{where} needs exactly {sorted(known)}; missing {sorted(known - set(raw))}, "
                                   f"unknown {sorted(set(raw) - known)}")
    if not valid_zone(raw["time_zone"]):
        raise CheckInSettingsError(f"{where}.time_zone must be an IANA time zone such as America/New_York")
    days = raw["days"]
    if not isinstance(days, list) or not days or [whole(day, f"{where}.days", 1, 365) for day in days] != sorted(set(days)):
        raise CheckInSettingsError(f"{where}.days must be a list of increasing day numbers from 1")
    quiet = raw["quiet_hours"]
    if not isinstance(quiet, dict) or set(quiet) != {"from", "until"}:
        raise CheckInSettingsError(f"{where}.quiet_hours must be {{from: HOUR, until: HOUR}}")
    quiet_hours = QuietHours(whole(quiet["from"], f"{where}.quiet_hours.from", 0, 23),
                             whole(quiet["until"], f"{where}.quiet_hours.until", 0, 23))
    local_hour = whole(raw["local_hour"], f"{where}.local_hour", 0, 23)
    if quiet_hours.covers(local_hour):
        raise CheckInSettingsError(f"{where}.local_hour is within quiet_hours: check-ins are never sent at night")
    if not isinstance(raw["no_reply_alert"], bool):
        raise CheckInSettingsError(f"{where}.no_reply_alert must be true or false")
    return CheckInSettings(
        time_zone=raw["time_zone"], days=tuple(days), local_hour=local_hour, quiet_hours=quiet_hours,
        enrol_up_to_days_ahead=whole(raw["enrol_up_to_days_ahead"], f"{where}.enrol_up_to_days_ahead", 1, 365),
        no_reply_alert=raw["no_reply_alert"],
        no_reply_hours=whole(raw["no_reply_hours"], f"{where}.no_reply_hours", 1, 24 * 14),
        retries=whole(raw["retries"], f"{where}.retries", 0, 10),
        retry_minutes=whole(raw["retry_minutes"], f"{where}.retry_minutes", 1, 24 * 60),
    )


# ---------------------------------------------------------------- the reviewed texts

@dataclass(frozen=True)
class AnswerText:
    number: int
    word: str
    reply: str  # contacts filled in
    escalate: bool


@dataclass(frozen=True)
class CheckInTexts:
    greeting: str
    greeting_named: str
    consent_request: str
    consent_given: str
    check_in: str
    answers: tuple[AnswerText, ...]
    urgent_signs: str
    emergency_signs: str


def in_words(items: Sequence[str], conjunction: str = "and") -> str:
    """"a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def signs_to_call_about() -> tuple[str, str]:
    """The labels of the signs on the leaflet's "Call your doctor" list (the clinic policy's
    ``listed_in``): those the clinic's policy calls urgent, and those it sends to the
    emergency number."""
    from assistant.triage import engine  # the triage rules, loaded and checked once per process

    policy = engine().rules.policy.values()
    listed = [sign for sign in policy if CALL_YOUR_DOCTOR in sign.listed_in]
    by_urgency = {urgency: [sign.label for sign in listed if sign.urgency == urgency] for urgency in (URGENT, EMERGENCY)}
    return in_words(by_urgency[URGENT], "or"), in_words(by_urgency[EMERGENCY], "or")


def hour_text(hour: int) -> str:
    return f"{hour % 12 or 12} {'am' if hour < 12 else 'pm'}"


# The longest values a text is filled with, to check at load that every text fits one message.
LONGEST_SAMPLE = {"first_name": "X" * MAX_FIRST_NAME_CHARS, "procedure": max(PROCEDURES, key=len),
                  "procedure_date": "2026-12-31", "day": "365", "count": "10"}


def checked_text(raw: Mapping, key: str, path: Path, contacts: Contacts, sample: dict[str, str]) -> str:
    text = raw.get(key)
    if not isinstance(text, str) or not text.strip():
        raise CheckInSettingsError(f"{path}: '{key}' must be a non-empty text")
    try:
        filled = text.strip().format(**contacts.as_placeholders(), **sample)
    except (KeyError, IndexError, ValueError) as error:
        raise CheckInSettingsError(f"{path}: '{key}' has a bad placeholder ({error})") from None
    if to_gsm7(filled) != filled.strip():
        raise CheckInSettingsError(f"{path}: '{key}' has characters a plain text message cannot carry")
    if gsm7.septet_length(filled) > SMS_MESSAGE_LIMIT:
        raise CheckInSettingsError(f"{path}: '{key}' takes {gsm7.septet_length(filled)} characters filled in; "
                                   f"a text message holds at most {SMS_MESSAGE_LIMIT}")
    return text.strip()


@lru_cache(maxsize=None)
def load_texts(path: Path = CHECK_IN_TEXTS_FILE, contacts: Contacts | None = None,
               settings: CheckInSettings | None = None) -> CheckInTexts:
    contacts = contacts or load_contacts()
    settings = settings or load_settings()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {"greeting", "greeting_named", "consent_request", "consent_given", "check_in", "answers"}
    if not isinstance(raw, dict) or set(raw) != known:
        raise CheckInSettingsError(f"{path}: needs exactly {sorted(known)}")
    urgent_signs, emergency_signs = signs_to_call_about()
    named = checked_text(raw, "greeting_named", path, contacts, LONGEST_SAMPLE)
    sample = {**LONGEST_SAMPLE, "greeting": named.format(**LONGEST_SAMPLE), "days": days_text(settings.days),
              "hour": hour_text(settings.local_hour), "urgent_signs": urgent_signs, "emergency_signs": emergency_signs}
    answers = raw["answers"]
    if not isinstance(answers, list) or [entry.get("number") if isinstance(entry, dict) else None
                                         for entry in answers] != [1, 2, 3]:
        raise CheckInSettingsError(f"{path}: 'answers' must be the entries for 1, 2 and 3, in order")
    parsed = []
    for index, entry in enumerate(answers):
        where = f"answers[{index}]"
        if set(entry) - {"number", "word", "reply", "escalate"} or not isinstance(entry.get("word"), str) \
                or not isinstance(entry.get("escalate", False), bool):
            raise CheckInSettingsError(f"{path}: '{where}' has number, word, reply and optionally escalate (true/false)")
        reply = checked_text(entry, "reply", path, contacts, sample)
        parsed.append(AnswerText(entry["number"], entry["word"].strip().lower(),
                                 reply.format(**contacts.as_placeholders()), entry.get("escalate", False)))
    return CheckInTexts(
        greeting=checked_text(raw, "greeting", path, contacts, LONGEST_SAMPLE), greeting_named=named,
        consent_request=checked_text(raw, "consent_request", path, contacts, sample),
        consent_given=checked_text(raw, "consent_given", path, contacts, sample),
        check_in=checked_text(raw, "check_in", path, contacts, sample),
        answers=tuple(parsed), urgent_signs=urgent_signs, emergency_signs=emergency_signs,
    )


# ---------------------------------------------------------------- enrolment

@dataclass(frozen=True)
class Enrolment:
    """What a nurse enrols: the patient's mobile number (E.164), first name, procedure, its date and time zone."""

    phone: str
    first_name: str | None
    procedure: str
    procedure_date: date
    time_zone: str


def e164(given: Any) -> str | None:
    """The number in E.164 ("+16175550123") when it is written with its country code and has a
    possible length for that country; else None. "Possible", not "valid": which ranges are in
    use changes with every release of the numbering data, and a number just assigned must pass."""
    if not isinstance(given, str) or not given.strip().startswith("+"):
        return None
    try:
        number = phonenumbers.parse(given, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def local_today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def validate_enrolment(body: Mapping[str, Any], settings: CheckInSettings, now: datetime) -> Enrolment:
    """The enrolment a nurse asked for, checked; EnrolmentError names the first bad field."""
    if body.get("consent") is not True:
        raise EnrolmentError("'consent' must be true: the patient agreed to be sent the check-in invitation.")
    phone = e164(body.get("phone"))
    if phone is None:
        raise EnrolmentError("'phone' must be a mobile number in international form, e.g. +16175550123.")
    first_name = body.get("first_name")
    if first_name is not None and not isinstance(first_name, str):
        raise EnrolmentError("'first_name' must be text, or left out.")
    first_name = " ".join((first_name or "").split()) or None
    if first_name and (len(first_name) > MAX_FIRST_NAME_CHARS or not FIRST_NAME.match(first_name)
                       or to_gsm7(first_name) != first_name):
        raise EnrolmentError(f"'first_name' must be a name of at most {MAX_FIRST_NAME_CHARS} letters "
                             "(spaces, hyphens and apostrophes allowed), or left out.")
    procedure = body.get("procedure")
    if procedure not in PROCEDURES:
        raise EnrolmentError(f"'procedure' must be one of {', '.join(PROCEDURES)}.")
    zone = body.get("time_zone") or settings.time_zone
    if not valid_zone(zone):
        raise EnrolmentError("'time_zone' must be an IANA time zone such as America/New_York, or left out.")
    raw_date = body.get("procedure_date")
    try:
        procedure_date = date.fromisoformat(raw_date) if isinstance(raw_date, str) else None
    except ValueError:
        procedure_date = None
    if procedure_date is None:
        raise EnrolmentError("'procedure_date' must be a date as YYYY-MM-DD.")
    today = local_today(now, zone)
    if procedure_date < today - timedelta(days=settings.days[0]):
        raise EnrolmentError(f"'procedure_date' is too far in the past: the first check-in (day {settings.days[0]}) "
                             "would already be over.")
    if procedure_date > today + timedelta(days=settings.enrol_up_to_days_ahead):
        raise EnrolmentError(f"'procedure_date' is more than {settings.enrol_up_to_days_ahead} days ahead.")
    return Enrolment(phone, first_name, procedure, procedure_date, zone)


# ---------------------------------------------------------------- the plan

def sendable_at(moment: datetime, zone: str, quiet: QuietHours) -> datetime:
    """``moment``, or the end of the quiet hours it falls in (the patient's local time), in UTC."""
    local = moment.astimezone(ZoneInfo(zone))
    if not quiet.covers(local.hour):
        return moment
    end_day = local.date() if local.hour < quiet.end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, time(quiet.end), ZoneInfo(zone)).astimezone(timezone.utc)


def plan(procedure_date: date, zone: str, settings: CheckInSettings) -> list[tuple[int, datetime]]:
    """Each check-in day with its time in UTC: local_hour on that day in the patient's zone
    (zoneinfo keeps it at that local hour across a daylight-saving change)."""
    return [
        (day, datetime.combine(procedure_date + timedelta(days=day), time(settings.local_hour), ZoneInfo(zone))
         .astimezone(timezone.utc))
        for day in settings.days
    ]


# ---------------------------------------------------------------- the texts as sent

def days_text(days: Sequence[int]) -> str:
    return in_words([str(day) for day in days])


def greeting(texts: CheckInTexts, first_name: str | None) -> str:
    return texts.greeting_named.format(first_name=first_name) if first_name else texts.greeting


def sms(text: str) -> str:
    """A text as sent: plain GSM-7, never over one message's segments (checked at load with the longest values)."""
    plain = to_gsm7(text).strip()
    if gsm7.septet_length(plain) > SMS_MESSAGE_LIMIT:
        raise ValueError("a check-in text is over one message's segment limit")
    return plain


def fields(texts: CheckInTexts, settings: CheckInSettings, contacts: Contacts, first_name: str | None,
           procedure: str, procedure_date: date) -> dict[str, str]:
    return {**contacts.as_placeholders(), "greeting": greeting(texts, first_name), "procedure": procedure,
            "procedure_date": procedure_date.isoformat(), "days": days_text(settings.days),
            "count": str(len(settings.days)), "hour": hour_text(settings.local_hour),
            "urgent_signs": texts.urgent_signs, "emergency_signs": texts.emergency_signs}


def consent_request_text(texts: CheckInTexts, settings: CheckInSettings, contacts: Contacts, *,
                         first_name: str | None, procedure: str, procedure_date: date) -> str:
    return sms(texts.consent_request.format(**fields(texts, settings, contacts, first_name, procedure, procedure_date)))


def consent_given_text(texts: CheckInTexts, settings: CheckInSettings, contacts: Contacts, *,
                       procedure: str, procedure_date: date) -> str:
    return sms(texts.consent_given.format(**fields(texts, settings, contacts, None, procedure, procedure_date)))


def check_in_text(texts: CheckInTexts, settings: CheckInSettings, contacts: Contacts, *, day: int,
                  first_name: str | None, procedure: str, procedure_date: date) -> str:
    values = fields(texts, settings, contacts, first_name, procedure, procedure_date)
    return sms(texts.check_in.format(**values, day=day))


# ---------------------------------------------------------------- replies

def read_answer(text: str, texts: CheckInTexts) -> AnswerText | None:
    """The check-in answer a message gives: the whole message is 1, 2 or 3 (or its word,
    "worse"); None for anything else, which is a message for the assistant."""
    said = text.strip().rstrip(".!").strip().lower()
    return next((answer for answer in texts.answers if said in (str(answer.number), answer.word)), None)
