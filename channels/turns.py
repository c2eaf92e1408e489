"""One patient turn, the same on REST, the widget and SMS: rate limit, run, never silence.

The turn's reply is built by the core and arrives from the action server as data
(assistant/reply.py); this wrapper takes it and hands it to the channel, which renders
it with its pure function (assistant/render.py). When no reply comes in time (the action
server is down or hangs, or the turn failed), the Rasa server answers on its own: the
triage advice when the message reports a warning sign, and the apology with the nurse
line. The server-wide limits (rate, request size) are applied here too, once for all channels.
"""
from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse

from assistant.inbound import clean_message
from assistant.rate_limit import RateLimiter, parse_per_minute, rate_limiter
from assistant.reply import Reply
from assistant.reply_texts import load_reply_texts
from assistant.settings import (
    asyncio_debug_requested, rate_limit_per_minute, redis_url, request_max_bytes, turn_deadlines,
)
from assistant.triage import assess
from assistant.turn import rate_limited_reply, unavailable_reply

logger = logging.getLogger(__name__)


class TurnOutput(OutputChannel):
    """The output channel a turn runs with: it keeps the reply the action server sent.

    Rasa hands every bot message to ``send_response``; the core sends exactly one, the
    reply as data, so nothing here looks at text."""

    reply: Reply | None = None

    @classmethod
    def name(cls) -> str:
        return "turn"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        data = (message.get("custom") or {}).get("reply")
        if data is None:
            return
        try:
            self.reply = Reply.from_dict(data)
        except (KeyError, TypeError, ValueError) as error:
            logger.error("The action server sent a malformed reply: %s", type(error).__name__)


@lru_cache(maxsize=None)
def shared_rate_limiter() -> RateLimiter:
    """One limiter for every patient channel, configured from the environment."""
    return rate_limiter(parse_per_minute(rate_limit_per_minute()), redis_url())


def apply_server_settings(blueprint: Blueprint) -> None:
    """Check the rate limit's setting now (a bad value stops the start), make the Rasa
    server refuse bodies over the configured size with a 413, whatever the route, and honour
    Python's asyncio debug mode (the tests log every callback over 100 ms with it)."""
    shared_rate_limiter()
    limit = request_max_bytes()

    def too_large(_request, _exception) -> HTTPResponse:
        return response.json({"error": f"The request body is larger than {limit} bytes."}, status=413)

    @blueprint.listener("before_server_start")
    async def set_limit(app, loop) -> None:
        app.config.REQUEST_MAX_SIZE = limit
        app.error_handler.add(PayloadTooLarge, too_large)
        if asyncio_debug_requested():
            # Sanic sets the loop's debug mode from its own setting, and Rasa the asyncio
            # logger's level from LOG_LEVEL_LIBRARIES (ERROR): the slow-callback warnings need both.
            loop.set_debug(True)
            logging.getLogger("asyncio").setLevel(logging.WARNING)


def patient_webhook(name: str) -> Blueprint:
    """A patient channel's blueprint: the server-wide limits and a health check at its root."""
    webhook = Blueprint(name, __name__)
    apply_server_settings(webhook)

    @webhook.route("/", methods=["GET"])
    async def health(_request) -> HTTPResponse:
        return response.json({"status": "ok"})

    return webhook


def log_failure(turn: asyncio.Future, channel: str) -> None:
    """A turn that ended in an error: its type only (the message may be in the error's text)."""
    if not turn.cancelled() and turn.exception() is not None:
        logger.error("Turn on %s failed: %s", channel, type(turn.exception()).__name__)


async def run_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    text: str,
    sender_id: str,
    channel: str,
    metadata: dict[str, Any] | None = None,
    received: float | None = None,
) -> Reply:
    """The reply to one patient message, always, and in bounded time.

    The deadlines count from ``received``, the event loop's time when the message came in
    (now, unless the channel did work first). Within its deadline a reply goes out once
    its turn is stored, so what the patient was told is always on record: a replica that
    died between replying and storing would leave the patient's follow-up ("and for
    kyphoplasty?") answered from the turn before, as the production test's replica kill
    showed. A turn that outlasts its deadline goes on in the background, so the conversation
    is stored whole or not at all; the patient gets the advice, if any, and the apology
    now, unless the turn's reply has come already.
    """
    loop = asyncio.get_running_loop()
    received = loop.time() if received is None else received
    texts = load_reply_texts()
    if not await shared_rate_limiter().allow(f"{channel}:{sender_id}"):
        # Not passed on: a limited message is neither parsed nor stored.
        return rate_limited_reply(texts)
    output = TurnOutput()
    message = UserMessage(clean_message(text), output, sender_id, input_channel=channel, metadata=metadata)
    turn = asyncio.ensure_future(on_new_message(message))
    turn.add_done_callback(lambda finished: log_failure(finished, channel))
    advice_deadline, reply_deadline = turn_deadlines()
    # Within the advice deadline a reported warning sign gets its advice, whatever hangs;
    # any other message may wait up to the reply deadline for its answer.
    await asyncio.wait({turn}, timeout=max(0.0, received + advice_deadline - loop.time()))
    if not turn.done():
        triage = assess(message.text).as_dict()
        if triage["urgency"] == "routine":
            await asyncio.wait({turn}, timeout=max(0.0, received + reply_deadline - loop.time()))
        if not turn.done() and output.reply is None:
            logger.warning("Turn on %s outlasted its deadline: answered without the action server.", channel)
            return unavailable_reply(triage, texts)
    if output.reply is None:
        return unavailable_reply(assess(message.text).as_dict(), texts)
    return output.reply
