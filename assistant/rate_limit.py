"""Per-sender rate limit on patient messages: at most N messages a minute per conversation.

A fixed one-minute window per sender. The counters live in process memory, or in Redis when
several Rasa replicas must share them (REDIS_URL). The clock is injectable so tests need no sleep.
"""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Callable, Protocol

from assistant.off_loop import OffLoop
from assistant.settings import time_bounds

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60
DEFAULT_PER_MINUTE = 30
REDIS_KEY_PREFIX = "spine-assistant:rate"
# One Redis round trip per message, under a millisecond on loopback.
COUNTER_THREADS = 4


class Counter(Protocol):
    blocking: bool  # whether increment waits on the network (then it runs off the event loop)

    def increment(self, key: str, window: int) -> int:
        """Count one more message for ``key`` in ``window``; the count so far."""


class MemoryCounter:
    """Counts for the current window only, so memory holds at most a minute's senders."""

    blocking = False

    def __init__(self) -> None:
        self.window: int | None = None
        self.counts: dict[str, int] = {}

    def increment(self, key: str, window: int) -> int:
        if window != self.window:
            self.window, self.counts = window, {}
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]


class RedisCounter:
    """Counts shared by every replica; each key expires once its window is over."""

    blocking = True

    def __init__(self, client) -> None:
        self.client = client

    def increment(self, key: str, window: int) -> int:
        name = f"{REDIS_KEY_PREFIX}:{window}:{key}"
        pipeline = self.client.pipeline()
        pipeline.incr(name)
        pipeline.expire(name, 2 * WINDOW_SECONDS)
        count, _ = pipeline.execute()
        return int(count)


class RateLimiter:
    def __init__(self, per_minute: int, counter: Counter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.counter = counter or MemoryCounter()
        self.clock = clock
        # A hanging Redis must not stall the server's event loop, nor hold a turn past the
        # time in which a red flag gets its advice.
        self.off_loop = OffLoop("rate-limit", COUNTER_THREADS, time_bounds().pre_turn_check)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def allow(self, sender: str) -> bool:
        """Whether this sender's message may be answered; it counts the message."""
        if not self.enabled:
            return True
        # Hashed: sender ids are phone numbers on SMS, and Redis keys are visible to operators.
        key = hashlib.sha256(sender.encode("utf-8", "replace")).hexdigest()[:32]
        window = int(self.clock() // WINDOW_SECONDS)
        try:
            if self.counter.blocking:
                count = await self.off_loop.run(self.counter.increment, key, window)
            else:
                count = self.counter.increment(key, window)
            return count <= self.per_minute
        except Exception as error:  # the counter store is down: answer rather than refuse everyone
            logger.warning("Rate-limit counters unavailable: %s", type(error).__name__)
            return True


def parse_per_minute(value: str | None) -> int:
    """RATE_LIMIT_PER_MINUTE: a whole number, 0 to switch the limit off; unset means the default."""
    if value is None or not value.strip():
        return DEFAULT_PER_MINUTE
    try:
        per_minute = int(value)
    except ValueError:
        per_minute = -1
    if per_minute < 0:
        raise ValueError(f"RATE_LIMIT_PER_MINUTE must be a whole number >= 0, not {value!r}")
    return per_minute


def rate_limiter(per_minute: int, redis_url: str | None = None,
                 clock: Callable[[], float] = time.time) -> RateLimiter:
    """In-process counters, or Redis ones when ``redis_url`` is given."""
    if not redis_url:
        return RateLimiter(per_minute, clock=clock)
    import redis  # installed with Rasa; only needed when replicas share counters

    client = redis.Redis.from_url(redis_url, socket_timeout=time_bounds().redis)
    return RateLimiter(per_minute, RedisCounter(client), clock)
