"""Texting a patient through Twilio's REST API (Messages), with a time bound and one retry.

Settings come from the environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (the same token
the SMS webhook checks signatures with), TWILIO_FROM_NUMBER (the clinic's sending number),
TWILIO_TIMEOUT_SECONDS and TWILIO_API_URL (Twilio's own by default; the tests point it at
a local stand-in).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from requests import RequestException
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

logger = logging.getLogger(__name__)
TWILIO_API_URL = "https://api.twilio.com"
# Twilio answers a message request in well under a second; twice 10 s still answers the
# nurse before a browser or proxy gives up on the request (nginx: 60 s).
DEFAULT_TIMEOUT_SECONDS = 10.0
ATTEMPTS = 2  # a failed send (5xx, timeout, no connection) is tried once more


class NotConfigured(RuntimeError):
    """The settings needed to send a text message are missing."""


class SendFailed(RuntimeError):
    """Twilio did not take the message; the text says why, naming no patient data. Not
    ``retryable`` when Twilio refused it (4xx): the same request would be refused again."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str
    timeout_seconds: float
    api_url: str

    @classmethod
    def from_environment(cls) -> TwilioSettings:
        values = {name: (os.environ.get(name) or "").strip()
                  for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise NotConfigured(f"Text-message replies need {', '.join(missing)} to be set.")
        raw_timeout = os.environ.get("TWILIO_TIMEOUT_SECONDS") or str(DEFAULT_TIMEOUT_SECONDS)
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise NotConfigured(f"TWILIO_TIMEOUT_SECONDS must be a number of seconds, not {raw_timeout!r}") from None
        if timeout <= 0:
            raise NotConfigured("TWILIO_TIMEOUT_SECONDS must be positive.")
        return cls(values["TWILIO_ACCOUNT_SID"], values["TWILIO_AUTH_TOKEN"], values["TWILIO_FROM_NUMBER"],
                   timeout, os.environ.get("TWILIO_API_URL") or TWILIO_API_URL)


def client_for(settings: TwilioSettings) -> Client:
    client = Client(settings.account_sid, settings.auth_token,
                    http_client=TwilioHttpClient(timeout=settings.timeout_seconds))
    client.api.base_url = settings.api_url.rstrip("/")
    return client


def send_text(settings: TwilioSettings, to: str, body: str) -> str:
    """Send one text message; its Twilio sid. Raises SendFailed when Twilio refuses it, or
    fails (5xx, time-out, no connection) twice."""
    client = client_for(settings)
    failure = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            message = client.messages.create(to=to, from_=settings.from_number, body=body)
            return str(message.sid)
        except TwilioRestException as error:
            failure = f"Twilio answered HTTP {error.status}"
            if error.status < 500:  # refused (bad number, credentials): the same request would be refused again
                raise SendFailed(f"{failure}, on both tries", retryable=False) from None
        except RequestException as error:
            failure = f"Twilio could not be reached ({type(error).__name__})"
        logger.warning("Text-message reply, attempt %d of %d: %s", attempt, ATTEMPTS, failure)
    raise SendFailed(f"{failure}, on both tries")
