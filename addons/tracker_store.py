"""The conversation store: Rasa's SQL tracker store, which forgets a patient on request,
loads a turn's conversation in time that does not grow with its length, and whose
errors carry no conversation data.

Forgetting: the action server cannot reach this store, and Rasa saves the whole
in-memory tracker after every turn (only the events beyond those already stored), so
rows deleted during the turn would come straight back. Instead, when the turn ran the
forget action, this store deletes every stored event of the sender rather than saving.

Speed: only the events a turn needs are loaded (addons/stored_events.py), and the SQL
runs off the event loop on the store's own threads, every wait bounded
(assistant.settings.TimeBounds), so a hanging database holds up no other conversation.

Errors: when the store is unreachable, Rasa answers from a fresh in-memory conversation
and logs the error's text, which for SQLAlchemy includes the query parameters: sender
ids (phone numbers on SMS) and message text. This store raises the error type alone.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Generator, Iterable, Iterator, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import Index, func, select, union
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from addons.stored_events import RECENT_EVENTS, STATE_EVENTS, UNDOING_EVENTS, events_from_json
from assistant.db import timeout_arguments, write_ahead_log
from assistant.off_loop import OffLoop, Result
from assistant.privacy import FORGET_ACTION
from assistant.settings import time_bounds

logger = logging.getLogger(__name__)

# The look-ups a turn's load makes, beside Rasa's index on sender_id alone; an index, so that
# they read no row (state_and_recent_event_data).
EVENTS_BY_TYPE = Index(
    "ix_events_sender_type", SQLTrackerStore.SQLEvent.sender_id, SQLTrackerStore.SQLEvent.type_name,
    SQLTrackerStore.SQLEvent.action_name, SQLTrackerStore.SQLEvent.timestamp,
)


# Kept trackers (KeptTrackers): a turn adds about 6 events to the 60-odd of a loaded one.
KEPT_CONVERSATIONS = 64
KEPT_EVENTS_MAX = 2 * RECENT_EVENTS


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


class KeptTrackers:
    """The trackers of the latest turns, each until its conversation's next turn takes it.

    A conversation's next turn would load it back from the database: 4.6 ms on SQLite (4
    queries, reading the events, replaying them), against one indexed look-up of the
    sender's latest stored event. A kept tracker is
    given only while that event is still the one it saved last, so a turn on another
    replica, or a deletion, is never missed; and only while it holds at most
    KEPT_EVENTS_MAX events, so that its size stays that of a loaded one.
    """

    def __init__(self, conversations: int = KEPT_CONVERSATIONS) -> None:
        self.conversations = conversations
        self.trackers: OrderedDict[str, DialogueStateTracker] = OrderedDict()
        self.lock = threading.Lock()  # the store's threads share it

    def keep(self, tracker: DialogueStateTracker) -> None:
        if getattr(tracker, "latest_row", None) is None or len(tracker.events) > KEPT_EVENTS_MAX:
            return
        with self.lock:
            self.trackers[tracker.sender_id] = tracker
            self.trackers.move_to_end(tracker.sender_id)
            while len(self.trackers) > self.conversations:
                self.trackers.popitem(last=False)

    def take(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The sender's kept tracker, if any; none is kept after. The caller checks that its
        last saved event (``latest_row``) is still the sender's latest stored one."""
        with self.lock:
            return self.trackers.pop(sender_id, None)


class PatientSQLTrackerStore(SQLTrackerStore):
    """Configured in endpoints.yml as ``type: addons.tracker_store.PatientSQLTrackerStore``.

    Its SQL runs off the event loop, every wait bounded (assistant.settings.TimeBounds)."""

    def __init__(self, domain: Optional[Domain] = None, dialect: str = "sqlite", host: Optional[str] = None,
                 *args: Any, query: Optional[dict] = None, **kwargs: Any) -> None:
        # Rasa's store connects as it starts: with a hanging database, the bounds apply already.
        if host and "://" in host:  # a whole URL, which Rasa takes as it is
            url = make_url(host)
            dialect = url.get_backend_name()
            host = url.update_query_dict({**timeout_arguments(dialect), **url.query}).render_as_string(hide_password=False)
        query = {**timeout_arguments(dialect.split("+")[0]), **(query or {})}
        self.tables_ready = False
        self.kept = KeptTrackers()
        super().__init__(domain, dialect, host, *args, query=query, **kwargs)
        # Rasa's engine opens a SQLite file anew for every load and save (NullPool): kept
        # open, a connection would go on writing to a conversation file moved or deleted.
        write_ahead_log(self.engine)
        bounds = time_bounds()
        # SQLite takes one writer at a time; a turn makes two short calls (load, save).
        self.sql = OffLoop("conversation-store", 1 if dialect.startswith("sqlite") else 4,
                           bounds.database_connect + bounds.database_statement)

    async def off_loop(self, function: Callable[..., Result], *args: Any) -> Result:
        try:
            return await self.sql.run(function, *args)
        except asyncio.TimeoutError:
            raise ConversationStoreUnavailable("TimeoutError") from None

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Session, None, None]:
        try:
            if not self.tables_ready:  # Rasa makes them as it starts, unless the database was down then
                self.Base.metadata.create_all(self.engine)
                EVENTS_BY_TYPE.create(self.engine, checkfirst=True)  # a table made by an earlier release
                self.tables_ready = True
            with super().session_scope() as session:
                yield session
        except SQLAlchemyError as error:
            raise ConversationStoreUnavailable(type(error).__name__) from None

    def state_and_recent_event_data(self, session: Session, sender_id: str) -> list[str]:
        """The latest session's events that a turn needs, oldest first, as stored (JSON).

        Rasa's query for a session (``_event_query``) reads every row the sender has,
        through its index on sender_id alone: 4.5 ms for a conversation of 3,500 events
        on SQLite, growing with it. Here each part is an index look-up (sender, type,
        slot name, time; EVENTS_BY_TYPE), and the rows are read by id: 0.5 ms.
        """
        event = self.SQLEvent
        session_start = session.query(func.max(event.timestamp)).filter(
            event.sender_id == sender_id, event.type_name == SessionStarted.type_name
        ).scalar()
        # Rasa's rule: the events from the latest session start on, or all without one.
        in_session = [event.sender_id == sender_id]
        if session_start is not None:
            in_session.append(event.timestamp >= session_start)
        first_recent = (
            session.query(event.id).filter(*in_session).order_by(event.id.desc())
            .offset(RECENT_EVENTS - 1).limit(1).scalar()
        )
        older = [*in_session, event.id < (first_recent or 0)]
        if first_recent is None or session.query(event.id).filter(*older, event.type_name.in_(UNDOING_EVENTS)).first():
            ids = select(event.id).where(*in_session)
        else:
            ids = union(
                select(event.id).where(*in_session, event.id >= first_recent),
                select(event.id).where(*in_session, event.type_name.in_(STATE_EVENTS)),
                # A slot event's `action_name` column holds the slot's name.
                select(func.max(event.id)).where(*older, event.type_name == SlotSet.type_name)
                .group_by(event.action_name),
            )
        return [data for (data,) in session.query(event.data).filter(event.id.in_(ids)).order_by(event.id)]

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        return await self.off_loop(self.load, sender_id, fetch_events_from_all_sessions)

    def load(self, sender_id: str, all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            if all_sessions:
                query = self._event_query(session, sender_id, fetch_events_from_all_sessions=True)
                events = events_from_json(data for (data,) in query.with_entities(self.SQLEvent.data))
            else:
                kept = self.kept.take(sender_id)
                if kept is not None and kept.latest_row == self.latest_row(session, sender_id):
                    return kept
                events = events_from_json(self.state_and_recent_event_data(session, sender_id))
        if not events or not self.domain:
            return None
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots)
        if not all_sessions:
            tracker.stored_events = len(tracker.events)
        return tracker

    def latest_row(self, session: Session, sender_id: str) -> Optional[tuple[int, float]]:
        """The id and time of the sender's latest stored event, which tells whether a kept
        tracker is still the stored conversation (looked up only when one is kept)."""
        event = self.SQLEvent
        row = session.query(event.id, event.timestamp).filter(event.sender_id == sender_id) \
            .order_by(event.id.desc()).first()
        return None if row is None else (row[0], row[1])

    async def keys(self) -> Iterable[str]:
        return await self.off_loop(self.sender_ids)

    def sender_ids(self) -> list[str]:
        with self.session_scope() as session:
            return [sender_id for (sender_id,) in session.query(self.SQLEvent.sender_id).distinct()]

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_forget(tracker):
            await self.off_loop(self.forget, tracker.sender_id)
            return
        await self.stream_events(tracker)
        await self.off_loop(self.write_new_events, tracker)

    def write_new_events(self, tracker: DialogueStateTracker) -> None:
        """The rows of Rasa's save (rasa 3.6.21), in one transaction; the tracker is kept
        for the conversation's next turn."""
        with self.session_scope() as session:
            row = None
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                row = self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"), data=json.dumps(data),
                )
                session.add(row)
            if row is not None:
                session.flush()  # gives the rows their ids
                tracker.latest_row = (row.id, row.timestamp)
            session.commit()
        tracker.stored_events = len(tracker.events)
        self.kept.keep(tracker)

    def _additional_events(self, session: Session, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events Rasa's save writes: those added since this store loaded the tracker. Rasa
        counts the stored events instead, which are more than a loaded tracker holds."""
        stored = getattr(tracker, "stored_events", None)
        if stored is None:  # a new conversation, or one Rasa loaded whole
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def forget(self, sender_id: str) -> int:
        """Delete every stored event of ``sender_id``, across all sessions; returns how many."""
        self.kept.take(sender_id)
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        logger.info("Deleted a conversation at the patient's request (%d events).", deleted)
        return deleted
