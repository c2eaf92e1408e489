"""Privacy: a patient can have their data deleted; patient text stays out of the logs."""
from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
import requests
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from actions.actions import ActionForgetMe
from addons.tracker_store import PatientSQLTrackerStore
from assistant.db import engine_for
from assistant.escalations import escalations_for, record_escalation
from assistant.privacy import FORGET_ACTION
from tests.helpers import RED_FLAG, NurseApi, Phone, new_sender, tracker_store_for, turn
from tests.test_actions import ANSWERED_BEFORE, respond, tracker


def stored_events(assistant, sender: str) -> int:
    """How many of the sender's events the Rasa server's tracker store holds."""
    engine = create_engine(f"sqlite:///{assistant.workdir / 'tracker.db'}")
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :sender"), {"sender": sender}
        ).scalar()


def stored_escalations(knowledge_db_url: str, sender: str) -> int:
    return len(escalations_for(create_engine(knowledge_db_url), sender))


def start_conversation(assistant, sender: str) -> None:
    """A red flag (an escalation for the nurse line) and a question, both stored."""
    turn(assistant, sender, RED_FLAG)
    turn(assistant, sender, "how long is the recovery?")


@pytest.mark.parametrize(
    "request_text",
    ["Please delete my data", "forget me", "erase my conversation", "delete everything I said",
     "pls del my info"],
)
def test_asking_to_be_forgotten_deletes_the_conversation_and_its_escalations(
    assistant, knowledge_db_url, request_text
):
    sender, other = new_sender(), new_sender()
    for patient in (sender, other):
        start_conversation(assistant, patient)
    assert stored_events(assistant, sender) > 0
    assert stored_escalations(knowledge_db_url, sender) == 1
    others_before = stored_events(assistant, other), escalations_for(create_engine(knowledge_db_url), other)

    texts, custom, _ = turn(assistant, sender, request_text)

    assert custom["type"] == "smalltalk"
    assert "deleted this conversation" in " ".join(texts)
    assert stored_events(assistant, sender) == 0
    assert stored_escalations(knowledge_db_url, sender) == 0
    assert (stored_events(assistant, other), escalations_for(create_engine(knowledge_db_url), other)) == others_before

    # Writing again starts a fresh conversation, with the disclaimer of a first reply.
    texts, custom, _ = turn(assistant, sender, "how long does kyphoplasty take?")
    assert custom["type"] == "answer"
    assert "not medical advice" in texts[-1]


@pytest.mark.parametrize(
    "near_miss",
    ["will the cement be removed?", "can you delete the pain?", "how do they remove the needle?",
     "do you keep my information private?", "will I forget things after the anesthesia?",
     "can they clear up my back pain?", "is my data safe?", "delete"],
)
def test_questions_that_sound_alike_delete_nothing(assistant, knowledge_db_url, near_miss):
    sender = new_sender()
    start_conversation(assistant, sender)
    events_before = stored_events(assistant, sender)

    texts, _, _ = turn(assistant, sender, near_miss)

    assert "deleted" not in " ".join(texts)
    assert stored_events(assistant, sender) > events_before
    assert stored_escalations(knowledge_db_url, sender) == 1


def test_sms_patients_can_be_forgotten_too(assistant, knowledge_db_url):
    phone = Phone(assistant)
    phone.text(RED_FLAG)
    assert stored_escalations(knowledge_db_url, phone.number) == 1
    assert "deleted this conversation" in phone.text("pls delete my data")
    assert stored_events(assistant, phone.number) == 0
    assert stored_escalations(knowledge_db_url, phone.number) == 0


def turn_events(*actions: str) -> list:
    """One turn's events: the patient's message, then the actions the assistant ran."""
    return [
        UserUttered("hello", {"name": "greet", "confidence": 1.0}),
        *(ActionExecuted(action) for action in actions),
        BotUttered("Hello!"),
        ActionExecuted("action_listen"),
    ]


async def save_turn(store: PatientSQLTrackerStore, sender: str, *actions: str) -> None:
    """What Rasa does after a turn: retrieve the tracker, add the turn's events, save."""
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, [])
    for event in turn_events(*actions):
        tracker.update(event)
    await store.save(tracker)


async def forget_one_of_two(store: PatientSQLTrackerStore) -> None:
    forgotten, kept = new_sender(), new_sender()
    for sender in (forgotten, kept):
        await save_turn(store, sender, "action_session_start", "action_reply")
    kept_events = len((await store.retrieve_full_tracker(kept)).events)

    # Any other turn is saved as usual.
    await save_turn(store, forgotten, "action_answer")
    assert len((await store.retrieve_full_tracker(forgotten)).events) > kept_events

    await save_turn(store, forgotten, FORGET_ACTION)
    assert await store.retrieve_full_tracker(forgotten) is None
    assert len((await store.retrieve_full_tracker(kept)).events) == kept_events


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_tracker_store_forgets_a_sender_only_after_the_forget_action(database, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'tracker.db'}" if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    asyncio.run(forget_one_of_two(tracker_store_for(url)))


# A log record starts with its time and level, e.g. "2026-01-01 10:00:00 INFO     rasa..."; the
# lines after it (a traceback) belong to it. Lines before any record (warnings) are kept.
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)? +(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")


def lines_at_info_or_above(log: Path) -> list[str]:
    kept, level = [], "INFO"
    for line in log.read_text(errors="replace").splitlines():
        record = RECORD_START.match(line)
        if record:
            level = record.group(1)
        if level != "DEBUG":
            kept.append(line)
    return kept


def test_patient_words_never_reach_the_logs(assistant):
    """A whole session through every entry point, each message with its own marker word."""
    marker = f"Quillfeather{uuid.uuid4().hex[:8]}"
    said = [f"{marker}{n}" for n in range(13)]
    sender = new_sender()
    rest = f"{assistant.url}/webhooks/rest/webhook"
    turn(assistant, sender, f"my friend {said[0]} asked how long does kyphoplasty take")
    turn(assistant, sender, f"I had kyphoplasty yesterday and now I have chest pain, said {said[1]}")
    turn(assistant, sender, f"{said[2]} wibble frobnicate the teapot")
    turn(assistant, sender, f"can {said[3]} talk to a nurse?")
    requests.post(rest, data=f'{{"sender": "{sender}", "message": "{said[4]} broken', timeout=30)
    requests.post(rest, json={"sender": sender, "message": {"text": said[5]}}, timeout=30)
    requests.post(rest, json={"sender": sender, "message": f"{said[6]} " * 2000}, timeout=30)
    requests.post(rest, json={"sender": said[7], "message": "does it hurt?"}, timeout=30)
    phone = Phone(assistant)
    phone.text(f"does it hurt {said[8]}")
    phone.text(f"I have a fever {said[9]}")
    phone.post(f"wrongly signed {said[10]}", signature="bad")
    nurse = NurseApi(assistant, assistant.nurse_token)
    nurse.post("/assess", {"text": f"caller {said[11]} has a fever"})
    nurse.get("/escalations", q=said[12])
    turn(assistant, sender, "please delete my data")

    for log in ("rasa.log", "actions.log"):
        lines = lines_at_info_or_above(assistant.workdir / log)
        assert any(" INFO " in line for line in lines), f"{log} has no INFO records: the servers log less than INFO"
        leaked = [line for line in lines if marker in line]
        assert not leaked, f"{log} has patient words:\n" + "\n".join(leaked[:5])


def test_the_forget_action_deletes_only_this_patients_escalations(monkeypatch, knowledge_db_url):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", knowledge_db_url)
    engine = engine_for(knowledge_db_url)
    forgotten, kept = new_sender(), new_sender()
    for sender in (forgotten, kept):
        record_escalation(engine, sender_id=sender, channel="rest", urgency="urgent", signs=["fever"],
                          matched_words=["fever"])
    reply, custom, _, _ = respond(tracker("delete_my_data", sender=forgotten, events=ANSWERED_BEFORE), ActionForgetMe())
    assert reply.notice("data_deleted")
    assert custom["type"] == "smalltalk"
    assert escalations_for(engine, forgotten) == []
    assert len(escalations_for(engine, kept)) == 1


def test_the_forget_action_says_so_when_the_escalations_cannot_be_deleted(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'kb.db'}")
    reply, custom, _, _ = respond(tracker("delete_my_data", events=ANSWERED_BEFORE), ActionForgetMe())
    assert reply.notice("data_partly_deleted")
    assert custom["type"] == "smalltalk"
