"""The nurse sees the whole conversation: every stored event of every session, whatever a
turn loads for speed, with the message that raised the escalation marked."""
from __future__ import annotations

import asyncio

import requests

from tests.helpers import NurseApi, new_sender, tracker_store_for

FEVER = "I had kyphoplasty yesterday and now I have a high fever"
QUESTIONS = ["how long does kyphoplasty take?", "does it hurt?", "what are the risks?", "and vertebroplasty?",
             "how long is recovery?", "can I drive after?"]


def escalation_of(api: NurseApi, sender: str) -> dict:
    [row] = [row for row in api.get("/escalations", q=sender).json()["escalations"] if row["sender_id"] == sender]
    return api.get(f"/escalations/{row['id']}").json()


def assert_fever_marked(transcript: list[dict]) -> None:
    raised = [line for line in transcript if line["raised_escalation"]]
    assert [line["text"] for line in raised] == [FEVER]
    assert raised[0]["from"] == "patient"
    after = transcript[transcript.index(raised[0]) + 1]
    assert after["from"] == "assistant" and after["text"].startswith("You mentioned a fever")


def test_a_red_flag_followed_by_thirty_turns_stays_in_the_transcript(assistant):
    api = NurseApi(assistant, assistant.nurse_token)
    sender = new_sender()
    assistant.send(sender, FEVER)
    for number in range(30):
        assistant.send(sender, QUESTIONS[number % len(QUESTIONS)])
    transcript = escalation_of(api, sender)["transcript"]
    assert_fever_marked(transcript)
    assert len([line for line in transcript if line["from"] == "patient"]) == 31


def test_a_red_flag_in_an_earlier_session_stays_in_the_transcript(assistant):
    api = NurseApi(assistant, assistant.nurse_token)
    sender = new_sender()
    assistant.send(sender, FEVER)
    # A new session begins (as after an hour without a message), then the patient writes again.
    started = requests.post(
        f"{assistant.url}/conversations/{sender}/tracker/events", params={"token": assistant.token},
        json=[{"event": "session_started"}], timeout=30,
    )
    assert started.status_code == 200, started.text
    assistant.send(sender, "how long does kyphoplasty take?")
    # What a turn loads holds the latest session alone.
    store = tracker_store_for(f"sqlite:///{assistant.workdir / 'tracker.db'}")
    loaded = asyncio.run(store.retrieve(sender))
    assert all(getattr(event, "text", None) != FEVER for event in loaded.events)
    transcript = escalation_of(api, sender)["transcript"]
    assert_fever_marked(transcript)
    assert transcript[-2]["text"] == "how long does kyphoplasty take?"
