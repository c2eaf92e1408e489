"""One patient turn, the same on REST, the widget and SMS: rate limit, run, never silence.

Rasa carries on quietly when the action server is down (the turn then sends no `custom`
object) and a channel would otherwise answer with nothing; an exception inside the turn
would be a 500. Either way the patient gets the apology with the nurse line instead.
The server-wide limits (rate, request size) are applied here too, once for all channels.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Awaitable, Callable

import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse

from assistant.inbound import clean_message
from assistant.rate_limit import RateLimiter, parse_per_minute, rate_limiter
from assistant.replies import fill_contacts, rate_limited_text, turn_payload
from assistant.settings import PROJECT_ROOT, load_contacts, rate_limit_per_minute, redis_url, request_max_bytes

logger = logging.getLogger(__name__)
UNAVAILABLE_RESPONSE = "utter_answer_unavailable"


class TurnOutput:
    """Output-channel mixin that notes whether the turn sent its `custom` object."""

    custom_sent = False

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if message.get("custom"):
            self.custom_sent = True
        await super().send_response(recipient_id, message)  # type: ignore[misc]

    async def send_fallback(self, recipient_id: str, text: str) -> None:
        await self.send_response(recipient_id, {"text": text, "custom": turn_payload("fallback")})


class TurnCollector(TurnOutput, CollectingOutputChannel):
    """Collects a turn's messages for channels that answer in the HTTP response."""


@lru_cache(maxsize=None)
def shared_rate_limiter() -> RateLimiter:
    """One limiter for every patient channel, configured from the environment."""
    return rate_limiter(parse_per_minute(rate_limit_per_minute()), redis_url())


def apply_server_settings(blueprint: Blueprint) -> None:
    """Check the rate limit's setting now (a bad value stops the start), and make the Rasa
    server refuse bodies over the configured size with a 413, whatever the route."""
    shared_rate_limiter()
    limit = request_max_bytes()

    def too_large(_request, _exception) -> HTTPResponse:
        return response.json({"error": f"The request body is larger than {limit} bytes."}, status=413)

    @blueprint.listener("before_server_start")
    async def set_limit(app, _loop) -> None:
        app.config.REQUEST_MAX_SIZE = limit
        app.error_handler.add(PayloadTooLarge, too_large)


def patient_webhook(name: str) -> Blueprint:
    """A patient channel's blueprint: the server-wide limits and a health check at its root."""
    webhook = Blueprint(name, __name__)
    apply_server_settings(webhook)

    @webhook.route("/", methods=["GET"])
    async def health(_request) -> HTTPResponse:
        return response.json({"status": "ok"})

    return webhook


@lru_cache(maxsize=None)
def unavailable_text() -> str:
    """The domain's own apology (domain.yml), with the nurse line from clinic.yml."""
    responses = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    return fill_contacts(responses[UNAVAILABLE_RESPONSE][0]["text"], load_contacts())


async def run_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    output: TurnOutput,
    text: str,
    sender_id: str,
    channel: str,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Answer one patient message through ``output``: exactly one `custom` object, always."""
    if not shared_rate_limiter().allow(f"{channel}:{sender_id}"):
        # Not passed on: a limited message is neither parsed nor stored.
        await output.send_fallback(sender_id, rate_limited_text(load_contacts()))
        return
    message = UserMessage(clean_message(text), output, sender_id, input_channel=channel, metadata=metadata)
    try:
        await on_new_message(message)
    except Exception as error:  # the type only: the message may be in the exception's text
        logger.error("Turn on %s failed: %s", channel, type(error).__name__)
    if not output.custom_sent:
        await output.send_fallback(sender_id, unavailable_text())
