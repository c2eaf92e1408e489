"""The conversation store: Rasa's SQL tracker store, which forgets a patient on request,
loads a turn's conversation in time that does not grow with its length, and whose
errors carry no conversation data.

Forgetting: the action server cannot reach this store, and Rasa saves the whole
in-memory tracker after every turn (only the events beyond those already stored), so
rows deleted during the turn would come straight back. Instead, when the turn ran the
forget action, this store deletes every stored event of the sender rather than saving.

Speed: Rasa rebuilds the conversation session from every stored event on each turn, and
its policies and the action server then go through all of them, so each turn was
slower than the one before (py-spy, one sender: 62 ms a turn for the first 48 turns,
237 ms by turn 200, a fifth of it looking up each event's class). This store loads the
last `RECENT_EVENTS` events, and before them only the events that still shape the
conversation's state (each slot's latest value, session start, pauses...), so slots are
those of the whole session. Every event is still stored, and the tracker API still serves them all.

Errors: when the store is unreachable, Rasa answers from a fresh in-memory conversation
and logs the error's text, which for SQLAlchemy includes the query parameters: sender
ids (phone numbers on SMS) and message text. This store raises the error type alone.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import logging
from functools import lru_cache
from typing import Generator, Iterable, Iterator, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    ConversationResumed,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Query, Session

from assistant.privacy import FORGET_ACTION

logger = logging.getLogger(__name__)

# Every rule looks at the latest turn only, and a turn adds at most about 20 events.
RECENT_EVENTS = 60
# Events older than the recent ones that change the tracker's state for good (the
# others, such as the latest message or action, are superseded by the recent events).
# Of the slot events, the latest for each slot is enough.
STATE_EVENTS = [
    event.type_name for event in (
        SessionStarted, Restarted, AllSlotsReset, ActiveLoop, LoopInterrupted,
        ConversationPaused, ConversationResumed, FollowupAction, ActionExecutionRejected,
    )
]
# Undoing events replay the conversation before them: with one of these among the
# older events, the whole session is loaded, as Rasa does.
UNDOING_EVENTS = [UserUtteranceReverted.type_name, ActionReverted.type_name]


@lru_cache(maxsize=None)
def event_class(type_name: str) -> type[Event]:
    return Event.resolve_by_type(type_name)


def events_from_json(rows: Iterable[str]) -> list[Event]:
    events = []
    for row in rows:
        parameters = json.loads(row)
        event = event_class(parameters["event"])._from_parameters(parameters)
        if event is not None:
            events.append(event)
    return events


class ConversationStoreUnavailable(Exception):
    """The tracker store failed; the message is the underlying error's type only."""


def asked_to_forget(tracker: DialogueStateTracker) -> bool:
    """Whether the last action of the latest turn, before listening again, was the forget action."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return event.action_name == FORGET_ACTION
    return False


class PatientSQLTrackerStore(SQLTrackerStore):
    """Configured in endpoints.yml as ``type: addons.tracker_store.PatientSQLTrackerStore``."""

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Session, None, None]:
        try:
            with super().session_scope() as session:
                yield session
        except SQLAlchemyError as error:
            raise ConversationStoreUnavailable(type(error).__name__) from None

    def state_and_recent_events(self, session: Session, sender_id: str) -> Query:
        """The latest session's events that a turn needs, oldest first."""
        events = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        first_recent = (
            events.with_entities(self.SQLEvent.id).order_by(None).order_by(self.SQLEvent.id.desc())
            .offset(RECENT_EVENTS - 1).limit(1).scalar()
        )
        if first_recent is None:
            return events
        older = events.filter(self.SQLEvent.id < first_recent)
        if older.filter(self.SQLEvent.type_name.in_(UNDOING_EVENTS)).with_entities(self.SQLEvent.id).first():
            return events
        # A slot event's `action_name` column holds the slot's name.
        latest_slot_events = (
            older.filter(self.SQLEvent.type_name == SlotSet.type_name).order_by(None)
            .group_by(self.SQLEvent.action_name).with_entities(func.max(self.SQLEvent.id)).subquery()
        )
        return events.filter(or_(
            self.SQLEvent.id >= first_recent,
            self.SQLEvent.type_name.in_(STATE_EVENTS),
            self.SQLEvent.id.in_(select(latest_slot_events)),
        ))

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        if fetch_events_from_all_sessions:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            rows = self.state_and_recent_events(session, sender_id).with_entities(self.SQLEvent.data)
            events = events_from_json(data for (data,) in rows)
        if not events or not self.domain:
            return None
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots)
        tracker.stored_events = len(tracker.events)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_forget(tracker):
            self.forget(tracker.sender_id)
            return
        await super().save(tracker)
        tracker.stored_events = len(tracker.events)

    def _additional_events(self, session: Session, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events Rasa's save writes: those added since this store loaded the tracker. Rasa
        counts the stored events instead, which are more than a loaded tracker holds."""
        stored = getattr(tracker, "stored_events", None)
        if stored is None:  # a new conversation, or one Rasa loaded whole
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def forget(self, sender_id: str) -> int:
        """Delete every stored event of ``sender_id``, across all sessions; returns how many."""
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        logger.info("Deleted a conversation at the patient's request (%d events).", deleted)
        return deleted
