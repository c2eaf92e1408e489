"""Socket.io channel for the website chat widget (web/widget.js) and any Rasa web client.

It speaks Rasa's socket.io protocol as existing clients do (rasa-webchat among them):
`session_request` / `session_confirm`, `user_uttered` in, `bot_uttered` out, one message per
part of the reply, with options as `quick_replies`. Each message's `metadata` also names its
`role`, which this project's widget uses to show the advice, the answer's sources and the notices; the
turn summary goes out as its own `turn_summary` event, which other clients ignore. Unlike
Rasa's own channel it limits origins to the configured list.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from sqlalchemy.exc import SQLAlchemyError

from assistant import nurse_reply
from assistant.db import engine_for
from assistant.render import render_widget, widget_message
from assistant.reply import turn_summary
from assistant.reply_texts import load_reply_texts
from assistant.settings import database_url
from channels.turns import apply_server_settings, run_turn

WIDGET_CHANNEL = "widget"
logger = logging.getLogger(__name__)
WAITING_REPLIES_TIMEOUT_SECONDS = 2  # a slow database must not hold up a page opening
UNREADABLE_EVENT = "Sorry, I could not read that message. Please type your question again."


def valid_session_id(value: Any) -> str | None:
    return value if isinstance(value, str) and 8 <= len(value) <= 64 else None


class WidgetInput(InputChannel):
    """Conversations keyed by a session id the widget keeps across page reloads."""

    @classmethod
    def name(cls) -> str:
        return WIDGET_CHANNEL

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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # An empty list would switch origin checks off: keep it closed instead.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.cors_allowed_origins or None)
        blueprint = SocketBlueprint(sio, self.socketio_path, "widget_webhook", __name__)
        apply_server_settings(blueprint)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def deliver_nurse_reply(session_id: str, message: dict) -> bool:
            """Show a nurse's reply in the session's open pages; False when none is open."""
            if next(iter(sio.manager.get_participants("/", session_id)), None) is None:
                return False
            await sio.emit("bot_uttered", message, room=session_id)
            return True

        @blueprint.listener("before_server_start")
        async def offer_delivery(app: Any, _: Any) -> None:
            app.ctx.widget_delivery = deliver_nurse_reply  # for the nurse console (channels/nurse.py)

        async def show_waiting_replies(sid: str, session_id: str) -> None:
            """The nurse's replies sent while this conversation's page was closed."""
            engine = engine_for(database_url())
            try:
                waiting = await asyncio.wait_for(
                    asyncio.to_thread(nurse_reply.waiting_for, engine, session_id), WAITING_REPLIES_TIMEOUT_SECONDS)
                if waiting:  # marked before they are shown, so the next page opened does not show them again
                    await asyncio.wait_for(asyncio.to_thread(
                        nurse_reply.mark_delivered, engine, [reply_id for reply_id, _ in waiting]),
                        WAITING_REPLIES_TIMEOUT_SECONDS)
                for _, text in waiting:
                    await sio.emit("bot_uttered", nurse_reply.widget_payload(text), room=sid)
            except (SQLAlchemyError, asyncio.TimeoutError) as failure:
                logger.warning("Waiting nurse replies not shown: %s", type(failure).__name__)

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None) -> None:
            session_id = valid_session_id(data.get("session_id")) if isinstance(data, dict) else None
            is_new = session_id is None
            session_id = session_id or uuid.uuid4().hex
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)
            if is_new:
                # Shown before the first question; the first reply then leaves it out.
                disclaimer = load_reply_texts().notices["disclaimer"]
                await sio.emit(
                    "bot_uttered", widget_message({"role": "disclaimer", "notice": "disclaimer", "text": disclaimer}), room=sid
                )
                await sio.save_session(sid, {"disclaimer_shown": True})
            else:
                await show_waiting_replies(sid, session_id)

        @sio.on("user_uttered")
        async def handle_message(sid: str, data: Any = None) -> None:
            session_id = valid_session_id(data.get("session_id")) if isinstance(data, dict) else None
            text = data.get("message") if isinstance(data, dict) else data
            # Only the session this socket asked for: a socket cannot write into another's conversation.
            if text is None:
                return  # a client's opening message without text (rasa-webchat's init): nothing to answer
            if session_id is None or session_id not in sio.rooms(sid) or not isinstance(text, str):
                await sio.emit("bot_uttered", widget_message({"role": "notice", "text": UNREADABLE_EVENT}), room=sid)
                return
            reply = await run_turn(on_new_message, text, session_id, self.name())
            disclaimer_shown = (await sio.get_session(sid)).get("disclaimer_shown", False)
            for message in render_widget(reply, disclaimer_shown):
                await sio.emit("bot_uttered", message, room=session_id)
            await sio.emit("turn_summary", turn_summary(reply), room=session_id)

        return blueprint
