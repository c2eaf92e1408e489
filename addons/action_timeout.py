"""A bound on every call to the action server (ACTION_SERVER_TIMEOUT, assistant.settings).

Rasa's RemoteAction (rasa 3.6.21) waits up to DEFAULT_REQUEST_TIMEOUT, 300 s, for the
action server, holding the conversation's lock all that while: a hanging action server
would keep the patient's next message waiting for minutes. RemoteAction.run reads the
module's DEFAULT_REQUEST_TIMEOUT at each call and hands it to aiohttp, so setting it
there bounds the call. A call that outlasts it raises asyncio.TimeoutError, which Rasa's
processor handles as any failed action: the turn goes on without the action's events and
ends (the patient has had the apology from channels/turns.py by then).
"""
from __future__ import annotations

import rasa.core.actions.action

from assistant.settings import time_bounds


def bound_action_server_calls() -> None:
    if not hasattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT"):
        raise RuntimeError("rasa.core.actions.action no longer has DEFAULT_REQUEST_TIMEOUT: check the Rasa upgrade")
    rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT = time_bounds().action_server
