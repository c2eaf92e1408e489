"""The triage note: what a nurse pastes into the patient's record for an escalation or an assessment.

Built from the patient's (or caller's) words and what the assistant did with them: the
signs reported, in their words; the pertinent negatives (the signs the words deny); the
time since the procedure when they say it; the procedure; the disposition with the reply
the patient was given, verbatim; the sources; the time. Nothing here adds clinical
content: the signs, their labels and the urgencies are triage's, the disposition text is
the console's existing recommended action.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Mapping, Sequence

import dateparser
from dateparser.languages.loader import default_loader
from dateparser.search import search_dates
from dateutil.relativedelta import relativedelta

from assistant import triage

# "on the 12th": a day with no month. dateparser reads a lone ordinal as a month unless
# told the day comes first, and then gives this month's day even if it is still to come.
DAY_OF_MONTH_ONLY = re.compile(r"^(?:on\s+)?(?:the\s+)?\d{1,2}(?:st|nd|rd|th)$", re.IGNORECASE)
ENGLISH = default_loader.get_locale("en").info
AGO_WORDS = frozenset(ENGLISH["ago"])  # "ago", "before"
SKIP_WORDS = frozenset(ENGLISH["skip"])  # "and", "at", "the", ...: dateparser reads past them
NOW_WORDS = re.compile(r"\b(?:now|rn)\b", re.IGNORECASE)


def parse_phrase(phrase: str, now: datetime) -> datetime | None:
    settings = {"PREFER_DATES_FROM": "past", "RELATIVE_BASE": now, "RETURN_AS_TIMEZONE_AWARE": False}
    if DAY_OF_MONTH_ONLY.match(phrase.strip()):
        parsed = dateparser.parse(phrase, languages=["en"], settings={**settings, "DATE_ORDER": "DMY"})
        return parsed - relativedelta(months=1) if parsed and parsed > now else parsed
    return dateparser.parse(phrase, languages=["en"], settings=settings)


def tightest(phrase: str, date: datetime, now: datetime) -> str:
    """The phrase without trailing words that change nothing ("yesterday and now": "yesterday").

    "ago" is kept: "3 days" gives the same date, but the patient said "3 days ago".
    """
    words = phrase.split()
    while (len(words) > 1 and words[-1].lower().strip(",.;") not in AGO_WORDS
           and parse_phrase(" ".join(words[:-1]), now) == date):
        words = words[:-1]
    return " ".join(words).strip(" ,.;")


def without_trailing_skips(words: str) -> str:
    """"on the 12th and": "on the 12th" (search_dates keeps the filler words it read past)."""
    kept = words.strip(" ,.;").split()
    while len(kept) > 1 and kept[-1].lower() in SKIP_WORDS:
        kept.pop()
    return " ".join(kept).strip(" ,.;")


def time_since_procedure(text: str, now: datetime, procedure_spans: Sequence[tuple[int, int]] = ()) -> dict | None:
    """Days since the procedure and the words that say so ("3 days ago"), or None if no past date is named.

    Of several dates, the one nearest a mention of the procedure (``procedure_spans``,
    character offsets of the NLU's procedure entities) wins; else the first. "Now" is
    not a date of the procedure, and neither is a date still to come.
    """
    base = now.astimezone(timezone.utc).replace(tzinfo=None)
    found = search_dates(text, languages=["en"], settings={"PREFER_DATES_FROM": "past", "RELATIVE_BASE": base}) or []
    candidates = []
    cursor = 0
    for words, _ in found:
        start = text.find(words, cursor)
        cursor = start + len(words) if start >= 0 else cursor
        phrase = without_trailing_skips(words)
        date = parse_phrase(phrase, base)
        if date is None or date > base or (date == base and NOW_WORDS.search(phrase)):
            continue
        distance = min((abs(start - span_start) for span_start, _ in procedure_spans), default=0)
        candidates.append((distance, start, phrase, date))
    if not candidates:
        return None
    _, _, phrase, date = min(candidates, key=lambda candidate: candidate[:2])
    return {"days": (base.date() - date.date()).days, "words": tightest(phrase, date, base)}


def sign_entry(finding: triage.Finding) -> dict:
    return {"sign": finding.sign, "label": triage.warning_sign(finding.sign).label,
            "urgency": triage.warning_sign(finding.sign).urgency, "words": finding.words}


def build_note(
    *, text: str, procedure: str | None, urgency: str, action: str, reply: Sequence[str] | None,
    sources: Sequence[str], at: datetime, now: datetime | None = None,
    procedure_spans: Sequence[tuple[int, int]] = (),
) -> dict:
    """The note for one message. ``reply`` is what the patient was sent (None for a caller's
    words assessed by the nurse); ``at`` when it happened; ``now`` anchors "yesterday"."""
    findings = triage.assess(text).findings
    reported = list({finding.sign: finding for finding in findings if finding.reported}.values())
    denied = list({finding.sign: finding for finding in findings if finding.reason == "denied"}.values())
    return {
        "at": at.astimezone(timezone.utc).isoformat(),
        "signs": [sign_entry(finding) for finding in reported],
        "negatives": [sign_entry(finding) for finding in denied],
        "time_since_procedure": time_since_procedure(text, now or at, procedure_spans),
        "procedure": procedure,
        "disposition": {"urgency": urgency, "action": action, "reply": None if reply is None else list(reply)},
        "sources": list(sources),
    }


def procedure_spans(parse_data: Mapping) -> list[tuple[int, int]]:
    return [
        (entity["start"], entity["end"]) for entity in parse_data.get("entities", [])
        if entity.get("entity") == "procedure" and isinstance(entity.get("start"), int)
    ]


def days(count: int) -> str:
    return "today" if count == 0 else f"{count} day{'s' if count != 1 else ''}"


def as_text(note: Mapping, heading: str) -> str:
    """The note as plain text for the patient's record (the console's "copy note")."""
    at = datetime.fromisoformat(note["at"]).strftime("%Y-%m-%d %H:%M UTC")
    since = note["time_since_procedure"]
    disposition = note["disposition"]
    lines = [heading, f"Time: {at}", f"Procedure: {note['procedure'] or 'not stated'}"]
    check_in = note.get("check_in")
    if check_in:
        answer = check_in.get("answer") or "no reply"
        lines.append(f"Check-in: day {check_in['day']} after {check_in['procedure']} on {check_in['procedure_date']}, "
                     f"sent {check_in['sent_at']}" + (f"; answer: {answer}" if "answer" in check_in else ""))
    lines.append(
        f"Time since procedure: {days(since['days'])} (\"{since['words']}\")" if since
        else "Time since procedure: not stated"
    )
    lines.append("Signs reported: " + (
        "; ".join(f"{sign['label']} (\"{sign['words']}\")" for sign in note["signs"]) or "none"))
    lines.append("Pertinent negatives: " + (
        "; ".join(f"denies {sign['label']} (\"{sign['words']}\")" for sign in note["negatives"]) or "none stated"))
    lines.append(f"Disposition: {disposition['urgency'].upper()}. {disposition['action']}")
    if disposition["reply"] is not None:
        lines.append("Reply given to the patient:")
        lines.extend([f"  \"{text}\"" for text in disposition["reply"]] or ["  (none stored)"])
    lines.append("Sources: " + (", ".join(note["sources"]) or "none"))
    return "\n".join(lines)
