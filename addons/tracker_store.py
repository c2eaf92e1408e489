"""The conversation store: Rasa's SQL tracker store, which forgets a patient on request
and whose errors carry no conversation data.

Forgetting: the action server cannot reach this store, and Rasa saves the whole
in-memory tracker after every turn (only the events beyond those already stored), so
rows deleted during the turn would come straight back. Instead, when the turn ran the
forget action, this store deletes every stored event of the sender rather than saving.

Errors: when the store is unreachable, Rasa answers from a fresh in-memory conversation
and logs the error's text, which for SQLAlchemy includes the query parameters: sender
ids (phone numbers on SMS) and message text. This store raises the error type alone.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Generator

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from assistant.privacy import FORGET_ACTION

logger = logging.getLogger(__name__)


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

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_forget(tracker):
            self.forget(tracker.sender_id)
        else:
            await super().save(tracker)

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
