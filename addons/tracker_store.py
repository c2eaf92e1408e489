"""The conversation store: Rasa's SQL tracker store, which forgets a patient on request.

The action server cannot reach this store, and Rasa saves the whole in-memory
tracker after every turn (only the events beyond those already stored), so rows
deleted during the turn would come straight back. Instead, when the turn ran the
forget action, this store deletes every stored event of the sender rather than
saving the turn.
"""
from __future__ import annotations

import logging

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from assistant.privacy import FORGET_ACTION

logger = logging.getLogger(__name__)


def asked_to_forget(tracker: DialogueStateTracker) -> bool:
    """Whether the last action of the latest turn, before listening again, was the forget action."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return event.action_name == FORGET_ACTION
    return False


class ForgettingSQLTrackerStore(SQLTrackerStore):
    """Configured in endpoints.yml as ``type: addons.tracker_store.ForgettingSQLTrackerStore``."""

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
