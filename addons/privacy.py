"""Rasa NLU component: a deletion request must be confident and specific.

Deleting a conversation by mistake loses it, so a message the classifier calls
`delete_my_data` that is not clearly such a request ("can you delete the pain?")
becomes `nlu_fallback`: the assistant says it is not sure, and nothing is deleted.
"""
from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.message_rule import MessageRule
from assistant.privacy import DELETE_INTENT, is_deletion_request


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class DeletionRequestGuard(MessageRule):
    """Turns an unclear `delete_my_data` classification into `nlu_fallback`."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get("name") != DELETE_INTENT:
                continue
            if not is_deletion_request(message.get(TEXT) or "", intent.get("confidence") or 0.0):
                fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": intent.get("confidence")}
                message.set(INTENT, fallback, add_to_output=True)
        return messages
