"""What the nurse line sees: an assessment of a caller's words, and conversation transcripts."""
from __future__ import annotations

from dataclasses import asdict
from typing import Mapping, Sequence

from sqlalchemy.engine import Engine

from assistant.dialogue import mentioned_procedures, resolve_procedure, topic_for_intent
from assistant.knowledge.query import find_answer, topic_titles
from assistant.reply_texts import fill_contacts
from assistant.settings import Contacts
from assistant.triage import warning_sign

RECOMMENDED_ACTION = {
    "emergency": "Emergency: tell the caller to call {emergency_number} now (or call for them).",
    "urgent": "Urgent: the caller should be seen or speak with their doctor today.",
    "routine": "Routine: answer from the leaflets; no warning sign reported.",
}


def ranked_topics(intent_ranking: Sequence[Mapping]) -> list[str]:
    topics = []
    for entry in intent_ranking:
        topic = topic_for_intent(entry.get("name"))
        if topic and topic not in topics:
            topics.append(topic)
    return topics


def assess(parse_data: Mapping, engine: Engine, contacts: Contacts) -> dict:
    """Urgency, matched signs, recommended action, best answer and the next two topics.

    ``parse_data`` is the NLU result for the caller's words (the same model and
    triage the patients' channels use).
    """
    triage = parse_data.get("triage") or {"urgency": "routine", "signs": [], "words": []}
    procedure = resolve_procedure(mentioned_procedures(parse_data), previous=None) or "both"
    topics = ranked_topics(parse_data.get("intent_ranking") or [])
    titles = topic_titles(engine)
    answer = find_answer(engine, topics[0], procedure) if topics else None
    return {
        "urgency": triage["urgency"],
        "signs": [
            {"sign": sign, "label": warning_sign(sign).label, "urgency": warning_sign(sign).urgency}
            for sign in triage.get("signs", [])
        ],
        "matched_words": triage.get("words", []),
        # Mentions that are not reports, each with the rule that discounted it ("no fever").
        "discounted": triage.get("discounted", []),
        "recommended_action": fill_contacts(RECOMMENDED_ACTION[triage["urgency"]], contacts),
        "procedure": procedure,
        "answer": None if answer is None else {
            "topic": answer.topic,
            "title": answer.topic_title,
            "procedure": answer.procedure,
            "text": fill_contacts(answer.web, contacts),
            "sources": [asdict(source) for source in answer.sources],
            "facts": [asdict(fact) for fact in answer.facts],
        },
        "next_topics": [{"topic": topic, "title": titles.get(topic, topic)} for topic in topics[1:3]],
    }


def transcript(events: Sequence[Mapping], raised_by: str | None = None) -> list[dict]:
    """Who said what, when: the patient's and the assistant's messages of a conversation,
    with the patient's message whose id is ``raised_by`` marked as the one that raised the escalation."""
    lines = []
    for event in events:
        kind = event.get("event")
        if kind in ("user", "bot") and event.get("text"):
            lines.append({
                "from": "patient" if kind == "user" else "assistant",
                "text": event["text"],
                "time": event.get("timestamp"),
                "raised_escalation": kind == "user" and raised_by is not None and event.get("message_id") == raised_by,
            })
    return lines
