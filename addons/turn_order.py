"""A turn's work in the order that answers soonest.

Rasa's Agent.handle_message (rasa 3.6.21) waits for the conversation's lock, loads the
conversation, then parses the message, one after the other; and a turn waiting for the
lock looks again once a second. Here:

- the message is parsed as it arrives, in the NLU's thread, while the turn waits for
  the lock and the conversation loads on the store's thread: the parse needs the message
  alone (the pipeline has no component that reads the conversation);
- a conversation's turns in this process queue for each other in this process, and the
  next one starts as the one before it ends. A patient's next message can come while the
  turn before it still runs: one that outlasted its deadline and was answered without it
  (channels/turns.py), or an SMS that arrived in parts. Rasa's lock store, which also
  orders turns across replicas, looks again only once a second (every LOCK_POLL_SECONDS
  here, for a turn on another replica).
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, List, Optional

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import LOCK_LIFETIME
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)
LOCK_POLL_SECONDS = 0.005
rasa_handle_message = Agent.handle_message
rasa_handle_message_with_tracker = MessageProcessor._handle_message_with_tracker
# The parse each waiting turn started, until the turn takes it.
parses_in_flight: "weakref.WeakKeyDictionary[UserMessage, asyncio.Future]" = weakref.WeakKeyDictionary()


class TurnQueues:
    """One asyncio lock per conversation with a turn in this process, dropped when none waits.

    A turn waits at most the lifetime of Rasa's lock, as it does for a ticket: every call a
    turn makes is bounded, so a turn in front that outlives it has gone wrong, and the
    conversation goes on rather than stop.
    """

    def __init__(self) -> None:
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.turns: defaultdict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def turn(self, conversation_id: str) -> AsyncGenerator[None, None]:
        self.turns[conversation_id] += 1
        lock = self.locks[conversation_id]
        try:
            try:
                await asyncio.wait_for(lock.acquire(), LOCK_LIFETIME)
                acquired = True
            except asyncio.TimeoutError:
                logger.warning("A turn waited past the lock's lifetime for the turn in front of it.")
                acquired = False
            try:
                yield
            finally:
                if acquired:
                    lock.release()
        finally:
            self.turns[conversation_id] -= 1
            if not self.turns[conversation_id]:
                del self.turns[conversation_id], self.locks[conversation_id]


turn_queues = TurnQueues()


@asynccontextmanager
async def conversation_turn(agent: Agent, sender_id: str) -> AsyncGenerator[None, None]:
    """Hold the conversation: after the turn in front in this process, and with its lock
    across replicas. A patient's turn holds it, and so does the adding of a nurse's reply
    (channels/nurse.py)."""
    async with turn_queues.turn(sender_id), agent.lock_store.lock(sender_id, wait_time_in_seconds=LOCK_POLL_SECONDS):
        yield


async def handle_message(self: Agent, message: UserMessage) -> Optional[List[Dict[str, Any]]]:
    """Agent.handle_message, parsing while the turn waits for its lock and its conversation."""
    if not self.is_ready() or self.processor is None:  # no model yet: Rasa's own answer
        return await rasa_handle_message(self, message)
    if message.parse_data is None and self.processor.http_interpreter is None:
        parses_in_flight[message] = asyncio.ensure_future(self.processor.parse_message(message))
    try:
        async with conversation_turn(self, message.sender_id):
            return await self.processor.handle_message(message)
    finally:
        unused = parses_in_flight.pop(message, None)
        if unused is not None:  # the turn failed before it needed the parse
            unused.cancel()


async def handle_message_with_tracker(self: MessageProcessor, message: UserMessage,
                                      tracker: DialogueStateTracker) -> None:
    """MessageProcessor._handle_message_with_tracker, with the parse started as the message came."""
    parsing = parses_in_flight.pop(message, None)
    if parsing is not None:
        message.parse_data = await parsing
    await rasa_handle_message_with_tracker(self, message, tracker)


def parse_while_waiting() -> None:
    Agent.handle_message = handle_message
    MessageProcessor._handle_message_with_tracker = handle_message_with_tracker
