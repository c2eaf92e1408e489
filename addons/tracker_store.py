"""Rasa's SQL tracker store, with errors that carry no conversation data.

When the store is unreachable, Rasa answers from a fresh in-memory conversation and logs
the error's text, which for SQLAlchemy includes the query parameters: sender ids (phone
numbers on SMS) and message text. This store raises the error type alone instead.
"""
from __future__ import annotations

import contextlib
from typing import Generator

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session


class ConversationStoreUnavailable(Exception):
    """The tracker store failed; the message is the underlying error's type only."""


class RedactingSQLTrackerStore(SQLTrackerStore):
    @contextlib.contextmanager
    def session_scope(self) -> Generator[Session, None, None]:
        try:
            with super().session_scope() as session:
                yield session
        except SQLAlchemyError as error:
            raise ConversationStoreUnavailable(type(error).__name__) from None
