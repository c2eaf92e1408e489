"""Rasa SDK actions: thin adapters from the tracker to the assistant's core."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from assistant.db import engine_for
from assistant.dialogue import (
    CONVERSATION_REPLIES,
    closest_topics,
    is_first_reply,
    mentioned_procedures,
    resolve_procedure,
    resolve_topic,
)
from assistant.escalations import HANDOFF, delete_escalations_for, record_escalation
from assistant.knowledge.query import KnowledgeAnswer, find_answer, topic_titles
from assistant.privacy import FORGET_ACTION
from assistant.replies import answer_text, disclaimer_text, turn_payload
from assistant.settings import database_url, load_contacts

logger = logging.getLogger(__name__)


def knowledge_answer(
    tracker: Tracker, intent: str | None
) -> tuple[KnowledgeAnswer | None, str | None, str | None]:
    """The answer for this turn's topic and procedure (None if the knowledge base is down)."""
    topic = resolve_topic(intent, tracker.get_slot("topic"))
    procedure = resolve_procedure(
        mentioned_procedures(tracker.latest_message), tracker.get_slot("procedure")
    )
    try:
        answer = find_answer(engine_for(database_url()), topic, procedure)
    except SQLAlchemyError as error:
        logger.warning("Knowledge base unavailable: %s", type(error).__name__)
        answer = None
    return answer, topic, procedure


def remember(topic: str | None, procedure: str | None) -> list[EventType]:
    return [SlotSet("topic", topic), SlotSet("procedure", procedure)]


def render(answer: KnowledgeAnswer, tracker: Tracker) -> str:
    """The answer for the patient's channel; an SMS "MORE" asks for the long version."""
    more = (tracker.latest_message.get("metadata") or {}).get("sms_detail") == "more"
    return answer_text(answer, load_contacts(), tracker.get_latest_input_channel(), more)


def disclaim_if_first_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The first reply of every conversation carries the disclaimer, after the reply itself."""
    if is_first_reply(tracker.events):
        dispatcher.utter_message(text=disclaimer_text(load_contacts()))


def queue_handoff(tracker: Tracker) -> None:
    """A patient asked for a person: the request joins the nurse line's queue."""
    try:
        record_escalation(
            engine_for(database_url()),
            sender_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            urgency="routine",
            signs=[],
            matched_words=[],
            kind=HANDOFF,
        )
    except SQLAlchemyError as error:
        logger.warning("Handoff not queued: %s", type(error).__name__)


class ActionAnswer(Action):
    """Answers any topic from the knowledge base, for the procedure in context."""

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        answer, topic, procedure = knowledge_answer(tracker, intent)
        if answer is None:
            dispatcher.utter_message(response="utter_answer_unavailable")
            dispatcher.utter_message(json_message=turn_payload("fallback", procedure=procedure))
            disclaim_if_first_reply(dispatcher, tracker)
            return [SlotSet("procedure", procedure)]
        dispatcher.utter_message(text=render(answer, tracker))
        dispatcher.utter_message(
            json_message=turn_payload(
                "answer",
                topic=topic,
                procedure=procedure,
                sources=[source.id for source in answer.sources],
            )
        )
        disclaim_if_first_reply(dispatcher, tracker)
        return remember(topic, procedure)


class ActionTriageFollowUp(Action):
    """After the triage advice: record the escalation, then answer the question, if any.

    The advice and the turn's `custom` object were already sent by the Rasa server
    (addons/nlg.py), so this action adds text only.
    """

    def name(self) -> str:
        return "action_triage_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        triage = tracker.latest_message.get("triage") or {}
        try:
            record_escalation(
                engine_for(database_url()),
                sender_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "unknown",
                urgency=triage.get("urgency", "urgent"),
                signs=triage.get("signs", []),
                matched_words=triage.get("words", []),
            )
        except SQLAlchemyError as error:
            logger.warning("Escalation not recorded: %s", type(error).__name__)
        events: list[EventType] = [
            SlotSet(
                "procedure",
                resolve_procedure(
                    mentioned_procedures(tracker.latest_message), tracker.get_slot("procedure")
                ),
            )
        ]
        question = triage.get("question_intent")
        if question:
            answer, topic, procedure = knowledge_answer(tracker, question)
            if answer is not None:
                dispatcher.utter_message(text=render(answer, tracker))
                events = remember(topic, procedure)
        disclaim_if_first_reply(dispatcher, tracker)
        return events


class ActionReply(Action):
    """Greetings, thanks, goodbye, bot questions, handoff and out-of-scope questions."""

    def name(self) -> str:
        return "action_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        response, kind = CONVERSATION_REPLIES.get(intent, ("utter_out_of_scope", "fallback"))
        if kind == "handoff":
            queue_handoff(tracker)
        dispatcher.utter_message(response=response)
        dispatcher.utter_message(
            json_message=turn_payload(kind, procedure=tracker.get_slot("procedure"))
        )
        disclaim_if_first_reply(dispatcher, tracker)
        return []


class ActionDontKnow(Action):
    """Below the confidence threshold: say so, offer the two closest topics and the nurse line."""

    def name(self) -> str:
        return "action_dont_know"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        suggestions = closest_topics(tracker.latest_message.get("intent_ranking", []))
        try:
            titles = topic_titles(engine_for(database_url()))
        except SQLAlchemyError as error:
            logger.warning("Knowledge base unavailable: %s", type(error).__name__)
            titles = {}
        buttons = [
            {"title": titles.get(topic, topic.replace("_", " ")), "payload": f"/ask_{topic}"}
            for topic in suggestions
        ]
        if buttons:
            dispatcher.utter_message(response="utter_dont_know", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_dont_know_no_suggestions")
        dispatcher.utter_message(
            json_message=turn_payload("fallback", procedure=tracker.get_slot("procedure"))
        )
        disclaim_if_first_reply(dispatcher, tracker)
        return []


class ActionForgetMe(Action):
    """The patient asked to delete their data: delete their escalations and confirm.

    Only a confident, specific request gets here (addons/privacy.py). The
    conversation itself is deleted by the Rasa server's tracker store
    (addons/tracker_store.py) when it sees this action end the turn.
    """

    def name(self) -> str:
        return FORGET_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            delete_escalations_for(engine_for(database_url()), tracker.sender_id)
            dispatcher.utter_message(response="utter_data_deleted")
        except SQLAlchemyError as error:
            logger.warning("Escalations not deleted: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_data_partly_deleted")
        dispatcher.utter_message(json_message=turn_payload("smalltalk"))
        disclaim_if_first_reply(dispatcher, tracker)
        return []
