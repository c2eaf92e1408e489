"""The reviewed reply texts of data/replies.yml, checked on load, with the clinic's contacts filled in."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from assistant.settings import PROJECT_ROOT, Contacts, load_contacts
from assistant.vocabulary import EMERGENCY, URGENT

REPLY_TEXTS_FILE = PROJECT_ROOT / "data" / "replies.yml"
CONVERSATION_INTENTS = (
    "greet", "goodbye", "thank", "bot_challenge", "request_human", "request_referral", "out_of_scope",
)
NOTICES = ("disclaimer", "rate_limited", "answer_unavailable", "data_deleted", "data_partly_deleted")
PLACEHOLDERS = ("clinic_name", "nurse_phone", "emergency_number", "signs")


class ReplyTextsError(ValueError):
    """data/replies.yml is missing a text or uses an unknown placeholder."""


@dataclass(frozen=True)
class ReplyTexts:
    contacts: Contacts  # filled into these texts, and into knowledge answers
    advice: Mapping[str, str]  # by urgency; "{signs}" still to fill
    conversation: Mapping[str, str]  # by intent
    dont_know: str
    dont_know_no_suggestions: str
    also_asked: str
    notices: Mapping[str, str]


def fill_contacts(text: str, contacts: Contacts) -> str:
    """Put the configured contact details in place of their placeholders."""
    return text.format(**contacts.as_placeholders())


def fill(text: str, contacts: Contacts, where: str, **more: str) -> str:
    try:
        return text.format(**contacts.as_placeholders(), **more)
    except (KeyError, IndexError, ValueError) as error:
        raise ReplyTextsError(f"{where}: bad placeholder ({error})") from None


def required_texts(raw: Any, key: str, names: tuple[str, ...], path: Path) -> dict[str, str]:
    section = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ReplyTextsError(f"{path}: '{key}' must be a mapping of {', '.join(names)}")
    missing = [name for name in names if not isinstance(section.get(name), str) or not section[name].strip()]
    unknown = sorted(set(section) - set(names))
    if missing or unknown:
        raise ReplyTextsError(f"{path}: '{key}' is missing {missing} or has unknown entries {unknown}")
    return {name: section[name].strip() for name in names}


@lru_cache(maxsize=None)
def load_reply_texts(path: Path = REPLY_TEXTS_FILE, contacts: Contacts | None = None) -> ReplyTexts:
    """Every text of ``path`` with the contacts filled in; the advice keeps ``{signs}``."""
    contacts = contacts or load_contacts()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    singles = {}
    for key in ("dont_know", "dont_know_no_suggestions", "also_asked"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ReplyTextsError(f"{path}: '{key}' must be a non-empty text")
        singles[key] = fill(raw[key].strip(), contacts, f"{path}: {key}")
    advice = {
        urgency: fill(text, contacts, f"{path}: advice.{urgency}", signs="{signs}")
        for urgency, text in required_texts(raw, "advice", (EMERGENCY, URGENT), path).items()
    }
    return ReplyTexts(
        contacts=contacts,
        advice=advice,
        conversation={
            intent: fill(text, contacts, f"{path}: conversation.{intent}")
            for intent, text in required_texts(raw, "conversation", CONVERSATION_INTENTS, path).items()
        },
        notices={
            name: fill(text, contacts, f"{path}: notices.{name}")
            for name, text in required_texts(raw, "notices", NOTICES, path).items()
        },
        **singles,
    )
