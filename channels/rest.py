"""REST channel: POST /webhooks/rest/webhook {"sender": "...", "message": "..."} -> Rasa's message list.

Rasa's built-in `rest` channel answers a malformed body with a 500 and logs the patient's
text when a turn fails; this one checks the body (400 with {"error": ...}, never echoing it)
and runs every turn through channels.turns. Other fields in the body are ignored.
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.turns import TurnCollector, patient_webhook, run_turn

MAX_SENDER_CHARS = 128


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def parse_body(body: bytes) -> tuple[str, str] | str:
    """(sender, message) from the request body, or what is wrong with it."""
    try:
        data = json.loads(body)
    except ValueError:  # also invalid UTF-8
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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = patient_webhook("rest_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            parsed = parse_body(request.body)
            if isinstance(parsed, str):
                return error(400, parsed)
            sender, message = parsed
            collector = TurnCollector()
            await run_turn(on_new_message, collector, message, sender, self.name())
            return response.json(collector.messages)

        return webhook
