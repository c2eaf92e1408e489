"""Faults on REST, the widget and SMS: the action server or the conversation store down, and
a sender over the rate limit. Never silence, never a stack trace, and recovery without a restart.

The assistant here starts without its action server (started later by a test), and with a
rate limit of 3 messages a minute per sender.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
import requests
from tests.helpers import Phone, custom_of
from widget_client import WidgetClient

from assistant.settings import load_contacts
from scripts.servers import serve_assistant

RATE_LIMIT = 3
APOLOGY = "Sorry, I cannot look up that answer right now"
LIMITED = "faster than I can answer"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, knowledge_db_url):
    with serve_assistant(
        tmp_path_factory.mktemp("faulty"), knowledge_db_url, with_actions=False,
        extra_env={"RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT)},
    ) as served:
        yield served


def sender() -> str:
    return f"fault-{uuid.uuid4().hex[:10]}"


def texts_of(messages: list[dict]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def user_texts(assistant, conversation: str) -> list[str]:
    response = requests.get(
        f"{assistant.url}/conversations/{conversation}/tracker", params={"token": assistant.token}, timeout=30
    )
    response.raise_for_status()
    return [event["text"] for event in response.json()["events"] if event["event"] == "user"]


def test_action_server_down_gives_the_apology_then_answers_when_it_is_back(faulty):
    nurse_phone = load_contacts().nurse_phone
    rest_sender, phone, widget = sender(), Phone(faulty), WidgetClient(faulty)
    try:
        question = "how long does kyphoplasty take?"
        messages = faulty.send(rest_sender, question)
        assert custom_of(messages)["type"] == "fallback"
        assert APOLOGY in texts_of(messages) and nurse_phone in texts_of(messages)
        sms_reply = phone.text(question)
        assert APOLOGY in sms_reply and nurse_phone in sms_reply
        widget_messages = widget.say(question)
        assert custom_of(widget_messages)["type"] == "fallback" and nurse_phone in texts_of(widget_messages)
        # A red flag still gets its advice, rendered in the Rasa server, and no apology on top.
        red_flag = faulty.send(sender(), "I had kyphoplasty yesterday and now I have chest pain")
        assert custom_of(red_flag)["type"] == "triage" and APOLOGY not in texts_of(red_flag)

        faulty.start_actions()  # the Rasa server is not restarted

        answer = custom_of(faulty.send(rest_sender, "how long does vertebroplasty take?"))
        assert (answer["type"], answer["topic"]) == ("answer", "duration")
        assert "hour" in phone.text("how long does vertebroplasty take?").lower()
        assert custom_of(widget.say(question))["type"] == "answer"
    finally:
        widget.close()


@contextmanager
def conversation_store_down(assistant):
    """The conversation store (a SQLite file) is gone, then back as it was."""
    store, saved = assistant.workdir / "tracker.db", assistant.workdir / "tracker.db.saved"
    store.rename(saved)
    try:
        yield
    finally:
        store.unlink(missing_ok=True)  # the empty file SQLite made meanwhile
        saved.rename(store)


def test_conversation_store_down_still_answers_logs_no_patient_data_and_recovers(faulty):
    if "actions" not in faulty.processes:
        faulty.start_actions()
    earlier = sender()
    assert custom_of(faulty.send(earlier, "how long does kyphoplasty take?"))["topic"] == "duration"
    log = faulty.workdir / "rasa.log"
    logged_before = log.stat().st_size

    patient, question = sender(), "what are the risks of vertebroplasty"
    with conversation_store_down(faulty):
        # Rasa answers from a fresh in-memory conversation: answers and advice still arrive.
        answer = custom_of(faulty.send(patient, question))
        red_flag = faulty.send(patient, "had vertebroplasty and now I cant breathe")
    assert (answer["type"], answer["topic"]) == ("answer", "risks")
    assert custom_of(red_flag)["urgency"] == "emergency"
    assert load_contacts().emergency_number in red_flag[0]["text"]

    with log.open("rb") as handle:
        handle.seek(logged_before)
        logged = handle.read().decode("utf-8", errors="replace")
    assert "OperationalError" in logged  # the error's type is logged...
    for private in (patient, question, "breathe", "[parameters:"):  # ...and nothing of the conversation
        assert private not in logged

    # Back: the conversation held before the outage carries on where it was.
    follow_up = custom_of(faulty.send(earlier, "and vertebroplasty?"))
    assert (follow_up["topic"], follow_up["procedure"]) == ("duration", "vertebroplasty")


def test_over_the_rate_limit_gets_a_polite_reply_and_is_not_processed(faulty):
    if "actions" not in faulty.processes:
        faulty.start_actions()
    # Twice the limit and one: wherever the minute turns, one window is over the limit.
    messages = [f"question number {n} about kyphoplasty" for n in range(2 * RATE_LIMIT + 1)]

    rest_sender, phone, widget = sender(), Phone(faulty), WidgetClient(faulty)
    try:
        channels = {
            rest_sender: lambda text: texts_of(faulty.send(rest_sender, text)),
            phone.number: phone.text,
            widget.session_id: lambda text: texts_of(widget.say(text)),
        }
        for conversation, send in channels.items():
            replies = {text: send(text) for text in messages}
            limited = [text for text, reply in replies.items() if LIMITED in reply]
            assert limited, replies
            assert all(load_contacts().nurse_phone in replies[text] for text in limited)
            # Limited messages were neither parsed nor stored; the others were.
            assert user_texts(faulty, conversation) == [text for text in messages if text not in limited]
        assert "STOP" in phone.text("HELP")  # SMS keywords are never limited
        # Others are not affected.
        assert custom_of(faulty.send(sender(), "how long does kyphoplasty take?"))["type"] == "answer"
    finally:
        widget.close()
