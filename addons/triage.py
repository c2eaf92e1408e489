"""Rasa NLU component: red-flag triage on every message, inside the Rasa server.

It runs last in the pipeline, so a reported warning sign overrides whatever the
classifiers decided: the intent becomes triage_emergency or triage_urgent, which
a rule maps to a domain response. The advice therefore needs neither the action
server nor the database. The intent the classifiers chose stays in the message's
`triage.question_intent`, so the question can still be answered after the advice.
"""
from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.message_rule import MessageRule
from assistant.dialogue import is_question_intent, triage_intent
from assistant.triage import ROUTINE, assess, engine


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RedFlagTriage(MessageRule):
    """Adds `triage` (urgency, signs, matched words, discounted mentions) to every parsed message."""

    def __init__(self) -> None:
        # The rules are read and checked as the server starts: a bad file stops it, naming the entry.
        engine()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            triage = assess(message.get(TEXT) or "")
            classified = (message.get(INTENT) or {}).get("name")
            message.set(
                "triage",
                {**triage.as_dict(), "question_intent": classified if is_question_intent(classified) else None},
                add_to_output=True,
            )
            if triage.urgency != ROUTINE:
                raised = {"name": triage_intent(triage.urgency), "confidence": 1.0}
                ranking = message.get(INTENT_RANKING_KEY) or []
                message.set(INTENT, raised, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [raised, *ranking], add_to_output=True)
        return messages
