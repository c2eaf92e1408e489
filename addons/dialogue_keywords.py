"""Rasa NLU component: "MORE" and a lone option number are dialogue state, not questions.

"MORE" asks for the last answer in full, and "1" or "2" picks an option the assistant
offered; the conversation's slots say which answer and which options (the core's
assistant/turn.py). The whole message must be the keyword, so "more pain" is a question.
"""
from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.message_rule import MessageRule
from assistant.dialogue import keyword_intent


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class DialogueKeywords(MessageRule):
    """Sets ask_more or choose_option, with full confidence, for a message that is only that keyword."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = keyword_intent(message.get(TEXT) or "")
            if intent:
                chosen = {"name": intent, "confidence": 1.0}
                message.set(INTENT, chosen, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [chosen], add_to_output=True)
        return messages
