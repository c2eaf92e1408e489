"""Rasa SDK actions: thin adapters from the tracker to the assistant's core."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from assistant.dialogue import (
    CONVERSATION_REPLIES,
    closest_topics,
    resolve_procedure,
    resolve_topic,
)
from assistant.knowledge.query import engine_for, find_answer, topic_titles
from assistant.replies import turn_payload, web_answer_text
from assistant.settings import database_url, load_contacts

logger = logging.getLogger(__name__)


def mentioned_procedures(tracker: Tracker) -> list[str]:
    return [
        entity.get("value")
        for entity in tracker.latest_message.get("entities", [])
        if entity.get("entity") == "procedure"
    ]


class ActionSessionStart(Action):
    """Starts every conversation with the disclaimer."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_disclaimer")
        return [SessionStarted(), ActionExecuted("action_listen")]


class ActionAnswer(Action):
    """Answers any topic from the knowledge base, for the procedure in context."""

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        topic = resolve_topic(intent, tracker.get_slot("topic"))
        procedure = resolve_procedure(mentioned_procedures(tracker), tracker.get_slot("procedure"))
        try:
            answer = find_answer(engine_for(database_url()), topic, procedure)
        except SQLAlchemyError as error:
            logger.warning("Knowledge base unavailable: %s", type(error).__name__)
            answer = None
        if answer is None:
            dispatcher.utter_message(response="utter_answer_unavailable")
            dispatcher.utter_message(json_message=turn_payload("fallback", procedure=procedure))
            return [SlotSet("procedure", procedure)]
        dispatcher.utter_message(text=web_answer_text(answer, load_contacts()))
        dispatcher.utter_message(
            json_message=turn_payload(
                "answer",
                topic=topic,
                procedure=procedure,
                sources=[source.id for source in answer.sources],
            )
        )
        return [SlotSet("topic", topic), SlotSet("procedure", procedure)]


class ActionReply(Action):
    """Greetings, thanks, goodbye, bot questions, handoff and out-of-scope questions."""

    def name(self) -> str:
        return "action_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        response, kind = CONVERSATION_REPLIES.get(intent, ("utter_out_of_scope", "fallback"))
        dispatcher.utter_message(response=response)
        dispatcher.utter_message(
            json_message=turn_payload(kind, procedure=tracker.get_slot("procedure"))
        )
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
        return []
