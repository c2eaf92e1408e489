"""Bad input on every entry point: a polite reply or a clear 4xx, the server still up, nothing lost.

Entry points: REST, the socket.io widget, the SMS webhook and the nurse API. After each bad
request a normal question still gets its answer, and a conversation held before is intact.
"""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from tests.helpers import SECRET, Phone, assert_json_error
from widget_client import WidgetClient


# Patient texts each channel must answer politely, never with an error.
BAD_TEXTS = {
    "empty": "",
    "whitespace": "   \n\t ",
    "ten thousand characters": "my back hurts " * 715,
    "emoji only": "\U0001F62D\U0001F62D\U0001F64F",
    "another language": "¿Cuánto tiempo dura la cifoplastia?",
    "html and script": "<img src=x onerror=alert(1)><script>alert('x')</script>",
    "sql-looking": "'; DROP TABLE answers; -- SELECT * FROM sources",
    "null byte": "hello\x00world",
    "control characters": "pain\x07\x1b[31m\x7f after",
}
# JSON can carry a lone surrogate (an SMS form body cannot encode one).
JSON_TEXTS = {**BAD_TEXTS, "a lone surrogate": "pain \ud83d after"}
ONE_MB = 1_000_000


def question_is_answered(assistant) -> None:
    """The server still serves: a fresh conversation gets a sourced answer."""
    messages = assistant.send(f"check-{uuid.uuid4().hex[:8]}", "how long does vertebroplasty take?")
    custom = next(m["custom"] for m in messages if "custom" in m)
    assert (custom["type"], custom["topic"]) == ("answer", "duration")


def events_of(assistant, sender: str) -> list[dict]:
    response = requests.get(
        f"{assistant.url}/conversations/{sender}/tracker", params={"token": assistant.token}, timeout=30
    )
    response.raise_for_status()
    return response.json()["events"]


@pytest.fixture(scope="module")
def earlier(assistant):
    """A conversation held before the bad input: its events must survive all of it."""
    sender = f"earlier-{uuid.uuid4().hex[:8]}"
    assistant.send(sender, "how long does kyphoplasty take?")
    return sender, events_of(assistant, sender)


def still_serving(assistant, earlier) -> None:
    assert assistant.is_up()
    question_is_answered(assistant)
    sender, events = earlier
    assert events_of(assistant, sender)[: len(events)] == events


def custom_objects(messages: list[dict]) -> list[dict]:
    return [m["custom"] for m in messages if "custom" in m]


# ---------------------------------------------------------------- REST


@pytest.mark.parametrize("message", JSON_TEXTS.values(), ids=JSON_TEXTS.keys())
def test_rest_texts_get_a_polite_reply(assistant, earlier, message):
    sender = f"bad-{uuid.uuid4().hex[:8]}"
    messages = assistant.send(sender, message)
    texts = [m["text"] for m in messages if m.get("text")]
    assert texts, messages
    assert not any("Traceback" in text or "<script>" in text for text in texts)
    assert len(custom_objects(messages)) == 1
    still_serving(assistant, earlier)
    # The conversation carries on.
    after = assistant.send(sender, "how long does vertebroplasty take?")
    assert [(c["type"], c["topic"]) for c in custom_objects(after)] == [("answer", "duration")]


JSON = {"Content-Type": "application/json"}
REST_BAD_BODIES = {
    "invalid JSON": (b'{"sender": "a", "message": "' + SECRET.encode(), JSON, 400),
    "invalid UTF-8": (b'{"sender": "a", "message": "\xff\xfe' + SECRET.encode() + b'"}', JSON, 400),
    "plain text": (SECRET.encode(), {"Content-Type": "text/plain"}, 400),
    "form fields": (f"sender=a&message={SECRET}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    "a JSON list": (json.dumps([SECRET]).encode(), JSON, 400),
    "empty body": (b"", JSON, 400),
    "no sender": (json.dumps({"message": SECRET}).encode(), JSON, 400),
    "blank sender": (json.dumps({"sender": "  ", "message": SECRET}).encode(), JSON, 400),
    "sender not a string": (json.dumps({"sender": {"id": 1}, "message": SECRET}).encode(), JSON, 400),
    "huge sender": (json.dumps({"sender": "s" * 5000, "message": SECRET}).encode(), JSON, 400),
    "no message": (json.dumps({"sender": SECRET}).encode(), JSON, 400),
    "message not a string": (json.dumps({"sender": "a", "message": ["how long", SECRET]}).encode(), JSON, 400),
    "message null": (json.dumps({"sender": "a", "message": None}).encode(), JSON, 400),
    "1 MB body": (json.dumps({"sender": "a", "message": SECRET + "x" * ONE_MB}).encode(), JSON, 413),
    "nested 5,000 deep": (b'{"sender": "a", "message": ' + b"[" * 5000 + SECRET.encode() + b"]" * 5000 + b"}", JSON, 400),
}


@pytest.mark.parametrize("body, headers, status", REST_BAD_BODIES.values(), ids=REST_BAD_BODIES.keys())
def test_rest_bad_bodies_get_a_clear_4xx(assistant, earlier, body, headers, status):
    response = requests.post(f"{assistant.url}/webhooks/rest/webhook", data=body, headers=headers, timeout=30)
    assert_json_error(response, status)
    still_serving(assistant, earlier)


def test_rest_extra_fields_are_ignored(assistant, earlier):
    response = requests.post(
        f"{assistant.url}/webhooks/rest/webhook",
        json={"sender": f"extra-{uuid.uuid4().hex[:8]}", "message": "how long does kyphoplasty take?",
              "input_channel": "sms", "metadata": {"sms_detail": "more"}, "stream": True, "admin": True},
        timeout=30,
    )
    assert response.status_code == 200
    [custom] = custom_objects(response.json())
    assert (custom["type"], custom["topic"], custom["procedure"]) == ("answer", "duration", "kyphoplasty")
    assert any("Source:" in m.get("text", "") for m in response.json())  # the web answer, not an SMS one
    still_serving(assistant, earlier)


def test_rest_earlier_conversation_carries_on(assistant, earlier):
    sender, _ = earlier
    [custom] = custom_objects(assistant.send(sender, "and vertebroplasty?"))
    assert (custom["topic"], custom["procedure"]) == ("duration", "vertebroplasty")


# ---------------------------------------------------------------- widget (socket.io)


@pytest.fixture
def widget(assistant):
    client = WidgetClient(assistant)
    yield client
    client.close()


@pytest.mark.parametrize("message", JSON_TEXTS.values(), ids=JSON_TEXTS.keys())
def test_widget_texts_get_a_polite_reply(assistant, earlier, widget, message):
    messages = widget.say(message)
    texts = [m["text"] for m in messages if m.get("text")]
    assert texts and not any("Traceback" in text or "<script>" in text for text in texts)
    assert len(custom_objects(messages)) == 1
    still_serving(assistant, earlier)
    after = widget.say("how long does vertebroplasty take?")
    assert [(c["type"], c["topic"]) for c in custom_objects(after)] == [("answer", "duration")]


# user_uttered events the widget never sends, as functions of the socket's own session id.
WIDGET_BAD_EVENTS = {
    "a string": lambda session: SECRET,
    "a list": lambda session: [session, SECRET],
    "no session id": lambda session: {"message": SECRET},
    "a session id too long": lambda session: {"session_id": session * 200, "message": SECRET},
    "message not a string": lambda session: {"session_id": session, "message": {"text": SECRET}},
}


@pytest.mark.parametrize("event", WIDGET_BAD_EVENTS.values(), ids=WIDGET_BAD_EVENTS.keys())
def test_widget_bad_events_get_a_polite_reply(assistant, earlier, widget, event):
    widget.emit("user_uttered", event(widget.session_id))
    name, reply = widget.next_event()
    assert name == "bot_uttered"
    assert "could not read that message" in reply["text"] and SECRET not in reply["text"]
    # The same socket carries on, and so does the server.
    assert custom_objects(widget.say("how long does kyphoplasty take?"))[0]["topic"] == "duration"
    still_serving(assistant, earlier)


def test_widget_opening_message_without_text_gets_no_error(assistant, earlier, widget):
    """rasa-webchat opens with a message that has no text (its init payload unset)."""
    widget.emit("user_uttered", {"session_id": widget.session_id, "customData": {"language": "en"}})
    widget.emit("user_uttered", None)
    messages = widget.say("how long does kyphoplasty take?")
    assert not any("could not read" in message.get("text", "") for message in messages)
    assert custom_objects(messages)[0]["topic"] == "duration"


@pytest.mark.parametrize("typed", ["/triage_emergency", "/delete_my_data", "/ask_risks"])
def test_widget_typed_intent_shortcut_is_only_text(assistant, knowledge_db_url, widget, typed):
    from assistant.db import engine_for
    from assistant.escalations import escalations_for

    widget.say("how long does kyphoplasty take?")
    summary = custom_objects(widget.say(typed))[0]
    assert summary["urgency"] == "routine" and summary["type"] != "smalltalk"
    assert escalations_for(engine_for(knowledge_db_url), widget.session_id) == []
    assert custom_objects(widget.say("and vertebroplasty?"))[0]["type"] == "answer"


def test_widget_cannot_write_into_another_session(assistant, earlier, widget):
    other = WidgetClient(assistant)
    try:
        widget.emit("user_uttered", {"session_id": other.session_id, "message": SECRET})
        _, reply = widget.next_event()
        assert "could not read that message" in reply["text"]
        # The other session got nothing from it and still holds its own conversation.
        assert custom_objects(other.say("how long does kyphoplasty take?"))[0]["topic"] == "duration"
        assert not any(SECRET in str(event.get("text")) for event in events_of(assistant, other.session_id))
    finally:
        other.close()


@pytest.mark.parametrize("request_data", [None, SECRET, {"session_id": 12}, {"session_id": "short"},
                                          {"session_id": "s" * 5000}])
def test_widget_bad_session_requests_get_a_new_session(assistant, earlier, request_data):
    client = WidgetClient(assistant, session_request=request_data)
    try:
        assert client.is_new and len(client.session_id) == 32
        assert custom_objects(client.say("how long does kyphoplasty take?"))[0]["topic"] == "duration"
    finally:
        client.close()
    still_serving(assistant, earlier)


# ---------------------------------------------------------------- SMS


@pytest.mark.parametrize("message", BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
def test_sms_texts_get_a_polite_reply(assistant, earlier, message):
    phone = Phone(assistant)
    reply = phone.text(message)
    assert reply and "Traceback" not in reply
    still_serving(assistant, earlier)
    assert "hour" in phone.text("how long does vertebroplasty take?").lower()


def signed_raw_post(assistant, phone: Phone, body: bytes, content_type: str, params: dict) -> requests.Response:
    signature = phone.validator.compute_signature(phone.url, params)
    return requests.post(
        phone.url, data=body, headers={"X-Twilio-Signature": signature, "Content-Type": content_type}, timeout=30
    )


def test_sms_invalid_utf8_gets_a_polite_reply(assistant, earlier):
    phone = Phone(assistant)
    params = phone.params("how long does it take \ufffd")
    body = "&".join(f"{key}={requests.utils.quote(value)}" for key, value in params.items()).encode()
    body = body.replace(b"%EF%BF%BD", b"%FF")  # the signed text decodes to what was signed
    response = signed_raw_post(assistant, phone, body, "application/x-www-form-urlencoded", params)
    assert response.status_code == 200 and "<Message>" in response.text
    still_serving(assistant, earlier)


def test_sms_json_body_or_missing_sender_gets_a_clear_4xx(assistant, earlier):
    phone = Phone(assistant)
    # A JSON body carries no form fields Twilio would have signed: refused like a forgery.
    response = signed_raw_post(assistant, phone, json.dumps({"Body": SECRET}).encode(), "application/json", {})
    assert response.status_code == 403 and SECRET not in response.text
    params = {key: value for key, value in phone.params(SECRET).items() if key != "From"}
    body = "&".join(f"{key}={requests.utils.quote(value)}" for key, value in params.items()).encode()
    response = signed_raw_post(assistant, phone, body, "application/x-www-form-urlencoded", params)
    assert response.status_code == 400 and SECRET not in response.text
    still_serving(assistant, earlier)


def test_sms_one_megabyte_body_gets_413(assistant, earlier):
    phone = Phone(assistant)
    response = phone.post(SECRET + "x" * ONE_MB)
    assert_json_error(response, 413)
    still_serving(assistant, earlier)


def test_sms_extra_fields_are_ignored(assistant, earlier):
    phone = Phone(assistant)
    params = {**phone.params("how long does kyphoplasty take?"), "Unexpected": "<script>", "MediaUrl0": "x"}
    body = "&".join(f"{key}={requests.utils.quote(value)}" for key, value in params.items()).encode()
    response = signed_raw_post(assistant, phone, body, "application/x-www-form-urlencoded", params)
    assert response.status_code == 200 and "hour" in response.text.lower()


# ---------------------------------------------------------------- nurse API


def nurse_post(assistant, body: bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(
        f"{assistant.url}/webhooks/nurse/api/assess", data=body, timeout=30,
        headers={"Authorization": f"Bearer {assistant.nurse_token}", "Content-Type": content_type},
    )


NURSE_BAD_BODIES = {
    "empty text": (json.dumps({"text": ""}).encode(), "application/json", 400),
    "whitespace text": (json.dumps({"text": " \n\t"}).encode(), "application/json", 400),
    "text too long": (json.dumps({"text": SECRET * 600}).encode(), "application/json", 413),
    "1 MB body": (json.dumps({"text": SECRET + "x" * ONE_MB}).encode(), "application/json", 413),
    "invalid JSON": (b'{"text": "' + SECRET.encode(), "application/json", 400),
    "invalid UTF-8": (b'{"text": "\xff' + SECRET.encode() + b'"}', "application/json", 400),
    "plain text": (SECRET.encode(), "text/plain", 400),
    "no text": (json.dumps({"note": SECRET}).encode(), "application/json", 400),
    "text not a string": (json.dumps({"text": [SECRET]}).encode(), "application/json", 400),
}


@pytest.mark.parametrize("body, content_type, status", NURSE_BAD_BODIES.values(), ids=NURSE_BAD_BODIES.keys())
def test_nurse_api_bad_bodies_get_a_clear_4xx(assistant, earlier, body, content_type, status):
    assert_json_error(nurse_post(assistant, body, content_type), status)
    still_serving(assistant, earlier)


NURSE_ODD_TEXTS = {
    name: text for name, text in JSON_TEXTS.items() if name not in ("empty", "whitespace", "ten thousand characters")
}


@pytest.mark.parametrize("text", NURSE_ODD_TEXTS.values(), ids=NURSE_ODD_TEXTS.keys())
def test_nurse_api_odd_texts_get_an_assessment(assistant, earlier, text):
    response = nurse_post(assistant, json.dumps({"text": text, "extra": True}).encode())
    assert response.status_code == 200, response.text
    assert response.json()["urgency"] in ("emergency", "urgent", "routine")
    still_serving(assistant, earlier)
