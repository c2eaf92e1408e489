"""The per-sender rate limit's counting, on a clock the tests move by hand."""
from __future__ import annotations

import asyncio
import time

import pytest

from assistant.rate_limit import DEFAULT_PER_MINUTE, MemoryCounter, RateLimiter, parse_per_minute, rate_limiter
from assistant.settings import time_bounds
from scripts.local_services import Tarpit
from scripts.servers import free_port
from tests.helpers import longest_stall


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def allowed(limiter: RateLimiter, sender: str, times: int = 1) -> list[bool]:
    return [asyncio.run(limiter.allow(sender)) for _ in range(times)]


def allow(limiter: RateLimiter, sender: str) -> bool:
    return allowed(limiter, sender)[0]


def test_the_message_over_the_limit_is_refused_and_others_are_not_affected():
    limiter = RateLimiter(3, clock=Clock())
    assert allowed(limiter, "alice", 5) == [True, True, True, False, False]
    assert allowed(limiter, "bob", 3) == [True, True, True]


def test_a_new_minute_allows_the_sender_again():
    clock = Clock(60_000.0)
    limiter = RateLimiter(2, clock=clock)
    assert allowed(limiter, "alice", 3) == [True, True, False]
    clock.now += 59
    assert allow(limiter, "alice") is False
    clock.now += 1
    assert allowed(limiter, "alice", 3) == [True, True, False]


def test_memory_holds_only_the_current_minute():
    clock = Clock(60_000.0)
    counter = MemoryCounter()
    limiter = RateLimiter(5, counter, clock)
    for sender in ("a", "b", "c"):
        allow(limiter, sender)
    clock.now += 60
    allow(limiter, "d")
    assert len(counter.counts) == 1


def test_replicas_share_the_counts_through_redis(redis_url):
    """Two Rasa replicas, each with its own limiter, count the same sender together."""
    clock = Clock()
    first, second = (rate_limiter(4, redis_url, clock) for _ in range(2))
    sender = f"rest:shared-{clock.now}"
    assert [allow(first, sender), allow(second, sender), allow(first, sender), allow(second, sender)] == [True] * 4
    assert (allow(first, sender), allow(second, sender)) == (False, False)
    assert allow(first, "rest:someone-else")
    clock.now += 60
    assert allow(second, sender)


def test_zero_switches_the_limit_off():
    assert all(allowed(RateLimiter(0, clock=Clock()), "alice", 500))


def test_an_unreachable_redis_lets_messages_through(caplog):
    limiter = rate_limiter(1, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    assert [allow(limiter, "+15550001111") for _ in range(3)] == [True, True, True]
    assert "ConnectionError" in caplog.text and "+15550001111" not in caplog.text


@pytest.mark.parametrize("value, expected", [(None, DEFAULT_PER_MINUTE), ("", DEFAULT_PER_MINUTE),
                                             ("0", 0), ("12", 12), (" 7 ", 7)])
def test_the_setting(value, expected):
    assert parse_per_minute(value) == expected


@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_a_bad_setting_is_refused_with_its_name(value):
    with pytest.raises(ValueError, match="RATE_LIMIT_PER_MINUTE"):
        parse_per_minute(value)


def test_a_hanging_redis_lets_messages_through_without_blocking_the_server():
    tarpit = Tarpit()  # accepts, never answers
    try:
        limiter = rate_limiter(1, f"redis://127.0.0.1:{tarpit.port}/0")
        started = time.monotonic()
        allowed_twice, stall = asyncio.run(longest_stall(both(limiter.allow("+15550001111"), limiter.allow("+15550001111"))))
        # Waiting in the event loop would stall it for the socket timeout.
        assert allowed_twice == [True, True] and stall < time_bounds().redis / 2
        # Within the time a red flag's advice may take before its turn starts.
        assert time.monotonic() - started < 2 * time_bounds().pre_turn_check + 0.2
    finally:
        tarpit.close()


async def both(*awaitables):
    return [await awaitable for awaitable in awaitables]
