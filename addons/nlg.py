"""Domain responses with the clinic's contact details filled in from clinic.yml.

Triage advice is rendered here too, inside the Rasa server, so that it reaches the
patient even when the action server or the database is down.
"""
from __future__ import annotations

import logging
from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.exc import SQLAlchemyError

from assistant.db import engine_for
from assistant.dialogue import mentioned_procedures, resolve_procedure, resolve_topic
from assistant.knowledge.query import find_answer
from assistant.replies import describe_signs, turn_payload
from assistant.settings import database_url, load_contacts

logger = logging.getLogger(__name__)
TRIAGE_RESPONSES = {"utter_triage_emergency": "emergency", "utter_triage_urgent": "urgent"}


def answer_sources(topic: str, procedure: str | None) -> list[str]:
    """Sources of the answer the action server will give; none if the database is down."""
    try:
        answer = find_answer(engine_for(database_url()), topic, procedure)
    except SQLAlchemyError as error:
        logger.warning("Knowledge base unavailable for triage sources: %s", type(error).__name__)
        return []
    return [source.id for source in answer.sources] if answer else []


class ClinicResponseGenerator(TemplatedNaturalLanguageGenerator):
    """Rasa's own response templates, plus {clinic_name}, {nurse_phone}, {emergency_number}."""

    def __init__(self, endpoint_config: EndpointConfig, domain: Domain) -> None:
        super().__init__(domain.responses)
        self.contacts = load_contacts().as_placeholders()

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        variables = {**self.contacts, **kwargs}
        urgency = TRIAGE_RESPONSES.get(utter_action)
        parse_data = tracker.latest_message.parse_data if tracker.latest_message else {}
        triage = parse_data.get("triage") or {}
        if urgency:
            variables["signs"] = describe_signs(triage.get("labels", []))
        response = await super().generate(utter_action, tracker, output_channel, **variables)
        if response is not None and urgency:
            response["custom"] = self.triage_payload(urgency, triage, parse_data, tracker)
        return response

    @staticmethod
    def triage_payload(urgency: str, triage: dict, parse_data: dict, tracker: DialogueStateTracker) -> dict:
        """The turn's one `custom` object: the urgency, and the answer that follows the advice."""
        procedure = resolve_procedure(mentioned_procedures(parse_data), tracker.get_slot("procedure"))
        question = triage.get("question_intent")
        topic = resolve_topic(question, tracker.get_slot("topic")) if question else None
        sources = answer_sources(topic, procedure) if topic else []
        return turn_payload("triage", topic=topic, procedure=procedure, sources=sources, urgency=urgency)
