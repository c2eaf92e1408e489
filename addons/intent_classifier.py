"""Rasa NLU component adapting assistant.intent_model and assistant.message_questions to the pipeline."""
from __future__ import annotations

import logging
from functools import partial
from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from assistant.intent_model import build_intent_model, rank_intents, ready_for_prediction
from assistant.message_questions import QuestionSettings, read_message, sentence_splitter

logger = logging.getLogger(__name__)
MODEL_FILE = "intent_model.joblib"
# The parse output's list of what the message asks: {"intent", "confidence", "text"}, main question first.
QUESTIONS = "questions"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfIntentClassifier(IntentClassifier, GraphComponent):
    """Intent classification by TF-IDF n-grams, sentence embeddings and logistic regression."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "word_ngrams": [1, 2], "char_ngrams": [2, 5], "C": 20.0, "ranking_length": 10,
            "sentence_encoder": "build/minilm", "embedding_weight": 2.0,
            "question_context_weight": 0.2, "question_min_confidence": 0.5,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, model=None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.model = model
        self.question_settings = QuestionSettings(
            self.config["question_context_weight"], self.config["question_min_confidence"]
        )
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TfidfIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        self.model = build_intent_model(
            self.config["sentence_encoder"], self.config["word_ngrams"], self.config["char_ngrams"],
            self.config["C"], self.config["embedding_weight"],
        )
        self.model.fit([e.get(TEXT).lower() for e in examples], [e.get(INTENT) for e in examples])
        ready_for_prediction(self.model)
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self.model, directory / MODEL_FILE)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        rank = partial(rank_intents, self.model)
        for message in messages:
            reading = read_message(message.get(TEXT) or "", rank, self.question_settings)
            message.set(INTENT, reading.ranking[0], add_to_output=True)
            message.set("intent_ranking", reading.ranking[: self.config["ranking_length"]], add_to_output=True)
            message.set(QUESTIONS, [question.as_dict() for question in reading.questions], add_to_output=True)
        return messages

    @classmethod
    def load(
        cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext, **kwargs: Any,
    ) -> "TfidfIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                model = ready_for_prediction(joblib.load(directory / MODEL_FILE))
        except (ValueError, FileNotFoundError):
            logger.warning("No trained intent model in this Rasa model; intents will be missing.")
            model = None
        sentence_splitter()  # built now, not on the first patient's message
        return cls(config, model_storage, resource, model)
