"""Rendering: knowledge answers as message text, and the turn's machine-readable summary."""
from __future__ import annotations

from typing import Any, Iterable

from assistant.knowledge.query import KnowledgeAnswer
from assistant.sms import MORE_LIMIT, fit
from assistant.settings import Contacts

SMS_CHANNEL = "sms"
TURN_TYPES = ("answer", "triage", "handoff", "fallback", "smalltalk")
URGENCIES = ("emergency", "urgent", "routine")


DISCLAIMER = (
    "I share general information from patient leaflets about vertebroplasty and kyphoplasty. "
    "It is not medical advice. In an emergency, call {emergency_number}."
)


RATE_LIMITED = (
    "You are sending messages faster than I can answer. Please wait a minute and ask again, "
    "or call the nurse line at {nurse_phone}. In an emergency, call {emergency_number}."
)


def rate_limited_text(contacts: Contacts) -> str:
    return fill_contacts(RATE_LIMITED, contacts)


def disclaimer_text(contacts: Contacts) -> str:
    return fill_contacts(DISCLAIMER, contacts)


def fill_contacts(text: str, contacts: Contacts) -> str:
    """Put the configured contact details in place of their placeholders."""
    return text.format(**contacts.as_placeholders())


def web_answer_text(answer: KnowledgeAnswer, contacts: Contacts) -> str:
    sources = "; ".join(source.title for source in answer.sources)
    return f"{fill_contacts(answer.web, contacts)}\n\nSource: {sources}"


def sms_answer_text(answer: KnowledgeAnswer, contacts: Contacts, more: bool = False) -> str:
    """The short SMS answer; with ``more``, the web answer as plain text in three segments."""
    if not more:
        return fill_contacts(answer.sms, contacts)
    sources = "Source: " + "; ".join(source.title for source in answer.sources)
    lines = fill_contacts(answer.web, contacts).splitlines()
    flat = " ".join(line.strip().lstrip("- ").strip() for line in lines if line.strip())
    return f"{fit(flat, MORE_LIMIT - len(sources) - 1)} {sources}"


def answer_text(answer: KnowledgeAnswer, contacts: Contacts, channel: str | None, more: bool = False) -> str:
    """The answer as the patient's channel shows it."""
    if channel == SMS_CHANNEL:
        return sms_answer_text(answer, contacts, more)
    return web_answer_text(answer, contacts)


def describe_signs(labels: list[str]) -> str:
    """Name the signs in a sentence: "chest pain", "a fever and chills"."""
    if not labels:
        return "a warning sign"
    if len(labels) == 1:
        return labels[0]
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def turn_payload(
    kind: str,
    *,
    topic: str | None = None,
    procedure: str | None = None,
    sources: Iterable[str] = (),
    urgency: str = "routine",
) -> dict[str, Any]:
    """The one `custom` object every turn carries (the REST contract)."""
    if kind not in TURN_TYPES:
        raise ValueError(f"unknown turn type {kind!r}")
    if urgency not in URGENCIES:
        raise ValueError(f"unknown urgency {urgency!r}")
    return {
        "type": kind,
        "topic": topic,
        "procedure": procedure,
        "urgency": urgency,
        "sources": list(sources),
    }
