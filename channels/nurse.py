"""Nurse-line console and API, served by the Rasa server under /webhooks/nurse/.

GET  /webhooks/nurse/                          the console page (asks for the token)
POST /webhooks/nurse/api/assess                {"text": what the caller says}
GET  /webhooks/nurse/api/escalations           ?status=open|handled|all&q=search
GET  /webhooks/nurse/api/escalations/<id>      one escalation with its transcript
POST /webhooks/nurse/api/escalations/<id>/handle  {"note": "..."}

Every /api route needs `Authorization: Bearer <token>`, one of the configured tokens.
"""
from __future__ import annotations

import hmac
import logging
from functools import wraps
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from assistant import escalations, nurse
from assistant.inbound import MAX_MESSAGE_CHARS, clean_message
from assistant.db import engine_for
from assistant.settings import PROJECT_ROOT, database_url, load_contacts

logger = logging.getLogger(__name__)
CONSOLE_PAGE = PROJECT_ROOT / "web" / "nurse.html"


def error(status: int, message: str, **headers: str) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers=headers or None)


def json_body(request: Request) -> dict:
    try:
        body = request.json
    except InvalidUsage:  # malformed JSON
        return {}
    return body if isinstance(body, dict) else {}


class NurseConsole(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "nurse"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        tokens = (credentials or {}).get("tokens") or []
        if isinstance(tokens, str):
            tokens = tokens.split(",")
        return cls([token.strip() for token in tokens if token and token.strip()])

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = [token.encode() for token in tokens]
        if not self.tokens:
            logger.warning("Nurse console has no tokens configured: its API refuses every request.")

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        # Compare with every token, in constant time, so timing tells nothing.
        matches = [hmac.compare_digest(given.strip().encode(), token) for token in self.tokens]
        return any(matches)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        console = Blueprint("nurse_console", __name__)

        def needs_token(handler):
            @wraps(handler)
            async def checked(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                if not self.authorized(request):
                    return error(401, "A valid nurse-line token is required.", **{"WWW-Authenticate": "Bearer"})
                try:
                    return await handler(request, *args, **kwargs)
                except SQLAlchemyError as failure:
                    logger.warning("Nurse API database error: %s", type(failure).__name__)
                    return error(503, "The database is unavailable; try again shortly.")

            return checked

        @console.route("/", methods=["GET"])
        async def page(_: Request) -> HTTPResponse:
            return await response.file(CONSOLE_PAGE, mime_type="text/html")

        @console.route("/api/assess", methods=["POST"])
        @needs_token
        async def assess(request: Request) -> HTTPResponse:
            text = json_body(request).get("text")
            if not isinstance(text, str) or not text.strip():
                return error(400, "Send JSON with a non-empty 'text' field.")
            if len(text) > MAX_MESSAGE_CHARS:
                return error(413, f"'text' is limited to {MAX_MESSAGE_CHARS} characters.")
            parse_data = await request.app.ctx.agent.parse_message(clean_message(text))
            return response.json(nurse.assess(parse_data, engine_for(database_url()), load_contacts()))

        @console.route("/api/escalations", methods=["GET"])
        @needs_token
        async def queue(request: Request) -> HTTPResponse:
            status = request.args.get("status", escalations.OPEN)
            if status not in (escalations.OPEN, escalations.HANDLED, "all"):
                return error(400, "status must be open, handled or all.")
            rows = escalations.list_escalations(
                engine_for(database_url()), status, request.args.get("q", "")[:200]
            )
            return response.json({"escalations": rows})

        @console.route("/api/escalations/<escalation_id:int>", methods=["GET"])
        @needs_token
        async def one(request: Request, escalation_id: int) -> HTTPResponse:
            row = escalations.get_escalation(engine_for(database_url()), escalation_id)
            if row is None:
                return error(404, "No such escalation.")
            # Every stored event of every session, not the recent window a turn loads.
            tracker = await request.app.ctx.agent.tracker_store.retrieve_full_tracker(row["sender_id"])
            events = [event.as_dict() for event in tracker.events] if tracker else []
            return response.json({**row, "transcript": nurse.transcript(events, row["message_id"])})

        @console.route("/api/escalations/<escalation_id:int>/handle", methods=["POST"])
        @needs_token
        async def handle(request: Request, escalation_id: int) -> HTTPResponse:
            note = json_body(request).get("note", "")
            if not isinstance(note, str) or len(note) > 2000:
                return error(400, "'note' must be text of at most 2000 characters.")
            row = escalations.mark_handled(engine_for(database_url()), escalation_id, note.strip())
            if row is None:
                return error(404, "No such escalation.")
            return response.json(row)

        return console
