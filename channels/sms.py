"""SMS channel for a Twilio-style messaging webhook, answered synchronously with TwiML.

POST /webhooks/sms/webhook with Twilio's form fields (From, To, Body, MessageSid, ...)
and its X-Twilio-Signature. The conversation is keyed by the sender's number.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from assistant import sms
from assistant.db import engine_for
from assistant.replies import SMS_CHANNEL, disclaimer_text
from assistant.settings import database_url, load_contacts
from channels.turns import TurnCollector, patient_webhook, run_turn

logger = logging.getLogger(__name__)
MAX_BODY_CHARS = 1600  # Twilio's own limit for one inbound message
EMPTY_BODY_REPLY = "Please text your question about vertebroplasty or kyphoplasty. Reply HELP for help."


def twiml(text: str | None) -> HTTPResponse:
    """A TwiML reply: one message, or none at all."""
    reply = MessagingResponse()
    if text:
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
            return await self.reply(request, phone, (params.get("Body") or "")[:MAX_BODY_CHARS], on_new_message)

        return webhook

    async def reply(
        self, request: Request, phone: str, body: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        contacts = load_contacts()
        word = sms.keyword(body)
        engine = engine_for(database_url())
        try:
            if word in ("stop", "start"):
                sms.set_opted_out(engine, phone, word == "stop")
                return twiml(sms.stop_text() if word == "stop" else sms.start_text())
            if sms.is_opted_out(engine, phone):
                return twiml(None)
        except SQLAlchemyError as error:
            logger.warning("SMS opt-out store unavailable: %s", type(error).__name__)
            if word in ("stop", "start"):
                return twiml(f"Sorry, we could not process that. Please try again later, or call {contacts.nurse_phone}.")
        if word == "help":
            return twiml(sms.help_text(contacts))
        if not body.strip():
            return twiml(EMPTY_BODY_REPLY)

        text, metadata = body, {}
        if word == "more":
            # Re-answer the topic in context, in the long form.
            text, metadata = "/inform_procedure", {"sms_detail": "more"}
        elif (number := sms.choice(body)) is not None:
            text = await self.offered_payload(request, phone, number) or body
        collector = TurnCollector()
        await run_turn(on_new_message, collector, text, phone, self.name(), metadata)
        disclaimer = disclaimer_text(contacts)
        limit = sms.MORE_LIMIT if word == "more" else sms.REPLY_LIMIT
        return twiml(sms.compose_reply(sms.split_turn(collector.messages, disclaimer), disclaimer, limit))

    @staticmethod
    async def offered_payload(request: Request, phone: str, number: int) -> str | None:
        """The payload of option ``number`` among the suggestions of the bot's last turn."""
        tracker = await request.app.ctx.agent.tracker_store.retrieve(phone)
        if tracker is None:
            return None
        offered: list[dict] = []
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered):
                offered = (event.data.get("buttons") or []) + offered
        return offered[number - 1]["payload"] if 1 <= number <= len(offered) else None
