"""The shared turn wrapper (channels/turns.py) on its own: the reply a channel gets back."""
from __future__ import annotations

import asyncio
import logging
import time

from assistant.inbound import MAX_MESSAGE_CHARS
from assistant.reply import Reply
from assistant.reply_texts import load_reply_texts
from channels.turns import run_turn

PATIENT_TEXT = "I had kyphoplasty and my neighbour Jane Doe says hi"
RED_FLAG = "I had kyphoplasty yesterday and now I have chest pain"


def turn(on_new_message, text: str = PATIENT_TEXT) -> Reply:
    return asyncio.run(run_turn(on_new_message, text, "wrapper-test", "rest"))


def test_a_turn_that_raises_gets_the_apology_and_logs_the_type_only(caplog):
    async def failing(message):
        raise RuntimeError(f"could not store {message.text}")

    with caplog.at_level(logging.DEBUG):
        reply = turn(failing)
    assert reply.kind == "fallback" and reply.notice("answer_unavailable")
    assert "RuntimeError" in caplog.text and "Jane Doe" not in caplog.text


def test_the_reply_the_action_server_sent_is_the_turns_reply():
    sent = Reply(kind="smalltalk", message="Hello!")

    async def answering(message):
        await message.output_channel.send_response(
            message.sender_id, {"text": "Hello!", "custom": {"reply": sent.as_dict()}}
        )

    assert turn(answering) == sent


def test_a_red_flag_gets_its_advice_within_the_deadline_when_the_turn_hangs(monkeypatch):
    monkeypatch.setenv("TURN_ADVICE_DEADLINE", "0.3")
    monkeypatch.setenv("TURN_REPLY_DEADLINE", "5")

    async def hanging(message):
        await asyncio.sleep(60)

    started = time.monotonic()
    reply = turn(hanging, RED_FLAG)
    assert time.monotonic() - started < 2
    assert reply.kind == "triage" and reply.advice.urgency == "emergency" and "chest pain" in reply.advice.text
    assert reply.notices == ()  # the advice alone: nothing dilutes it


def test_another_message_waits_for_its_answer_up_to_the_reply_deadline(monkeypatch):
    monkeypatch.setenv("TURN_ADVICE_DEADLINE", "0.2")
    monkeypatch.setenv("TURN_REPLY_DEADLINE", "0.6")
    sent = Reply(kind="smalltalk", message="Hello!")

    async def slow(message):
        await asyncio.sleep(0.4)
        await message.output_channel.send_response(message.sender_id, {"custom": {"reply": sent.as_dict()}})

    assert turn(slow) == sent

    async def hanging(message):
        await asyncio.sleep(60)

    started = time.monotonic()
    reply = turn(hanging)
    assert 0.5 < time.monotonic() - started < 2
    assert reply.advice is None and reply.notice("answer_unavailable").text == load_reply_texts().notices["answer_unavailable"]


def test_the_text_reaches_the_assistant_cleaned():
    received = []

    async def recording(message):
        received.append(message.text)

    turn(recording, "/triage_emergency hello\x00world" + "x" * 9000)
    assert received[0].startswith("triage_emergency hello world") and len(received[0]) == MAX_MESSAGE_CHARS


def test_a_reply_that_came_in_time_is_given_though_the_rest_of_the_turn_hangs(monkeypatch):
    monkeypatch.setenv("TURN_ADVICE_DEADLINE", "0.2")
    monkeypatch.setenv("TURN_REPLY_DEADLINE", "0.4")
    sent = Reply(kind="smalltalk", message="Hello!")

    async def saving_forever(message):  # the reply is out, then the conversation store hangs
        await message.output_channel.send_response(message.sender_id, {"custom": {"reply": sent.as_dict()}})
        await asyncio.sleep(60)

    started = time.monotonic()
    assert turn(saving_forever) == sent
    assert time.monotonic() - started < 2


def test_the_deadlines_count_from_when_the_message_came_in(monkeypatch):
    """A channel that checked something first (the SMS opt-out) hands over the time it received the message."""
    monkeypatch.setenv("TURN_ADVICE_DEADLINE", "1")
    monkeypatch.setenv("TURN_REPLY_DEADLINE", "1")

    async def hanging(message):
        await asyncio.sleep(60)

    async def received_half_a_second_ago() -> Reply:
        received = asyncio.get_running_loop().time() - 0.5
        return await run_turn(hanging, RED_FLAG, "wrapper-test", "sms", received=received)

    started = time.monotonic()
    assert asyncio.run(received_half_a_second_ago()).kind == "triage"
    assert 0.4 < time.monotonic() - started < 0.9
