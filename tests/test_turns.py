"""The shared turn wrapper (channels/turns.py) on its own: what a channel sends back."""
from __future__ import annotations

import asyncio
import logging

from assistant.replies import turn_payload
from assistant.settings import load_contacts
from assistant.inbound import MAX_MESSAGE_CHARS
from channels.turns import TurnCollector, run_turn

PATIENT_TEXT = "I had kyphoplasty and my neighbour Jane Doe says hi"


def turn(on_new_message) -> list[dict]:
    collector = TurnCollector()
    asyncio.run(run_turn(on_new_message, collector, PATIENT_TEXT, "wrapper-test", "rest"))
    return collector.messages


def test_a_turn_that_raises_gets_the_apology_and_logs_the_type_only(caplog):
    async def failing(message):
        raise RuntimeError(f"could not store {message.text}")

    with caplog.at_level(logging.DEBUG):
        messages = turn(failing)
    assert [m.get("custom") for m in messages if "custom" in m] == [turn_payload("fallback")]
    assert load_contacts().nurse_phone in messages[0]["text"]
    assert "RuntimeError" in caplog.text and "Jane Doe" not in caplog.text


def test_a_turn_with_its_custom_object_gets_nothing_added():
    async def answering(message):
        await message.output_channel.send_response(
            message.sender_id, {"text": "An answer.", "custom": turn_payload("answer", topic="duration")}
        )

    messages = turn(answering)
    assert [m.get("text") for m in messages if "text" in m] == ["An answer."]
    assert [m["custom"]["type"] for m in messages if "custom" in m] == ["answer"]


def test_the_text_reaches_the_assistant_cleaned():
    received = []

    async def recording(message):
        received.append(message.text)

    collector = TurnCollector()
    asyncio.run(run_turn(recording, collector, "hello\x00world" + "x" * 9000, "wrapper-test-2", "rest"))
    assert received[0].startswith("hello world") and len(received[0]) == MAX_MESSAGE_CHARS
