"""The production lock store: Rasa's Redis ticket lock, off the event loop, and still a lock
when Redis hangs."""
from __future__ import annotations

import asyncio
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import redis
from rasa.utils.endpoints import EndpointConfig

from addons.lock_store import PatientRedisLockStore
from assistant.settings import time_bounds
from scripts.local_services import Tarpit
from tests.helpers import longest_stall


def lock_store(port: int) -> PatientRedisLockStore:
    """As Rasa builds it from endpoints.prod.yml."""
    return PatientRedisLockStore(EndpointConfig(url="127.0.0.1", port=port, db=0, key_prefix="test", type="redis"))


async def two_turns(store: PatientRedisLockStore, conversation: str) -> list[str]:
    """Two turns of one conversation at once: the order in which they start and end."""
    order: list[str] = []

    async def turn(name: str) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.05):
            order.append(f"{name} starts")
            await asyncio.sleep(0.2)
            order.append(f"{name} ends")

    first = asyncio.ensure_future(turn("first"))
    await asyncio.sleep(0.05)
    await turn("second")
    await first
    return order


SERIAL = ["first starts", "first ends", "second starts", "second ends"]


def test_one_turn_at_a_time_per_conversation_in_redis(redis_url):
    store = lock_store(urlsplit(redis_url).port)
    conversation = f"lock-{secrets.token_hex(4)}"
    assert asyncio.run(two_turns(store, conversation)) == SERIAL
    # The lock is gone once nobody waits.
    assert redis.Redis.from_url(redis_url).get(f"test:lock:{conversation}") is None


def test_a_hanging_redis_neither_blocks_the_server_nor_lets_turns_overlap(redis_url):
    tarpit = Tarpit()  # hanging
    try:
        store = lock_store(tarpit.port)
        started = time.monotonic()
        order, stall = asyncio.run(longest_stall(two_turns(store, f"lock-{secrets.token_hex(4)}")))
        # Each turn waits for Redis once, then locks in the process. Waiting in the event
        # loop would stall it for the socket timeout; a busy machine stalls it a little.
        assert order == SERIAL and stall < time_bounds().redis / 2
        assert time.monotonic() - started < 2 * 2 * time_bounds().redis + 0.5

        tarpit.serve(urlsplit(redis_url).port)  # back: the lock is in Redis again
        conversation = f"lock-{secrets.token_hex(4)}"

        async def holds_in_redis() -> bytes | None:
            async with store.lock(conversation):
                return redis.Redis.from_url(redis_url).get(f"test:lock:{conversation}")

        assert asyncio.run(holds_in_redis()) is not None
    finally:
        tarpit.close()


def test_a_turn_behind_a_dead_replicas_ticket_goes_on_once_the_tickets_expire(redis_url):
    """A replica killed mid-turn never frees its ticket. The next turn, on the survivor,
    waits until the tickets expire (its own too, having waited as long), then takes its turn."""
    store = lock_store(urlsplit(redis_url).port)
    conversation = f"lock-{secrets.token_hex(4)}"
    lifetime = 0.5
    store.issue_ticket(conversation, lifetime)  # the dead replica's, never cleaned up

    async def next_turn() -> float:
        started = time.monotonic()
        async with store.lock(conversation, lock_lifetime=lifetime, wait_time_in_seconds=0.05):
            return time.monotonic() - started

    waited = asyncio.run(asyncio.wait_for(next_turn(), timeout=5 * lifetime))
    assert lifetime * 0.8 < waited < 3 * lifetime


def test_a_ticket_taken_on_one_replica_survives_a_turn_ending_on_another(redis_url):
    """A patient's next message reaches one replica as their previous turn ends on the
    other: the new ticket must not be lost in that turn's clean-up (Rasa read and wrote the
    lock in separate calls, and the next turn failed with LockError)."""
    port = urlsplit(redis_url).port
    replica, other_replica = lock_store(port), lock_store(port)
    conversation = f"race-{secrets.token_hex(4)}"
    lost = []

    def turns_ending(count: int) -> None:
        for _ in range(count):
            other_replica.cleanup(conversation, other_replica.issue_ticket(conversation))

    with ThreadPoolExecutor(1) as pool:
        ending = pool.submit(turns_ending, 300)
        for _ in range(300):
            ticket = replica.issue_ticket(conversation)
            lock = replica.get_lock(conversation)
            if lock is None or all(waiting.number != ticket for waiting in lock.tickets):
                lost.append(ticket)
            replica.cleanup(conversation, ticket)
        ending.result()
    assert not lost, f"{len(lost)} of 300 tickets lost"
