"""What the nurse line sees: an assessment of a caller's words, conversation transcripts, triage notes."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Mapping, Sequence

from sqlalchemy.engine import Engine

from assistant.check_ins import load_texts
from assistant.dialogue import mentioned_procedures, resolve_procedure, topic_for_intent
from assistant.knowledge.query import find_answer, topic_titles
from assistant.escalations import CHECK_IN, NO_REPLY
from assistant.nurse_reply import NURSE_ROLE
from assistant.reply import Reply, turn_summary
from assistant.reply_texts import fill_contacts
from assistant.settings import Contacts
from assistant.triage import warning_sign
from assistant.triage_note import as_text, build_note, procedure_spans

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


def assess(parse_data: Mapping, engine: Engine, contacts: Contacts, now: datetime | None = None) -> dict:
    """Urgency, matched signs, recommended action, best answer, the next two topics and the triage note.

    ``parse_data`` is the NLU result for the caller's words (the same model and
    triage the patients' channels use).
    """
    triage = parse_data.get("triage") or {"urgency": "routine", "signs": [], "words": []}
    procedure = resolve_procedure(mentioned_procedures(parse_data), previous=None) or "both"
    topics = ranked_topics(parse_data.get("intent_ranking") or [])
    titles = topic_titles(engine)
    answer = find_answer(engine, topics[0], procedure) if topics else None
    action = fill_contacts(RECOMMENDED_ACTION[triage["urgency"]], contacts)
    note = build_note(
        text=parse_data.get("text") or "", procedure=procedure, urgency=triage["urgency"], action=action,
        reply=None, sources=[source.id for source in answer.sources] if answer else [],
        at=now or datetime.now(timezone.utc), procedure_spans=procedure_spans(parse_data),
    )
    return {
        "urgency": triage["urgency"],
        "signs": [
            {"sign": sign, "label": warning_sign(sign).label, "urgency": warning_sign(sign).urgency}
            for sign in triage.get("signs", [])
        ],
        "matched_words": triage.get("words", []),
        # Mentions that are not reports, each with the rule that discounted it ("no fever").
        "discounted": triage.get("discounted", []),
        "recommended_action": action,
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
        "note": {**note, "text": as_text(note, "Nurse-line triage note (caller assessed by the nurse)")},
    }


def speaker(event: Mapping) -> str:
    """Who sent a stored message of the assistant's side: a nurse's reply is marked in its metadata."""
    metadata = event.get("metadata") or {}
    return "nurse" if metadata.get("role") == NURSE_ROLE else "assistant"


def transcript(events: Sequence[Mapping], raised_by: str | None = None) -> list[dict]:
    """Who said what, when: the patient's and the assistant's messages of a conversation,
    with the patient's message whose id is ``raised_by`` marked as the one that raised the escalation."""
    lines = []
    for event in events:
        kind = event.get("event")
        if kind in ("user", "bot") and event.get("text"):
            lines.append({
                "from": "patient" if kind == "user" else speaker(event),
                "text": event["text"],
                "time": event.get("timestamp"),
                "raised_escalation": kind == "user" and raised_by is not None and event.get("message_id") == raised_by,
            })
    return lines


def raising_message(row: Mapping, events: Sequence[Mapping]) -> int | None:
    """The index of the patient message that raised the escalation ``row``.

    By its message id when the escalation has one; else the patient's last message
    before the escalation was recorded (it is recorded during that message's turn).
    """
    users = [index for index, event in enumerate(events) if event.get("event") == "user"]
    if row.get("message_id"):
        return next((index for index in users if events[index].get("message_id") == row["message_id"]), None)
    recorded = datetime.fromisoformat(row["created_at"]).timestamp()
    before = [index for index in users if (events[index].get("timestamp") or 0) <= recorded]
    return before[-1] if before else None


def stored_reply(event: Mapping) -> Reply | None:
    """The reply a stored bot message carried (actions/actions.py sends it as data), if any."""
    data = ((event.get("data") or {}).get("custom") or {}).get("reply")
    try:
        return Reply.from_dict(data) if data else None
    except (KeyError, TypeError, ValueError):  # not a reply this release can read
        return None


def reply_to(events: Sequence[Mapping], index: int) -> tuple[list[str], list[str]]:
    """The texts the assistant sent after the patient message at ``index``, and the sources
    its replies cite."""
    texts: list[str] = []
    sources: list[str] = []
    for event in events[index + 1:]:
        if event.get("event") == "user":
            break
        if event.get("event") != "bot" or speaker(event) == "nurse":
            continue
        if event.get("text"):
            texts.append(event["text"])
        reply = stored_reply(event)
        cited = turn_summary(reply)["sources"] if reply else []
        sources.extend(source for source in cited if source not in sources)
    return texts, sources


def check_in_reply(check_in: Mapping) -> list[str]:
    """What the patient was sent for their answer to a check-in (nothing, for no answer)."""
    return [answer.reply for answer in load_texts().answers if str(answer.number) == check_in.get("answer")]


def escalation_note(row: Mapping, events: Sequence[Mapping], contacts: Contacts, check_in: Mapping | None = None) -> dict:
    """The triage note for an escalation, from the conversation's stored events; for a check_in
    or no_reply item, from ``check_in`` (the check-in it was raised for: no message raised it).
    A message that answered a check-in carries the check-in as context (its metadata)."""
    heading = f"Nurse-line triage note: {row['kind']} escalation #{row['id']} from {row['channel']}, conversation {row['sender_id']}"
    if row["kind"] in (CHECK_IN, NO_REPLY):
        check_in = check_in or {}
        note = build_note(
            text="", procedure=check_in.get("procedure"), urgency=row["urgency"],
            action=fill_contacts(RECOMMENDED_ACTION[row["urgency"]], contacts), reply=check_in_reply(check_in),
            sources=[], at=datetime.fromisoformat(row["created_at"]),
        )
        note["check_in"] = dict(check_in) or None
        return {**note, "text": as_text(note, heading)}
    index = raising_message(row, events)
    message = events[index] if index is not None else {}
    reply, sources = reply_to(events, index) if index is not None else ([], [])
    parse_data = message.get("parse_data") or {}
    created = datetime.fromisoformat(row["created_at"])
    note = build_note(
        text=message.get("text") or "",
        procedure=resolve_procedure(mentioned_procedures(parse_data), previous=None),
        urgency=row["urgency"],
        action=fill_contacts(RECOMMENDED_ACTION[row["urgency"]], contacts),
        reply=reply, sources=sources, at=created, procedure_spans=procedure_spans(parse_data),
    )
    if index is None:  # the message is gone from the store: the signs as recorded
        note["signs"] = [
            {"sign": sign, "label": warning_sign(sign).label, "urgency": warning_sign(sign).urgency, "words": words}
            for sign, words in zip(row["signs"], row["matched_words"])
        ]
    note["check_in"] = (message.get("metadata") or {}).get("check_in")
    return {**note, "text": as_text(note, heading)}
