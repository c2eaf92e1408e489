"""The conversation store: a long conversation stays fast to load without losing anything."""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import (
    ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered, UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from addons.tracker_store import RECENT_EVENTS, ConversationStoreUnavailable, PatientSQLTrackerStore
from assistant.db import engine_for
from assistant.settings import time_bounds
from scripts.local_services import Tarpit
from tests.helpers import longest_stall, new_sender, tracker_store_for

# The procedure is named early on, long before the tracker's recent events.
PROCEDURE_NAMED = {5: "vertebroplasty", 10: "kyphoplasty"}


def question_turn(number: int) -> list:
    """A question and its answer, which sets the topic; two early turns name a procedure."""
    events = [
        UserUttered(f"question {number}", {"name": "ask_duration", "confidence": 0.9}),
        ActionExecuted("action_answer"),
        SlotSet("topic", f"topic {number}"),
        BotUttered(f"answer {number}"),
        ActionExecuted("action_listen"),
    ]
    if number in PROCEDURE_NAMED:
        events.insert(3, SlotSet("procedure", PROCEDURE_NAMED[number]))
    return events


async def whole_session(store: PatientSQLTrackerStore, sender: str) -> DialogueStateTracker:
    """The latest session as Rasa's own SQL store loads it: every event."""
    return await SQLTrackerStore._retrieve(store, sender, fetch_events_from_all_sessions=False)


def without_time(event) -> dict:
    return {key: value for key, value in event.as_dict().items() if key != "timestamp"}


async def converse(store: PatientSQLTrackerStore, sender: str, turns: range) -> None:
    """What Rasa does on each turn: retrieve, add the turn's events, save."""
    for number in turns:
        tracker = await store.retrieve(sender)
        if tracker is None:
            tracker = DialogueStateTracker(sender, store.domain.slots)
            tracker.update(ActionExecuted("action_session_start"))
            tracker.update(SessionStarted())
            tracker.update(ActionExecuted("action_listen"))
        for event in question_turn(number):
            tracker.update(event)
        await store.save(tracker)


async def long_conversation(store: PatientSQLTrackerStore) -> None:
    sender, other = new_sender(), new_sender()
    await converse(store, other, range(3))
    await converse(store, sender, range(100))
    stored = (await store.retrieve_full_tracker(sender)).events
    whole = await whole_session(store, sender)

    store.kept.trackers.clear()  # as after a restart: the conversation is loaded from the database
    tracker = await store.retrieve(sender)
    older, recent = list(tracker.events)[:-RECENT_EVENTS], list(tracker.events)[-RECENT_EVENTS:]
    assert recent == list(whole.events)[-RECENT_EVENTS:]
    # Before them: the session's start and each slot's latest value.
    assert [type(event) for event in older] == [SessionStarted, SlotSet, SlotSet]
    # The slots are those of the whole conversation, not of its recent part alone.
    assert tracker.current_slot_values() == whole.current_slot_values()
    assert tracker.get_slot("topic") == "topic 99" and tracker.get_slot("procedure") == "kyphoplasty"

    # The next turns are stored once each, after everything before them.
    await converse(store, sender, range(100, 103))
    after = (await store.retrieve_full_tracker(sender)).events
    expected = list(stored) + [event for number in range(100, 103) for event in question_turn(number)]
    assert [without_time(event) for event in after] == [without_time(event) for event in expected]
    assert len((await store.retrieve_full_tracker(other)).events) == 3 + sum(len(question_turn(n)) for n in range(3))


async def long_conversation_with_an_undo(store: PatientSQLTrackerStore) -> None:
    """A patient typed "/back" early on: Rasa undid that turn, which set the procedure."""
    sender = new_sender()
    await converse(store, sender, range(11))
    tracker = await store.retrieve(sender)
    tracker.update(UserUttered("/back", {"name": "back", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_back"))
    tracker.update(UserUtteranceReverted())
    tracker.update(UserUtteranceReverted())
    await store.save(tracker)
    await converse(store, sender, range(11, 100))

    store.kept.trackers.clear()  # as after a restart
    tracker = await store.retrieve(sender)
    assert list(tracker.events) == list((await whole_session(store, sender)).events)
    assert tracker.get_slot("procedure") == "vertebroplasty"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url) -> PatientSQLTrackerStore:
    return tracker_store_for(store_url)


def questions_in(tracker: DialogueStateTracker | None) -> list[str]:
    return [] if tracker is None else [event.text for event in tracker.events if isinstance(event, UserUttered)]


async def two_replicas(url: str) -> None:
    """Each replica keeps the tracker of its latest turn for the conversation's next one."""
    replica, other_replica = tracker_store_for(url), tracker_store_for(url)
    sender = new_sender()
    await converse(replica, sender, range(2))
    assert questions_in(await replica.retrieve(sender)) == ["question 0", "question 1"]
    await converse(replica, sender, range(2, 3))
    # The next turn goes to the other replica: the first one's kept tracker is out of date.
    await converse(other_replica, sender, range(3, 4))
    assert questions_in(await replica.retrieve(sender)) == [f"question {n}" for n in range(4)]
    await converse(replica, sender, range(4, 5))
    # The patient asked to be forgotten on the other replica: nothing comes back.
    other_replica.forget(sender)
    assert await replica.retrieve(sender) is None
    assert (await replica.retrieve_full_tracker(sender)) is None


def test_a_replica_never_answers_from_a_kept_tracker_another_replica_has_moved_on_from(store_url):
    asyncio.run(two_replicas(store_url))


def test_a_long_conversation_is_stored_whole_and_loaded_with_its_slots(store):
    asyncio.run(long_conversation(store))


def test_after_an_undo_the_whole_conversation_is_loaded(store):
    asyncio.run(long_conversation_with_an_undo(store))


async def watched_retrieve(store: PatientSQLTrackerStore, sender: str):
    return await longest_stall(asyncio.gather(store.retrieve(sender), return_exceptions=True))


def test_a_hanging_database_fails_in_bounded_time_without_blocking_the_server_and_the_store_recovers(postgres_url):
    """Started while its database hangs, the store fails within its bound without blocking the
    event loop, and makes its table once the database answers."""
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    database = f"store_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {database}"))
    admin.dispose()
    tarpit = Tarpit()  # hanging from the start
    try:
        started = time.monotonic()
        store = tracker_store_for(f"postgresql+psycopg2://postgres@127.0.0.1:{tarpit.port}/{database}")
        bound = time_bounds().database_connect + time_bounds().database_statement
        assert time.monotonic() - started < bound + 1  # Rasa's store connects as it starts
        sender = new_sender()

        started = time.monotonic()
        (outcome,), stall = asyncio.run(watched_retrieve(store, sender))
        assert isinstance(outcome, ConversationStoreUnavailable)
        # Waiting in the event loop would stall it for the connect timeout.
        assert time.monotonic() - started < bound + 1 and stall < time_bounds().database_connect / 2

        tarpit.serve(make_url(postgres_url).port)
        asyncio.run(converse(store, sender, range(2)))
        tracker = asyncio.run(store.retrieve(sender))
        assert [event.text for event in tracker.events if isinstance(event, UserUttered)] == ["question 0", "question 1"]
    finally:
        tarpit.close()


def test_sqlite_files_commit_through_a_synced_write_ahead_log(tmp_path):
    """Faster commits (assistant.db.write_ahead_log), each still synced to disk."""
    for engine in (engine_for(f"sqlite:///{tmp_path / 'assistant.db'}"),
                   PatientSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db")).engine):
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
