"""Calls to the action server: each ends within ACTION_SERVER_TIMEOUT, not Rasa's 300 s, and
they go over a connection kept open between turns."""
from __future__ import annotations

import asyncio
import time

import pytest
import rasa.core.actions.action
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons.action_server_calls import bound_action_server_calls, kept_session, rasa_session
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


@pytest.mark.parametrize("session, connections", [(kept_session, 1), (rasa_session, 3)])
def test_turns_call_the_action_server_over_one_kept_connection(monkeypatch, session, connections):
    """Rasa's own session opened a connection for every call, and closed it after."""
    monkeypatch.setattr(EndpointConfig, "session", session)
    callers = []

    async def webhook(request: web.Request) -> web.Response:
        callers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    async def three_turns() -> None:
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
            for _ in range(3):
                await endpoint.request(method="post", json={"next_action": "action_respond"})
        finally:
            await runner.cleanup()

    asyncio.run(three_turns())
    assert len(callers) == 3 and len(set(callers)) == connections
