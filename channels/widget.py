"""Socket.io channel for the website chat widget (web/widget.js).

Rasa's own socket.io channel allows every origin and passes `custom` payloads to
socket.io as keyword arguments, which breaks on this project's turn summary; this
one limits origins to the configured list and sends `custom` as a message field.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from assistant.replies import disclaimer_text
from assistant.settings import load_contacts
from channels.turns import TurnOutput, apply_server_settings, run_turn

logger = logging.getLogger(__name__)
UNREADABLE_EVENT = "Sorry, I could not read that message. Please type your question again."


def valid_session_id(value: Any) -> str | None:
    return value if isinstance(value, str) and 8 <= len(value) <= 64 else None


class WidgetOutput(TurnOutput, SocketIOOutput):
    @classmethod
    def name(cls) -> str:
        return "widget"

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class WidgetInput(InputChannel):
    """Conversations keyed by a session id the widget keeps across page reloads."""

    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        origins = credentials.get("cors_allowed_origins") or []
        if isinstance(origins, str):
            origins = [origin.strip() for origin in origins.split(",") if origin.strip()]
        return cls(origins, credentials.get("socketio_path", "/socket.io"))

    def __init__(self, cors_allowed_origins: list[str], socketio_path: str = "/socket.io") -> None:
        self.cors_allowed_origins = cors_allowed_origins
        self.socketio_path = socketio_path
        self.sio: AsyncServer | None = None

    def get_output_channel(self) -> WidgetOutput | None:
        return WidgetOutput(self.sio, "bot_uttered") if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # An empty list would switch origin checks off: keep it closed instead.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.cors_allowed_origins or None)
        self.sio = sio
        blueprint = SocketBlueprint(sio, self.socketio_path, "widget_webhook", __name__)
        apply_server_settings(blueprint)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None) -> None:
            session_id = valid_session_id(data.get("session_id")) if isinstance(data, dict) else None
            is_new = session_id is None
            session_id = session_id or uuid.uuid4().hex
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)
            if is_new:
                await sio.emit(
                    "bot_uttered",
                    {"text": disclaimer_text(load_contacts()), "disclaimer": True},
                    room=sid,
                )

        @sio.on("user_uttered")
        async def handle_message(sid: str, data: Any = None) -> None:
            session_id = valid_session_id(data.get("session_id")) if isinstance(data, dict) else None
            text = data.get("message") if isinstance(data, dict) else None
            # Only the session this socket asked for: a socket cannot write into another's conversation.
            if session_id is None or session_id not in sio.rooms(sid) or not isinstance(text, str):
                await sio.emit("bot_uttered", {"text": UNREADABLE_EVENT}, room=sid)
                return
            await run_turn(on_new_message, WidgetOutput(sio, "bot_uttered"), text, session_id, self.name())

        return blueprint
