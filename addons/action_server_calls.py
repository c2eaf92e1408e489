"""Calls to the action server: each bounded (ACTION_SERVER_TIMEOUT, assistant.settings), and
over connections kept open between turns.

Bound: Rasa's RemoteAction (rasa 3.6.21) waits up to DEFAULT_REQUEST_TIMEOUT, 300 s, for
the action server, holding the conversation's lock all that while: a hanging action server
would keep the patient's next message waiting for minutes. RemoteAction.run reads the
module's DEFAULT_REQUEST_TIMEOUT at each call and hands it to aiohttp, so setting it
there bounds the call. A call that outlasts it raises asyncio.TimeoutError, which Rasa's
processor handles as any failed action: the turn goes on without the action's events and
ends (the patient has had the apology from channels/turns.py by then).

Connections: Rasa's EndpointConfig makes a new aiohttp session, and so a new connection,
for every call, and closes it after. Here each endpoint keeps one session per event loop.
Its idle connections close after KEEP_ALIVE_SECONDS, before the action server's (Sanic
closes them after 5 s), so a call never goes out on a connection the server is closing.
"""
from __future__ import annotations

import asyncio
import weakref
from types import TracebackType
from typing import Optional

import aiohttp
import rasa.core.actions.action
from rasa.utils.endpoints import EndpointConfig

from assistant.settings import time_bounds

KEEP_ALIVE_SECONDS = 2.0
rasa_session = EndpointConfig.session


def bound_action_server_calls() -> None:
    if not hasattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT"):
        raise RuntimeError("rasa.core.actions.action no longer has DEFAULT_REQUEST_TIMEOUT: check the Rasa upgrade")
    rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT = time_bounds().action_server


class KeptSession:
    """What ``async with endpoint.session()`` gives: the endpoint's session, left open after."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, kind: Optional[type], error: Optional[BaseException],
                        traceback: Optional[TracebackType]) -> None:
        return None


def kept_session(endpoint: EndpointConfig) -> KeptSession:
    """EndpointConfig.session, made once per endpoint and event loop."""
    sessions: weakref.WeakKeyDictionary = endpoint.__dict__.setdefault("kept_sessions", weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    session = sessions.get(loop)
    if session is None or session.closed:
        basic_auth = endpoint.basic_auth
        session = sessions[loop] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE_SECONDS),
            headers=endpoint.headers,
            auth=aiohttp.BasicAuth(basic_auth["username"], basic_auth["password"]) if basic_auth else None,
            timeout=aiohttp.ClientTimeout(total=rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT),
        )
    return KeptSession(session)


def keep_action_server_connections() -> None:
    EndpointConfig.session = kept_session
