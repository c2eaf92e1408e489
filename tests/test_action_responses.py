"""The Rasa server's check of the action server's replies (addons/action_responses.py)."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import addons  # noqa: F401  (installs the check, as the Rasa server does)

ANSWER = {
    "events": [{"event": "slot", "name": "topic", "value": "duration", "timestamp": None}],
    "responses": [{"text": "Usually about an hour.", "custom": {"type": "answer", "sources": ["leaflet_a"]}}],
}


@pytest.fixture
def remote_action() -> RemoteAction:
    return RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:5055/webhook"))


def test_a_well_formed_reply_is_accepted(remote_action):
    assert remote_action._validate_action_result(ANSWER)


@pytest.mark.parametrize("reply", [
    {"events": [{"name": "topic"}], "responses": []},  # an event without its type
    {"events": [], "responses": "Usually about an hour."},  # responses not a list
    {"events": [{"event": "slot", "name": 3}], "responses": []},  # a slot's name not text
])
def test_a_malformed_reply_is_refused_with_rasas_explanation(remote_action, reply):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        remote_action._validate_action_result(reply)

