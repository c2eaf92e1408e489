"""SMS channel for a Twilio-style messaging webhook, answered synchronously with TwiML.

POST /webhooks/sms/webhook with Twilio's form fields (From, To, Body, MessageSid, ...)
and its X-Twilio-Signature. The conversation is keyed by the sender's number. The carrier
keywords (STOP, START, HELP) are answered here; everything else, "MORE" and option
numbers included, is a message for the assistant, and its reply is rendered for SMS by
assistant/render.render_sms: several <Message>s, none over three segments.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from assistant import sms
from assistant.db import engine_for
from assistant.render import render_sms
from assistant.off_loop import OffLoop
from assistant.settings import database_url, load_contacts, time_bounds
from channels.check_ins import runtime as check_ins
from channels.turns import patient_webhook, run_turn

SMS_CHANNEL = "sms"

logger = logging.getLogger(__name__)
MAX_BODY_CHARS = 1600  # Twilio's own limit for one inbound message
# One primary-key look-up per message, a few milliseconds.
OPT_OUT_THREADS = 4
EMPTY_BODY_REPLY = "Please text your question about vertebroplasty or kyphoplasty. Reply HELP for help."


def twiml(texts: list[str]) -> HTTPResponse:
    """A TwiML reply: each text its own message (none at all for an empty list)."""
    reply = MessagingResponse()
    for text in texts:
        reply.message(text)
    return response.text(str(reply), content_type="application/xml")


class SmsInput(InputChannel):
    """Twilio-style SMS webhook: signed requests in, one TwiML message out."""

    @classmethod
    def name(cls) -> str:
        return SMS_CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(credentials.get("auth_token") or "", credentials.get("public_url") or "")

    def __init__(self, auth_token: str, public_url: str = "") -> None:
        # Without a token every request is refused: an unsigned webhook is never served.
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.public_url = public_url.rstrip("/")
        self.opt_outs = OffLoop("sms-opt-out", OPT_OUT_THREADS, time_bounds().pre_turn_check)
        if not auth_token:
            logger.warning("SMS channel has no auth token: every SMS request will be refused.")

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the public one when behind a proxy."""
        if not self.public_url:
            return request.url
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.public_url}{request.path}{query}"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = patient_webhook("sms_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            # Parsed here rather than by Sanic, which drops blank fields that Twilio signs.
            params = dict(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
            signature = request.headers.get("X-Twilio-Signature", "")
            if not self.validator or not self.validator.validate(self.signed_url(request), params, signature):
                return response.text("Forbidden: missing or invalid X-Twilio-Signature.", status=403)
            phone = (params.get("From") or "").strip()
            if not phone:
                return response.text("Bad request: the 'From' field is required.", status=400)
            return await self.reply(phone, (params.get("Body") or "")[:MAX_BODY_CHARS], on_new_message)

        return webhook

    async def reply(
        self, phone: str, body: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        received = asyncio.get_running_loop().time()
        contacts = load_contacts()
        word = sms.keyword(body)
        engine = engine_for(database_url())
        bounds = time_bounds()
        try:
            if word in ("stop", "start"):
                # No turn waits on it: as long as the database's own bounds allow.
                await self.opt_outs.run(sms.set_opted_out, engine, phone, word == "stop",
                                        timeout=bounds.database_connect + bounds.database_statement)
                if word == "stop":
                    await check_ins().stop_number(phone)
                return twiml([sms.stop_text() if word == "stop" else sms.start_text()])
            # Before the opt-out: a number that texted STOP may say YES to a new enrolment.
            consented = await check_ins().consent(phone, body)
            if consented:
                return twiml([consented])
            # Bounded by the pre-turn check: a red flag must get its advice in time.
            if await self.opt_outs.run(sms.is_opted_out, engine, phone):
                return twiml([])
            answered = await check_ins().answer(phone, body) if body.strip() and not word else None
        except (SQLAlchemyError, asyncio.TimeoutError) as error:
            logger.warning("SMS opt-out or check-in store unavailable: %s", type(error).__name__)
            if word in ("stop", "start"):
                return twiml([f"Sorry, we could not process that. Please try again later, or call {contacts.nurse_phone}."])
            answered = None
        if word == "help":
            return twiml([sms.help_text(contacts)])
        if not body.strip():
            return twiml([EMPTY_BODY_REPLY])
        if answered and answered.text:
            return twiml([answered.text])
        context = {"check_in": answered.context} if answered and answered.context else None
        reply = await run_turn(on_new_message, body, phone, self.name(), metadata=context, received=received)
        return twiml(render_sms(reply))
