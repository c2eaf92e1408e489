"""Rasa SDK actions: thin adapters from the tracker to the core, which builds the turn's reply."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Mapping

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from assistant.check_in_sender import remove_jobs
from assistant.check_in_store import forget
from assistant.db import engine_for
from assistant.dialogue import is_first_reply, mentioned_procedures
from assistant.escalations import HANDOFF, TRIAGE, delete_escalations_for, record_escalation
from assistant.knowledge.query import KnowledgeAnswer, find_answer, topic_titles
from assistant.privacy import FORGET_ACTION
from assistant.render import render_transcript
from assistant.reply import Notice, Reply
from assistant.reply_texts import load_reply_texts
from assistant.settings import database_url
from assistant.turn import KnowledgeUnavailable, TurnInput, TurnResult, respond

logger = logging.getLogger(__name__)
RESPOND_ACTION = "action_respond"


class SqlKnowledge:
    """The knowledge base in the assistant's database, its errors reduced to their type."""

    def answer(self, topic: str, procedure: str | None) -> KnowledgeAnswer | None:
        return self.read(find_answer, topic, procedure, False)

    def titles(self) -> Mapping[str, str]:
        return self.read(topic_titles)

    @staticmethod
    def read(query: Callable[..., Any], *arguments: Any) -> Any:
        try:
            return query(engine_for(database_url()), *arguments)
        except SQLAlchemyError as error:
            logger.warning("Knowledge base unavailable: %s", type(error).__name__)
            raise KnowledgeUnavailable(type(error).__name__) from None


def turn_input(tracker: Tracker) -> TurnInput:
    message = tracker.latest_message or {}
    return TurnInput(
        text=message.get("text") or "",
        intent=(message.get("intent") or {}).get("name"),
        intent_ranking=message.get("intent_ranking") or [],
        triage=message.get("triage") or {},
        procedures_named=mentioned_procedures(message),
        questions=message.get("questions") or [],
        topic=tracker.get_slot("topic"),
        procedure=tracker.get_slot("procedure"),
        options=tracker.get_slot("options") or [],
        first_reply=is_first_reply(tracker.events),
    )


def latest_message_id(tracker: Tracker) -> str | None:
    """The id of the message this turn answers, so the nurse sees which one raised an escalation."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("message_id")
    return None


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """The turn's one message: the reply as data for the channels, and as text for the record."""
    dispatcher.utter_message(text=render_transcript(reply), json_message={"reply": reply.as_dict()})


def escalate(tracker: Tracker, reply: Reply) -> None:
    """A reported warning sign, or a request for a person, joins the nurse line's queue."""
    if reply.advice:
        kind, signs = TRIAGE, list(reply.advice.signs)
        words = (tracker.latest_message.get("triage") or {}).get("words", [])
    elif reply.kind == "handoff":
        kind, signs, words = HANDOFF, [], []
    else:
        return
    try:
        record_escalation(
            engine_for(database_url()),
            sender_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            urgency=reply.urgency,
            signs=signs,
            matched_words=words,
            kind=kind,
            message_id=latest_message_id(tracker),
        )
    except SQLAlchemyError as error:
        logger.warning("Escalation not recorded: %s", type(error).__name__)


def respond_and_escalate(tracker: Tracker) -> TurnResult:
    result = respond(turn_input(tracker), SqlKnowledge(), load_reply_texts())
    escalate(tracker, result.reply)
    return result


class ActionRespond(Action):
    """Every turn but a deletion request: the core builds the reply, this sends it and
    records what the nurse line must see."""

    def name(self) -> str:
        return RESPOND_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # The knowledge and escalation SQL runs on a thread of its own: a slow or hanging
        # database holds up this conversation, not the action server's others.
        result = await asyncio.to_thread(respond_and_escalate, tracker)
        send(dispatcher, result.reply)
        return [SlotSet(name, value) for name, value in result.slots.items()]


def forget_patient(engine: Engine, sender_id: str) -> None:
    """Everything the assistant's database holds of the patient: escalations, check-ins and their jobs."""
    delete_escalations_for(engine, sender_id)
    remove_jobs(engine, forget(engine, sender_id))


class ActionForgetMe(Action):
    """The patient asked to delete their data: delete their escalations, their check-in
    enrolments with the texts and jobs still pending, and confirm.

    Only a confident, specific request gets here (addons/privacy.py). The
    conversation itself is deleted by the Rasa server's tracker store
    (addons/tracker_store.py) when it sees this action end the turn.
    """

    def name(self) -> str:
        return FORGET_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        texts = load_reply_texts()
        engine = engine_for(database_url())
        try:
            await asyncio.to_thread(forget_patient, engine, tracker.sender_id)
            outcome = "data_deleted"
        except SQLAlchemyError as error:
            logger.warning("Escalations or check-ins not deleted: %s", type(error).__name__)
            outcome = "data_partly_deleted"
        notices = [Notice(outcome, texts.notices[outcome])]
        if is_first_reply(tracker.events):
            notices.append(Notice("disclaimer", texts.notices["disclaimer"]))
        send(dispatcher, Reply(kind="smalltalk", notices=tuple(notices)))
        return []
