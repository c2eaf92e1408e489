"""Dialogue decisions: which topic and procedure a turn is about, and how to reply."""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from assistant.vocabulary import BOTH, PROCEDURES, TOPIC_INTENT_PREFIX, TOPICS

FOLLOW_UP_INTENT = "inform_procedure"
# A bare "and kyphoplasty?" with no earlier question is a question about what it is.
DEFAULT_TOPIC = "overview"
# Dialogue-state intents, set by addons/dialogue_keywords.py from the whole message:
# "MORE" asks for the last answer in full, a lone digit picks an option offered.
ASK_MORE, CHOOSE_OPTION = "ask_more", "choose_option"

# Conversational intents and the turn type of their reply.
CONVERSATION_TURN_TYPES: Mapping[str, str] = {
    "greet": "smalltalk",
    "goodbye": "smalltalk",
    "thank": "smalltalk",
    "bot_challenge": "smalltalk",
    "request_human": "handoff",
    "request_referral": "handoff",
    "out_of_scope": "fallback",
}


def keyword_intent(text: str) -> str | None:
    """ask_more for "MORE", choose_option for a lone digit; None for anything else."""
    stripped = text.strip().rstrip(".!")
    if stripped.upper() == "MORE":
        return ASK_MORE
    if option_number(text) is not None:
        return CHOOSE_OPTION
    return None


def option_number(text: str) -> int | None:
    """The option picked when the whole message is one digit from 1 to 9: "1", " 2 "."""
    stripped = text.strip().rstrip(".")
    return int(stripped) if len(stripped) == 1 and stripped in "123456789" else None


def triage_intent(urgency: str) -> str:
    """The intent a raised triage gives the turn: triage_emergency or triage_urgent."""
    return f"triage_{urgency}"


def is_question_intent(intent: str | None) -> bool:
    """Intents that a knowledge answer serves: topic questions and procedure follow-ups."""
    return bool(topic_for_intent(intent)) or intent == FOLLOW_UP_INTENT


def topic_for_intent(intent: str | None) -> str | None:
    if intent and intent.startswith(TOPIC_INTENT_PREFIX) and intent[len(TOPIC_INTENT_PREFIX):] in TOPICS:
        return intent[len(TOPIC_INTENT_PREFIX):]
    return None


def resolve_topic(intent: str | None, previous_topic: str | None) -> str | None:
    """The topic of this turn: the one asked, or for a follow-up the one before."""
    topic = topic_for_intent(intent)
    if topic:
        return topic
    if intent == FOLLOW_UP_INTENT:
        return previous_topic or DEFAULT_TOPIC
    return None


# Word stems that tell the procedure apart in an entity the synonyms did not map,
# such as "balloon" cut from "the balloon procedure".
PROCEDURE_STEMS = (
    ("kypho", "kyphoplasty"), ("balloon", "kyphoplasty"),
    ("vert", "vertebroplasty"), ("cement", "vertebroplasty"),
)


def canonical_procedure(value: str | None) -> str | None:
    """vertebroplasty or kyphoplasty for an entity value, or None if it names neither."""
    text = (value or "").lower()
    if text in PROCEDURES:
        return text
    return next((procedure for stem, procedure in PROCEDURE_STEMS if stem in text), None)


def mentioned_procedures(parse_data: Mapping) -> list[str]:
    """The procedures an NLU parse result names, canonical and without repeats."""
    found = (
        canonical_procedure(entity.get("value"))
        for entity in parse_data.get("entities", [])
        if entity.get("entity") == "procedure"
    )
    return list(dict.fromkeys(procedure for procedure in found if procedure))


def resolve_procedure(mentioned: Iterable[str], previous: str | None) -> str | None:
    """The procedure asked about: named in this message, else the one in context."""
    named = {value for value in mentioned if value in PROCEDURES}
    if len(named) > 1:
        return BOTH
    if named:
        return named.pop()
    return previous


def is_first_reply(events: Sequence[Mapping]) -> bool:
    """True while the bot has said nothing before this session's latest message."""
    before_latest_message = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "session_started":
            break
        if kind == "user":
            before_latest_message = True
        elif kind == "bot" and before_latest_message:
            return False
    return True


def closest_topics(intent_ranking: Sequence[Mapping], count: int = 2) -> list[str]:
    """The ``count`` most likely topics in an NLU intent ranking, best first."""
    topics = []
    for entry in intent_ranking:
        topic = topic_for_intent(entry.get("name"))
        if topic and topic not in topics:
            topics.append(topic)
        if len(topics) == count:
            break
    return topics
