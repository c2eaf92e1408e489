"""What Rasa's graph asks of an NLU component that is a fixed rule: nothing to train or store."""
from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData


class MessageRule(GraphComponent):
    """Subclasses implement ``process(messages)`` and register with the recipe."""

    @classmethod
    def create(
        cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MessageRule":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
