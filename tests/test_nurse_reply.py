"""A nurse replies to the patient from an escalation, on the channel the patient came from:
by text message through Twilio (here a local stand-in), into the website widget, never to
a REST conversation; the reply lands in the transcript and the audit log, a failed text
is retried once, then reported and recorded."""
from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
import requests
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.events import BotUttered, UserUttered

from assistant import gsm7
from assistant.db import engine_for
from assistant.nurse_reply import MAX_REPLY_CHARS, replies_to
from assistant.render import SMS_MESSAGE_LIMIT
from assistant.twilio_sms import NotConfigured, TwilioSettings
from addons.turn_order import conversation_turn
from channels.nurse import append_to_conversation
from tests.helpers import RED_FLAG, NurseApi, Phone, new_sender, tracker_store_for
from tests.widget_client import WidgetClient

REPLY = "Hello, this is the nurse line. Please call us back on 555 0100 \u2014 we want to hear how you are."
SENT_AS_SMS = "Hello, this is the nurse line. Please call us back on 555 0100 - we want to hear how you are."
PATIENT_WORDS = "chest pain"


@pytest.fixture(autouse=True)
def twilio_answers_normally_afterwards(twilio):
    yield
    twilio.fail_next()  # failures a test asked for and did not use do not reach the next test


@pytest.fixture
def api(assistant) -> NurseApi:
    return NurseApi(assistant, assistant.nurse_token)


def escalation_for(api: NurseApi, sender: str) -> int:
    [row] = [row for row in api.get("/escalations", q=sender).json()["escalations"] if row["sender_id"] == sender]
    return row["id"]


@pytest.fixture
def phone(assistant) -> Phone:
    """A patient who texted a red flag."""
    phone = Phone(assistant)
    phone.messages(RED_FLAG)
    return phone


@pytest.fixture
def sms_escalation(api, phone) -> int:
    return escalation_for(api, phone.number)


def nurse_lines(api: NurseApi, escalation_id: int) -> list[str]:
    transcript = api.get(f"/escalations/{escalation_id}").json()["transcript"]
    return [line["text"] for line in transcript if line["from"] == "nurse"]


def replied_in_audit(api: NurseApi, sender: str) -> list[tuple[str, int]]:
    entries = api.get("/audit", sender=sender).json()["entries"]
    return [(entry["nurse"], entry["escalation_id"]) for entry in entries if entry["action"] == "replied"]


def texts_to(twilio, number: str) -> list[dict]:
    return [message for message in twilio.messages if message["To"] == number]


# ---------------------------------------------------------------- SMS


def test_an_sms_reply_reaches_the_patient_in_gsm7_within_three_segments(assistant, api, twilio, phone, sms_escalation):
    response = api.post(f"/escalations/{sms_escalation}/reply", {"text": REPLY})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "sent" and response.json()["not_recorded_in"] == []
    [message] = texts_to(twilio, phone.number)
    assert message == {"To": phone.number, "From": twilio.from_number, "Body": SENT_AS_SMS}
    assert gsm7.is_gsm7(message["Body"]) and gsm7.septet_length(message["Body"]) <= SMS_MESSAGE_LIMIT


def test_an_sms_reply_goes_into_the_transcript_and_the_audit_log(assistant, api, phone, sms_escalation):
    assert api.post(f"/escalations/{sms_escalation}/reply", {"text": REPLY}).status_code == 200
    assert nurse_lines(api, sms_escalation) == [SENT_AS_SMS]
    assert replied_in_audit(api, phone.number) == [(assistant.nurse_name, sms_escalation)]
    # The triage note's "reply given to the patient" stays the assistant's own.
    given = api.get(f"/escalations/{sms_escalation}").json()["note"]["disposition"]["reply"]
    assert given and SENT_AS_SMS not in given
    # The patient's next turn still works on the conversation the reply was added to.
    assert phone.messages("how long does kyphoplasty take?")


def test_a_patient_who_texted_stop_is_not_texted(assistant, api, twilio, phone, sms_escalation):
    phone.messages("STOP")
    before = twilio.requests
    response = api.post(f"/escalations/{sms_escalation}/reply", {"text": REPLY})
    assert response.status_code == 409 and "opted out" in response.json()["error"]
    assert twilio.requests == before
    assert nurse_lines(api, sms_escalation) == [] and replied_in_audit(api, phone.number) == []


def test_a_reply_longer_than_three_segments_is_refused(assistant, api, twilio, phone, sms_escalation):
    before = twilio.requests
    response = api.post(f"/escalations/{sms_escalation}/reply", {"text": "Please call the nurse line. " * 17})
    assert response.status_code == 400 and "segments" in response.json()["error"]
    assert twilio.requests == before and nurse_lines(api, sms_escalation) == []


def test_a_send_that_fails_once_is_retried_and_delivered(assistant, api, twilio, phone, sms_escalation):
    twilio.fail_next("500")
    before = twilio.requests
    response = api.post(f"/escalations/{sms_escalation}/reply", {"text": REPLY})
    assert response.status_code == 200, response.text
    assert twilio.requests == before + 2
    assert [message["Body"] for message in texts_to(twilio, phone.number)] == [SENT_AS_SMS]
    assert nurse_lines(api, sms_escalation) == [SENT_AS_SMS]


@pytest.mark.parametrize("failure", ["500", "hang"])
def test_a_send_that_fails_twice_is_reported_to_the_nurse_and_recorded(
    assistant, api, twilio, phone, sms_escalation, failure
):
    twilio.fail_next(failure, failure)
    before = twilio.requests
    started = time.monotonic()
    response = api.post(f"/escalations/{sms_escalation}/reply", {"text": REPLY})
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert "not sent" in response.json()["error"] and "saved as failed" in response.json()["error"]
    assert twilio.requests == before + 2 and texts_to(twilio, phone.number) == []
    # Two attempts of TWILIO_TIMEOUT_SECONDS (1 s in the tests) each, and no longer.
    assert elapsed < 4, elapsed
    # The escalation shows the reply as not sent, and why.
    [recorded] = api.get(f"/escalations/{sms_escalation}").json()["replies"]
    assert recorded["status"] == "failed" and recorded["text"] == SENT_AS_SMS and "both tries" in recorded["failure"]
    # Not delivered, so not in what the patient was sent; nor in the audit log's replies.
    assert nurse_lines(api, sms_escalation) == [] and replied_in_audit(api, phone.number) == []


def test_a_message_twilio_refuses_is_not_retried_and_is_reported(assistant, api, twilio, phone, sms_escalation):
    token = twilio.auth_token
    twilio.auth_token = "not-the-servers-token"  # Twilio answers 401: the account is not accepted
    before = twilio.requests
    try:
        response = api.post(f"/escalations/{sms_escalation}/reply", {"text": REPLY})
    finally:
        twilio.auth_token = token
    assert response.status_code == 502 and "HTTP 401" in response.json()["error"]
    assert twilio.requests == before + 1
    [recorded] = api.get(f"/escalations/{sms_escalation}").json()["replies"]
    assert recorded["status"] == "failed" and nurse_lines(api, sms_escalation) == []


@pytest.mark.parametrize("unset, bad", [("TWILIO_ACCOUNT_SID", {}), ("TWILIO_FROM_NUMBER", {}),
                                        (None, {"TWILIO_TIMEOUT_SECONDS": "soon"}),
                                        (None, {"TWILIO_TIMEOUT_SECONDS": "0"})])
def test_missing_or_bad_twilio_settings_are_named(monkeypatch, twilio, unset, bad):
    for name, value in {**twilio.env(), "TWILIO_AUTH_TOKEN": "secret-token", **bad}.items():
        monkeypatch.setenv(name, value)
    if unset:
        monkeypatch.delenv(unset)
    with pytest.raises(NotConfigured, match=unset or "TWILIO_TIMEOUT_SECONDS") as raised:
        TwilioSettings.from_environment()
    assert "secret-token" not in str(raised.value)


# ---------------------------------------------------------------- the website widget


def close_cleanly(client: WidgetClient) -> None:
    """Leave the session as a closed tab does, telling the server (the client's own wait for
    its pending long-poll is not waited for)."""
    threading.Thread(target=client.client.disconnect, daemon=True).start()
    time.sleep(1)


def test_a_web_reply_shows_in_the_open_widget_as_from_the_nurse(assistant, api):
    client = WidgetClient(assistant)
    try:
        client.say(RED_FLAG)
        escalation = escalation_for(api, client.session_id)
        response = api.post(f"/escalations/{escalation}/reply", {"text": REPLY})
        assert response.status_code == 200 and response.json()["status"] == "sent"
        event, message = client.next_event()
        assert event == "bot_uttered"
        assert message == {"text": REPLY, "metadata": {"role": "nurse"}}
    finally:
        client.close()
    assert nurse_lines(api, escalation) == [REPLY]
    assert replied_in_audit(api, client.session_id) == [(assistant.nurse_name, escalation)]


def test_a_web_reply_to_a_closed_widget_shows_when_the_patient_comes_back(assistant, knowledge_db_url, api):
    client = WidgetClient(assistant)
    client.say(RED_FLAG)
    escalation = escalation_for(api, client.session_id)
    close_cleanly(client)
    response = api.post(f"/escalations/{escalation}/reply", {"text": REPLY})
    assert response.status_code == 200 and response.json()["status"].startswith("waiting")
    assert nurse_lines(api, escalation) == [REPLY]
    back = WidgetClient(assistant, session_request={"session_id": client.session_id})
    try:
        event, message = back.next_event()
        assert event == "bot_uttered" and message == {"text": REPLY, "metadata": {"role": "nurse"}}
    finally:
        back.close()
    [recorded] = replies_to(engine_for(knowledge_db_url), escalation)
    assert recorded["status"] == "sent"


# ---------------------------------------------------------------- REST, and bad input


def test_a_rest_conversation_cannot_be_replied_to(assistant, api, twilio):
    sender = new_sender()
    assistant.send(sender, RED_FLAG)
    escalation = escalation_for(api, sender)
    before = twilio.requests
    response = api.post(f"/escalations/{escalation}/reply", {"text": REPLY})
    assert response.status_code == 409 and "no way to reach the patient" in response.json()["error"]
    assert twilio.requests == before and nurse_lines(api, escalation) == [] and replied_in_audit(api, sender) == []


BAD_BODIES = [None, {}, {"text": ""}, {"text": "   "}, {"text": 42}, {"text": ["hello"]}, {"note": REPLY},
              {"text": "x" * (MAX_REPLY_CHARS + 1)}, {"text": "\U0001F600\U0001F600"}]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_bad_reply_is_refused_and_nothing_is_stored_or_sent(
    assistant, knowledge_db_url, api, twilio, phone, sms_escalation, body
):
    before = twilio.requests
    response = api.post(f"/escalations/{sms_escalation}/reply", body)
    assert response.status_code == 400, response.text
    assert PATIENT_WORDS not in response.text and "x" * 50 not in response.text
    assert twilio.requests == before
    assert replies_to(engine_for(knowledge_db_url), sms_escalation) == []
    assert nurse_lines(api, sms_escalation) == [] and replied_in_audit(api, phone.number) == []


def test_a_reply_that_is_not_json_is_refused(assistant, api, twilio, sms_escalation):
    before = twilio.requests
    response = requests.post(f"{api.base}/escalations/{sms_escalation}/reply", data="text=hello",
                             headers=api.headers, timeout=30)
    assert response.status_code == 400 and twilio.requests == before


def test_a_reply_to_an_unknown_escalation_is_refused(assistant, api, twilio):
    before = twilio.requests
    response = api.post("/escalations/999999999/reply", {"text": REPLY})
    assert response.status_code == 404 and twilio.requests == before


@pytest.mark.parametrize("token", [None, "not-a-session"])
def test_a_reply_needs_a_signed_in_nurse(assistant, knowledge_db_url, api, twilio, phone, sms_escalation, token):
    before = twilio.requests
    response = NurseApi(assistant, token).post(f"/escalations/{sms_escalation}/reply", {"text": REPLY})
    assert response.status_code == 401 and REPLY not in response.text
    assert twilio.requests == before and replies_to(engine_for(knowledge_db_url), sms_escalation) == []
    assert nurse_lines(api, sms_escalation) == []


def test_a_nurse_reply_sent_during_a_patients_turn_is_stored_after_that_turn(tmp_path):
    """The transcript lists the nurse's reply after the message the patient sent before it."""
    store = tracker_store_for(f"sqlite:///{tmp_path / 'tracker.db'}")
    server = SimpleNamespace(tracker_store=store, lock_store=InMemoryLockStore())
    sender = new_sender()

    async def patients_turn(under_way: asyncio.Event) -> None:
        """What a turn does (addons/turn_order.py): load, then the model and the action, then store."""
        async with conversation_turn(server, sender):
            under_way.set()
            tracker = await store.get_or_create_tracker(sender)
            tracker.update(UserUttered("is it normal to ache at the needle site?"))
            await asyncio.sleep(0.3)
            tracker.update(BotUttered("the leaflets' answer"))
            await store.save(tracker)

    async def nurse_replies_meanwhile() -> None:
        under_way = asyncio.Event()
        turn = asyncio.create_task(patients_turn(under_way))
        await under_way.wait()
        await append_to_conversation(server, sender, "Nurse Kim here: that is common.", "kim")
        await turn

    asyncio.run(nurse_replies_meanwhile())
    stored = asyncio.run(store.retrieve_full_tracker(sender)).events
    assert [event.text for event in stored if isinstance(event, (UserUttered, BotUttered))] == [
        "is it normal to ache at the needle site?", "the leaflets' answer", "Nurse Kim here: that is common.",
    ]
