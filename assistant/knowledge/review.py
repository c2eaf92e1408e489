"""The checks a clinician's review of the knowledge base relies on, as plain data.

For every answer: each figure it gives must be one a leaflet it cites states; no run
of 8 or more words may be copied from any leaflet; the reading grade (Flesch-Kincaid)
should be 8 or under; the SMS text must fit its limit; and no cited leaflet may have
changed since the answer was reviewed. Each fact's leaflet wording must still be in
its leaflet. `make test` fails on the blocking flags; `make review` shows them all
(scripts/review.py).
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

import textstat

from assistant import gsm7
from assistant.knowledge.facts import limit_values
from assistant.knowledge.load import SMS_MAX_SEPTETS, KnowledgeFiles
from assistant.settings import Contacts

COPIED_RUN_WORDS = 8
MAX_GRADE = 8.0  # patient education is written for grade 6-8

UNSUPPORTED_FIGURE = "unsupported_figure"
COPIED_RUN = "copied_run"
GRADE_OVER_MAX = "grade_over_max"
SMS_TOO_LONG = "sms_too_long"
SOURCE_CHANGED = "source_changed"
FLAG_LABELS = {
    UNSUPPORTED_FIGURE: "figure no cited leaflet states",
    COPIED_RUN: f"{COPIED_RUN_WORDS}+ words copied from a leaflet",
    GRADE_OVER_MAX: f"reading grade over {MAX_GRADE:g}",
    SMS_TOO_LONG: f"SMS over {SMS_MAX_SEPTETS} GSM-7 characters",
    SOURCE_CHANGED: "cited leaflet changed since review",
}
# What fails the build: wrong or copied content, or an SMS that cannot be sent whole.
BLOCKING = frozenset({UNSUPPORTED_FIGURE, COPIED_RUN, SMS_TOO_LONG})

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "hundred": 100,
}
# Units a figure may carry, singular; time units in minutes, so "one week" supports "7 days".
UNITS = {"minute": 1, "hour": 60, "day": 60 * 24, "week": 60 * 24 * 7, "month": None, "year": None,
         "percent": None, "needle": None, "people": None}
UNIT_ALIASES = {"%": "percent", "person": "people", "patients": "people"}
NUMBER = r"\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS)
UNIT = r"%|(?:" + "|".join(sorted({*UNITS, *UNIT_ALIASES} - {"%"}, key=len, reverse=True)) + r")s?\b"
FIGURE = re.compile(
    rf"(?<![\w.])(?P<low>{NUMBER})(?:\s*(?:-|–|to|or)\s*(?P<high>{NUMBER}))?"
    rf"(?P<million>\s+million)?(?:\s*(?P<unit>{UNIT}))?"
    rf"|\b(?:an?|another|the next)\s+(?P<single>minute|hour|day|week|month|year)\b",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class Figure:
    value: float  # in minutes for a time unit
    unit: str | None  # "minutes" for every time unit
    text: str  # as written
    start: int
    end: int


def canonical(value: float, unit: str | None) -> tuple[float, str | None]:
    if unit is None:
        return value, None
    unit = UNIT_ALIASES.get(unit.lower(), unit.lower())
    unit = unit[:-1] if unit.endswith("s") and unit[:-1] in UNITS else unit
    minutes = UNITS.get(unit)
    return (value * minutes, "minutes") if minutes else (value, unit)


def number_value(token: str) -> float:
    return float(NUMBER_WORDS.get(token.lower(), token))


def figures(text: str) -> list[Figure]:
    """The figures a text gives: "6 hours", "1 to 2 days" (two), "95%", "2007", "about an hour".

    A number word counts only with a unit ("one hour", not "one leaflet").
    """
    found = []
    for match in FIGURE.finditer(PLACEHOLDER.sub(lambda m: " " * len(m.group()), text)):
        if match.group("single"):
            value, unit = canonical(1, match.group("single"))
            found.append(Figure(value, unit, match.group(), match.start(), match.end()))
            continue
        unit = match.group("unit")
        scale = 1_000_000 if match.group("million") else 1
        for token in filter(None, (match.group("low"), match.group("high"))):
            if token.lower() in NUMBER_WORDS and not (unit or scale > 1):
                continue
            value, canonical_unit = canonical(number_value(token) * scale, unit)
            found.append(Figure(value, canonical_unit, match.group(), match.start(), match.end()))
    return found


def supports(stated: list[Figure], figure: Figure) -> bool:
    """A leaflet figure states ``figure``: same value, and the same unit when the answer gives one."""
    return any(
        other.value == figure.value and (figure.unit is None or other.unit == figure.unit) for other in stated
    )


def words(text: str) -> list[str]:
    return WORD.findall(PLACEHOLDER.sub(" ", text.lower().replace("’", "'")))


def leaflet_runs(files: KnowledgeFiles) -> dict[tuple[str, ...], str]:
    """Every run of COPIED_RUN_WORDS words in the leaflets, with the first leaflet that has it."""
    size = COPIED_RUN_WORDS
    seen: dict[tuple[str, ...], str] = {}
    for source in files.sources:
        leaflet = words(files.leaflet_text(source["id"]))
        for start in range(len(leaflet) - size + 1):
            seen.setdefault(tuple(leaflet[start:start + size]), source["id"])
    return seen


def copied_runs(text: str, seen: dict[tuple[str, ...], str]) -> list[tuple[str, str]]:
    """(run, leaflet id) for each longest run of COPIED_RUN_WORDS or more words a leaflet also has.

    Punctuation and sentence breaks are ignored: a run copied across two sentences is still copied.
    """
    size = COPIED_RUN_WORDS
    ours = words(text)
    runs: list[list[int]] = []  # [start, end) in our words
    for start in range(len(ours) - size + 1):
        if tuple(ours[start:start + size]) not in seen:
            continue
        if runs and start < runs[-1][1]:  # overlaps the run before: one longer run
            runs[-1][1] = start + size
        else:
            runs.append([start, start + size])
    return [(" ".join(ours[start:end]), seen[tuple(ours[start:start + size])]) for start, end in runs]


def readable_text(text: str) -> str:
    """The text as sentences: each list item is one, even without a full stop."""
    lines = []
    for line in text.splitlines():
        line = line.strip().removeprefix("- ")
        if line and line[-1] not in ".?!:":
            line += "."
        lines.append(line)
    return " ".join(lines)


def reading_grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(readable_text(text)))


@dataclass(frozen=True)
class Flag:
    kind: str
    where: str  # "overview/both (web)"
    detail: str

    @property
    def blocking(self) -> bool:
        return self.kind in BLOCKING

    def __str__(self) -> str:
        return f"{self.where}: {FLAG_LABELS[self.kind]}: {self.detail}"


@dataclass
class AnswerReview:
    topic: str
    topic_title: str
    procedure: str
    web: str  # as written, with the placeholders of the clinic's contact details
    sms: str
    sources: list[str]
    reviewer: str
    reviewed_on: datetime.date
    grades: dict[str, float]  # channel -> Flesch-Kincaid grade
    sms_septets: int
    figures: dict[str, list[tuple[Figure, bool]]]  # channel -> (figure, stated by a cited leaflet)
    stale_sources: list[str]
    flags: list[Flag] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.topic}/{self.procedure}"


@dataclass
class FactReview:
    fact: dict[str, Any]
    wording_found: bool
    figures_stated: bool
    flags: list[Flag] = field(default_factory=list)


@dataclass
class Review:
    answers: list[AnswerReview]
    facts: list[FactReview]
    changed_sources: list[dict[str, Any]]
    leaflet_figures: dict[str, list[Figure]]

    @property
    def flags(self) -> list[Flag]:
        return [flag for answer in self.answers for flag in answer.flags] + [
            flag for fact in self.facts for flag in fact.flags
        ]


def review_answer(topic: dict, answer: dict, files: KnowledgeFiles, contacts: Contacts,
                  leaflet_figures: dict[str, list[Figure]], runs: dict[tuple[str, ...], str]) -> AnswerReview:
    # Grade and length of the texts as patients read them, with the clinic's contact details.
    texts = {channel: answer[channel].strip().format(**contacts.as_placeholders()) for channel in ("web", "sms")}
    item = AnswerReview(
        topic=topic["id"], topic_title=topic["title"], procedure=answer["procedure"],
        web=answer["web"].strip(), sms=answer["sms"].strip(), sources=list(answer["sources"]),
        reviewer=answer["review"]["reviewer"], reviewed_on=answer["review"]["date"],
        grades={channel: reading_grade(text) for channel, text in texts.items()},
        sms_septets=gsm7.septet_length(texts["sms"]),
        figures={}, stale_sources=files.stale_sources(answer),
    )
    stated = [figure for source_id in answer["sources"] for figure in leaflet_figures[source_id]]
    for channel in ("web", "sms"):
        where = f"{item.key} ({channel})"
        written = item.web if channel == "web" else item.sms
        item.figures[channel] = [(figure, supports(stated, figure)) for figure in figures(written)]
        for figure, supported in item.figures[channel]:
            if not supported:
                item.flags.append(Flag(UNSUPPORTED_FIGURE, where, f"{figure.text!r} is in none of {answer['sources']}"))
        for run, source_id in copied_runs(written, runs):
            item.flags.append(Flag(COPIED_RUN, where, f"{run!r} (from {source_id})"))
        if item.grades[channel] > MAX_GRADE:
            item.flags.append(Flag(GRADE_OVER_MAX, where, f"grade {item.grades[channel]:.1f}"))
    if item.sms_septets > SMS_MAX_SEPTETS:
        item.flags.append(Flag(SMS_TOO_LONG, f"{item.key} (sms)", f"{item.sms_septets} characters"))
    for source_id in item.stale_sources:
        item.flags.append(Flag(SOURCE_CHANGED, item.key, f"{source_id} changed since the review on {item.reviewed_on}"))
    return item


def review_fact(fact: dict[str, Any], files: KnowledgeFiles) -> FactReview:
    """The fact's wording is still in its leaflet, and its figures are the ones that wording gives."""
    leaflet = " ".join(files.leaflet_text(fact["source"]).split()).lower()
    wording = " ".join(str(fact["leaflet_says"]).split())
    stated = figures(wording)
    values = [value for value in limit_values(fact["limit"], fact["value"]) if value is not None]
    item = FactReview(
        fact=fact,
        wording_found=wording.lower() in leaflet,
        figures_stated=all(supports(stated, Figure(*canonical(value, fact["unit"]), "", 0, 0)) for value in values),
    )
    where = f"facts.yml: {fact['id']}"
    if not item.wording_found:
        item.flags.append(Flag(UNSUPPORTED_FIGURE, where, f"{fact['source']} does not say {wording!r}"))
    if not item.figures_stated:
        item.flags.append(Flag(UNSUPPORTED_FIGURE, where, f"{fact['value']} {fact['unit']} is not what {wording!r} says"))
    if len(words(wording)) >= COPIED_RUN_WORDS:
        item.flags.append(Flag(COPIED_RUN, where, f"leaflet wording of {COPIED_RUN_WORDS}+ words: {wording!r}"))
    return item


def review_knowledge(files: KnowledgeFiles, contacts: Contacts) -> Review:
    """Every check on every answer and fact of validated knowledge files."""
    leaflet_figures = {source["id"]: figures(files.leaflet_text(source["id"])) for source in files.sources}
    runs = leaflet_runs(files)
    answers = [
        review_answer(topic, answer, files, contacts, leaflet_figures, runs)
        for topic in files.topics for answer in topic["answers"]
    ]
    facts = [review_fact(fact, files) for fact in files.facts]
    return Review(answers, facts, files.changed_sources(), leaflet_figures)
