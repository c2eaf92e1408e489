"""Blocking calls to one dependency (a database, Redis), run off the server's event loop.

Each dependency gets its own few threads, so one that hangs fills only its own and the
others' calls go on; the caller waits at most `timeout` seconds. A call that outlasts it
keeps its thread until the driver's own time bound ends it (assistant.settings.TimeBounds),
which is why those bounds must be set too: this one only frees the caller.
"""
from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

Result = TypeVar("Result")


class OffLoop:
    def __init__(self, name: str, threads: int, timeout: float) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self.timeout = timeout

    async def run(
        self, function: Callable[..., Result], *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Result:
        """``function(*args, **kwargs)`` on one of the threads; asyncio.TimeoutError after
        ``timeout`` seconds (the default's unless given). A call still queued when its caller
        gives up is dropped, never run late."""
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.executor, functools.partial(function, *args, **kwargs))
        return await asyncio.wait_for(call, timeout or self.timeout)
