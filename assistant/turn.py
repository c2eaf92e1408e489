"""Building a turn's one reply from what the message said and the conversation so far.

Plain data in (the NLU parse, the conversation's slots), one `Reply` out, with the
slots to remember. The action server builds every reply here; the Rasa server builds
only the apology (`unavailable_reply`) when the action server gives none in time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from assistant.dialogue import (
    ASK_MORE,
    CHOOSE_OPTION,
    CONVERSATION_TURN_TYPES,
    closest_topics,
    option_number,
    resolve_procedure,
    resolve_topic,
    topic_for_intent,
)
from assistant.knowledge.query import KnowledgeAnswer
from assistant.reply import ALSO_ASKED, Advice, Answer, Notice, Option, Reply, Source
from assistant.reply_texts import ReplyTexts, fill_contacts
from assistant.settings import Contacts
from assistant.vocabulary import ROUTINE


class KnowledgeUnavailable(Exception):
    """The knowledge base could not be read (the error type only: no patient data)."""


class Knowledge(Protocol):
    def answer(self, topic: str, procedure: str | None) -> KnowledgeAnswer | None: ...

    def titles(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class TurnInput:
    """What the turn is about: this message's NLU result and the conversation's slots."""

    text: str
    intent: str | None
    intent_ranking: Sequence[Mapping[str, Any]] = ()
    triage: Mapping[str, Any] = field(default_factory=dict)
    procedures_named: Sequence[str] = ()
    questions: Sequence[Mapping[str, Any]] = ()  # every question the message asked, the main one first
    topic: str | None = None  # the topic answered last
    procedure: str | None = None  # the procedure in context
    options: Sequence[str] = ()  # the topics offered last, in their numbered order
    first_reply: bool = False


@dataclass(frozen=True)
class TurnResult:
    reply: Reply
    slots: dict[str, Any]  # topic, procedure and options to remember


def describe_signs(labels: Sequence[str]) -> str:
    """Name the signs in a sentence: "chest pain", "a fever and chills"."""
    if not labels:
        return "a warning sign"
    if len(labels) == 1:
        return labels[0]
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def advice_for(triage: Mapping[str, Any], texts: ReplyTexts) -> Advice | None:
    """The advice for a reported warning sign, naming the signs back; None when there is none."""
    urgency = triage.get("urgency") or ROUTINE
    if urgency == ROUTINE:
        return None
    text = texts.advice[urgency].format(signs=describe_signs(triage.get("labels") or []))
    return Advice(urgency, tuple(triage.get("signs") or ()), text)


def answer_from(found: KnowledgeAnswer, contacts: Contacts, expanded: bool = False) -> Answer:
    return Answer(
        topic=found.topic,
        title=found.topic_title,
        procedure=found.procedure,
        text=fill_contacts(found.web, contacts),
        short=fill_contacts(found.sms, contacts),
        sources=tuple(Source(source.id, source.title) for source in found.sources),
        expanded=expanded,
    )


def titles_or_ids(knowledge: Knowledge) -> Mapping[str, str]:
    try:
        return knowledge.titles()
    except KnowledgeUnavailable:
        return {}


def offered(topics: Sequence[str], titles: Mapping[str, str]) -> tuple[Option, ...]:
    return tuple(Option(topic, titles.get(topic) or topic.replace("_", " ").capitalize()) for topic in topics)


def asked_topic(turn: TurnInput, advice: Advice | None) -> tuple[str | None, bool]:
    """The topic this turn answers, and whether the patient asked for it in full."""
    if turn.intent == CHOOSE_OPTION:
        number = option_number(turn.text)
        if number is not None and number <= len(turn.options):
            return turn.options[number - 1], False
        return None, False
    if turn.intent == ASK_MORE:
        return turn.topic, True
    # Triage replaced the intent; the question the classifier saw is kept beside it.
    question = turn.triage.get("question_intent") if advice else turn.intent
    return resolve_topic(question, turn.topic), False


def other_questions(turn: TurnInput, answered: str) -> list[str]:
    """The topics of the other questions the message asked (the first is the main one), in
    order, without repeats; none when the message was "MORE" or an option's number."""
    if turn.intent in (ASK_MORE, CHOOSE_OPTION):
        return []
    topics = [topic_for_intent(question.get("intent")) for question in turn.questions[1:]]
    return list(dict.fromkeys(topic for topic in topics if topic and topic != answered))


def respond(turn: TurnInput, knowledge: Knowledge, texts: ReplyTexts) -> TurnResult:
    """The turn's reply: advice first if a warning sign was reported, then the answer or message."""
    advice = advice_for(turn.triage, texts)
    procedure = resolve_procedure(turn.procedures_named, turn.procedure)
    topic, expanded = asked_topic(turn, advice)
    notices: list[Notice] = []
    answer, knowledge_down = None, False
    if topic:
        try:
            found = knowledge.answer(topic, procedure)
        except KnowledgeUnavailable:
            found, knowledge_down = None, True
            notices.append(Notice("answer_unavailable", texts.notices["answer_unavailable"]))
        answer = answer_from(found, texts.contacts, expanded) if found else None
    if turn.first_reply:
        notices.append(Notice("disclaimer", texts.notices["disclaimer"]))

    slots: dict[str, Any] = {"topic": answer.topic if answer else turn.topic, "procedure": procedure, "options": []}
    if answer or advice or knowledge_down:
        also = other_questions(turn, answer.topic) if answer else []
        reply = Reply(
            kind="triage" if advice else ("answer" if answer else "fallback"),
            procedure=procedure,
            advice=advice,
            answer=answer,
            options=offered(also, titles_or_ids(knowledge)) if also else (),
            options_reason=ALSO_ASKED,
            options_prompt=texts.also_asked if also else None,
            notices=tuple(notices),
        )
        slots["options"] = also
        return TurnResult(reply, slots)

    if turn.intent is not None and turn.intent in CONVERSATION_TURN_TYPES:
        reply = Reply(
            kind=CONVERSATION_TURN_TYPES[turn.intent],
            procedure=procedure,
            message=texts.conversation[turn.intent],
            notices=tuple(notices),
        )
        return TurnResult(reply, slots)

    # Not understood, or "MORE" / a number with nothing to refer to: say so, never guess.
    suggestions = closest_topics(turn.intent_ranking) if turn.intent not in (ASK_MORE, CHOOSE_OPTION) else []
    reply = Reply(
        kind="fallback",
        procedure=procedure,
        message=texts.dont_know if suggestions else texts.dont_know_no_suggestions,
        options=offered(suggestions, titles_or_ids(knowledge)),
        notices=tuple(notices),
    )
    slots["options"] = suggestions
    return TurnResult(reply, slots)


def unavailable_reply(triage: Mapping[str, Any], texts: ReplyTexts) -> Reply:
    """The Rasa server's own reply when the turn gave none in time: the advice for a reported
    warning sign, alone, so nothing dilutes it; for any other message, the apology."""
    advice = advice_for(triage, texts)
    if advice:
        return Reply(kind="triage", advice=advice)
    return Reply(kind="fallback", notices=(Notice("answer_unavailable", texts.notices["answer_unavailable"]),))


def rate_limited_reply(texts: ReplyTexts) -> Reply:
    return Reply(kind="fallback", notices=(Notice("rate_limited", texts.notices["rate_limited"]),))
