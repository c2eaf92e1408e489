"""REST channel: POST /webhooks/rest/webhook {"sender": "...", "message": "..."} -> Rasa's message list.

Rasa's built-in `rest` channel answers a malformed body with a 500 and logs the patient's
text when a turn fails; this one checks the body (400 with {"error": ...}, never echoing it)
and runs every turn through channels.turns. Other fields in the body are ignored.

The caller chooses the sender id, so it could write into another patient's conversation:
with an `api_token` configured (the production profile requires one), every request
must carry it as `Authorization: Bearer <token>`. Patients come through the widget and SMS.
"""
from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.render import render_rest
from channels.turns import patient_webhook, run_turn

MAX_SENDER_CHARS = 128


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def parse_body(body: bytes) -> tuple[str, str] | str:
    """(sender, message) from the request body, or what is wrong with it."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # also invalid UTF-8, and JSON nested too deep to read
        return "The body must be a JSON object in UTF-8."
    if not isinstance(data, dict):
        return "The body must be a JSON object."
    sender, message = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters."
    if not isinstance(message, str):
        return "'message' must be a string."
    return sender.strip(), message


class RestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls((credentials or {}).get("api_token") or "")

    def __init__(self, api_token: str = "") -> None:
        self.api_token = api_token.encode()

    def authorized(self, request: Request) -> bool:
        if not self.api_token:
            return True
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.api_token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = patient_webhook("rest_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.authorized(request):
                return error(401, "This webhook needs its API token.")
            parsed = parse_body(request.body)
            if isinstance(parsed, str):
                return error(400, parsed)
            sender, message = parsed
            reply = await run_turn(on_new_message, message, sender, self.name())
            return response.json(
                [{"recipient_id": sender, **message} for message in render_rest(reply)]
            )

        return webhook
