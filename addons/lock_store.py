"""The production profile's lock store: Rasa's Redis ticket lock, off the event loop and bounded.

Rasa's RedisLockStore (rasa 3.6.21) calls redis-py synchronously inside the server's event
loop, with a 10 s socket timeout: a Redis that accepts and never answers stalls every
conversation on the replica. This one runs each Redis call on its own threads, with
REDIS_TIMEOUT as the socket timeouts (assistant.settings.TimeBounds).

When Redis fails, the turn takes an in-process lock instead and goes on, as the rate limit
does: a patient is answered rather than refused. What is lost meanwhile is only the
cross-replica ordering of one conversation's turns sent at the same moment.

Configured in endpoints.prod.yml as ``type: addons.lock_store.PatientRedisLockStore``.
"""
from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Callable, Optional, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError, WatchError

from assistant.off_loop import OffLoop
from assistant.settings import time_bounds

logger = logging.getLogger(__name__)
# A turn makes a few Redis calls of under a millisecond each.
REDIS_THREADS = 4
Outcome = TypeVar("Outcome")


class PatientRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # redis-py connects within the same socket timeout.
        timeout = time_bounds().redis
        super().__init__(host=endpoint_config.url or "localhost", socket_timeout=timeout, **endpoint_config.kwargs)
        # A call may connect, then wait for its reply: two socket timeouts.
        self.redis_calls = OffLoop("lock-store", REDIS_THREADS, 2 * timeout)
        self.in_process = InMemoryLockStore()

    def change_lock(self, conversation_id: str,
                    change: Callable[[Optional[TicketLock]], tuple[Optional[TicketLock], Outcome]]) -> Outcome:
        """Read the conversation's lock, change it and write it back (None: delete it) in one
        Redis transaction, done again if another replica changed the lock meanwhile.

        Rasa reads and writes the lock in separate calls. A turn ending on one replica while
        the conversation's next turn took its ticket on another wrote back the lock as it had
        read it, without the new ticket, then deleted it; the next turn failed with LockError
        (33 turns in the production test, once replies went out before their turn ended).
        """
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as transaction:
            while True:
                try:
                    transaction.watch(key)
                    stored = transaction.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    changed, outcome = change(lock)
                    transaction.multi()
                    if changed is None:
                        transaction.delete(key)
                    else:
                        transaction.set(key, changed.dumps())
                    transaction.execute()
                    return outcome
                except WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]) -> tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self.change_lock(conversation_id, issue)
        except RedisError as error:  # as Rasa's issue_ticket reports it
            raise LockError(f"Error while acquiring lock. Error:\n{type(error).__name__}") from error

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return (lock if lock is not None and lock.is_someone_waiting() else None), None

        self.change_lock(conversation_id, finish)

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self.change_lock(conversation_id, drop_expired)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        try:
            ticket = await self.redis_calls.run(self.issue_ticket, conversation_id, lock_lifetime)
        except (LockError, asyncio.TimeoutError) as error:  # issue_ticket wraps Redis errors in LockError
            logger.warning("Lock store unavailable, locking in this process: %s", type(error.__cause__ or error).__name__)
            ticket = None
        if ticket is None:
            async with self.in_process.lock(conversation_id, lock_lifetime, wait_time_in_seconds) as local:
                yield local
            return
        try:
            lock, ticket = await self.wait_for_turn(conversation_id, ticket, lock_lifetime, wait_time_in_seconds)
            yield lock
        finally:
            try:
                await self.redis_calls.run(self.cleanup, conversation_id, ticket)
            except (RedisError, asyncio.TimeoutError) as error:  # the ticket expires with its lifetime
                logger.warning("Lock store unavailable, ticket left to expire: %s", type(error).__name__)
            except RuntimeError:  # the server stopped mid-turn, its loop gone: the ticket expires too
                pass

    async def wait_for_turn(
        self, conversation_id: str, ticket: int, lock_lifetime: float, wait_time_in_seconds: float
    ) -> tuple[TicketLock, int]:
        """Rasa's wait for the lock (rasa.core.lock_store.LockStore._acquire_lock), its Redis
        calls off the loop, and the conversation's lock with the ticket that holds it.

        A waiting ticket expires too, and with it the lock when no other ticket is left. In
        Rasa's loop a turn whose ticket expired while it waited waits for ever, or fails with
        LockError when the lock went: a replica killed mid-turn left its ticket in front, both
        expired, and the survivor's turn spun in the background, its patient apologised to
        each time (production test, TICKET_LOCK_LIFETIME 10 s). Here such a turn takes a new
        ticket; the ones in front of it, older, have expired as well.
        """
        while True:
            # Fetched every time: the lock may have expired meanwhile.
            lock = await self.redis_calls.run(self.get_lock, conversation_id)
            if lock is not None and not lock.is_locked(ticket):  # drops the expired tickets from `lock`
                return lock, ticket
            if lock is None or all(waiting.number != ticket for waiting in lock.tickets):
                ticket = await self.redis_calls.run(self.issue_ticket, conversation_id, lock_lifetime)
                continue
            await asyncio.sleep(wait_time_in_seconds)
            await self.redis_calls.run(self.update_lock, conversation_id)
