"""Domain responses with the clinic's contact details filled in from clinic.yml."""
from __future__ import annotations

from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from assistant.settings import load_contacts


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
        return await super().generate(
            utter_action, tracker, output_channel, **{**self.contacts, **kwargs}
        )
