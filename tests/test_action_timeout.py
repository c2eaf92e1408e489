"""A call to the action server ends within ACTION_SERVER_TIMEOUT, not Rasa's 300 s."""
from __future__ import annotations

import asyncio
import time

import pytest
import rasa.core.actions.action
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons.action_timeout import bound_action_server_calls
from assistant.settings import PROJECT_ROOT
from scripts.local_services import Tarpit


@pytest.fixture
def bounded(monkeypatch):
    monkeypatch.setenv("ACTION_SERVER_TIMEOUT", "1")
    monkeypatch.setattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT", rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT)
    bound_action_server_calls()


def test_a_hanging_action_server_fails_the_call_within_its_bound(bounded):
    domain = Domain.load(PROJECT_ROOT / "domain.yml")
    tarpit = Tarpit()  # accepts, never answers
    try:
        action = RemoteAction("action_respond", EndpointConfig(f"http://127.0.0.1:{tarpit.port}/webhook"))
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):  # Rasa's processor ends the action as failed
            asyncio.run(action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
                                   DialogueStateTracker("patient", domain.slots), domain))
        assert time.monotonic() - started < 2
    finally:
        tarpit.close()
