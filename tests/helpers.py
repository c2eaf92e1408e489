"""Helpers the end-to-end tests share: senders, REST turns, the nurse API and accounts, a phone, the store."""
from __future__ import annotations

import asyncio
import secrets
import shutil
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import requests
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from addons.tracker_store import PatientSQLTrackerStore
from assistant import gsm7
from assistant.accounts import add_nurse
from assistant.db import engine_for
from assistant.settings import PROJECT_ROOT, leaflets_dir
from assistant.render import SMS_MESSAGE_LIMIT
from assistant.vocabulary import ANSWER_PROCEDURES, TOPICS, TURN_TYPES, URGENCIES

RED_FLAG = "I had kyphoplasty yesterday and now I have chest pain"
# Vague messages the model is unsure about, answered with "did you mean..." suggestions;
# whether it is unsure depends on the trained model's intent ranking, so several are tried.
VAGUE_MESSAGES = ["is that normal", "my back", "is it ok", "not sure"]


SECRET = "my-name-is-jane-doe"  # patient text that must never come back in an error


def assert_json_error(response: requests.Response, status: int) -> None:
    """A clear 4xx as JSON: {"error": ...}, without the patient's text or a stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    assert SECRET not in response.text and "Traceback" not in response.text


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def custom_of(messages: list[dict]) -> dict:
    customs = [m["custom"] for m in messages if "custom" in m]
    assert len(customs) == 1, messages
    return customs[0]


def turn(assistant, sender, message):
    """Send one message; check the contract; return (texts, the custom object, messages)."""
    messages = assistant.send(sender, message)
    custom = custom_of(messages)
    assert set(custom) - {"also_asked"} == {"type", "topic", "procedure", "urgency", "sources"}
    assert custom["type"] in TURN_TYPES
    assert custom["topic"] is None or custom["topic"] in TOPICS
    assert custom["procedure"] in (*ANSWER_PROCEDURES, None)
    assert custom["urgency"] in URGENCIES
    also_asked = custom.get("also_asked")  # only when the message asked other questions too
    assert also_asked is None or (also_asked and all(topic in TOPICS for topic in also_asked))
    if custom["type"] not in ("answer", "triage"):
        assert custom["sources"] == []
    texts = [m["text"] for m in messages if m.get("text")]
    assert texts, messages
    return texts, custom, messages


class NurseApi:
    """The nurse console's API, as one signed-in nurse (or, with no token, as nobody)."""

    def __init__(self, assistant, token: str | None):
        self.base = f"{assistant.url}/webhooks/nurse/api"
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    @classmethod
    def sign_in(cls, assistant, name: str, secret: str) -> "NurseApi":
        response = requests.post(f"{assistant.url}/webhooks/nurse/api/login",
                                 json={"name": name, "secret": secret}, timeout=30)
        assert response.status_code == 200, response.text
        return cls(assistant, response.json()["token"])

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(f"{self.base}{path}", params=params, headers=self.headers, timeout=30)

    def post(self, path: str, body=None) -> requests.Response:
        return requests.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=30)


def new_nurse(database_url: str) -> tuple[str, str]:
    """A new nurse account in the assistant's database: (name, secret)."""
    name, secret = f"nurse-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    add_nurse(engine_for(database_url), name, secret)
    return name, secret


def new_number() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


class Phone:
    """A patient's phone texting the clinic's number through Twilio."""

    def __init__(self, assistant, token: str | None = None):
        self.url = f"{assistant.url}/webhooks/sms/webhook"
        self.number = new_number()
        self.validator = RequestValidator(token or assistant.sms_auth_token)

    def params(self, body: str) -> dict:
        sid = "SM" + secrets.token_hex(16)
        return {
            "ToCountry": "US", "ToState": "MA", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "BOSTON", "FromZip": "02110", "SmsSid": sid, "FromState": "MA",
            "SmsStatus": "received", "FromCity": "BOSTON", "Body": body, "FromCountry": "US",
            "To": "+16175550123", "ToZip": "02110", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32, "From": self.number, "ApiVersion": "2010-04-01",
        }

    def post(self, body: str, signature: str | None = None) -> requests.Response:
        params = self.params(body)
        signature = self.validator.compute_signature(self.url, params) if signature is None else signature
        return requests.post(self.url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)

    def messages(self, body: str) -> list[str]:
        """Send ``body``; the texts of the messages sent back, each checked as an SMS."""
        response = self.post(body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        messages = [message.text or "" for message in ET.fromstring(response.text).findall("Message")]
        for message in messages:
            assert_sms(message)
        return messages

    def text(self, body: str) -> str | None:
        """Send ``body``; the reply's messages as one text, one per line, or None when nothing is sent back."""
        return "\n".join(self.messages(body)) or None


def tracker_store_for(url: str) -> PatientSQLTrackerStore:
    """The store as Rasa builds it from endpoints.yml, for a SQLAlchemy URL."""
    parts = make_url(url)
    return PatientSQLTrackerStore(
        domain=Domain.load(PROJECT_ROOT / "domain.yml"),
        dialect=parts.get_backend_name(),
        host=parts.host,
        port=parts.port,
        db=parts.database,
        username=parts.username,
    )


def assert_sms(message: str) -> None:
    """One text message: plain GSM-7, within the segment limit, ending at a sentence end."""
    assert message
    assert gsm7.is_gsm7(message), message
    assert gsm7.septet_length(message) <= SMS_MESSAGE_LIMIT, (gsm7.septet_length(message), message)
    assert "**" not in message and "<" not in message
    assert message.rstrip()[-1] in ".!?:)", message


async def longest_stall(awaitable) -> tuple[object, float]:
    """Await ``awaitable`` while a ticker runs on the same event loop every 10 ms: its result,
    and the longest the loop went without running the ticker (seconds). A blocking call
    inside shows as a stall as long as the call."""
    stalls = [0.0]

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            stalls.append(now - last - 0.01)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        result = await awaitable
    finally:
        ticker.cancel()
    return result, max(stalls)


def edited_leaflets(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of the leaflets' folder with ``old`` replaced by ``new`` in the leaflet ``file``:
    a leaflet changed where it is kept."""
    directory = tmp_path / "leaflets"
    shutil.copytree(leaflets_dir(), directory)
    path = directory / file
    path.chmod(0o644)  # the shared folder is read-only, and copytree keeps its mode
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return directory
