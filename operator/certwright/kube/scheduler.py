"""One in-process scheduler that wakes Certificates when something about them is due.

Renewal times, retries after a back-off or a rate limit, and ARI re-fetches all come here as one
"wake this key at that time" — a heap and a single task, no per-object kopf timer, daemon or
TemporaryError (kopf would turn those into finalizers, tasks and a PATCH every 10 minutes each). The
schedule is rebuilt from status at start-up, because every object is reconciled once then.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import heapq
import itertools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    """``schedule(key, when)`` keeps the earliest pending wake per key; ``wake(key)`` is then called."""

    def __init__(self, wake: Callable[[str], None], clock: Callable[[], datetime.datetime]) -> None:
        self.wake = wake
        self.clock = clock
        self.heap: list[tuple[datetime.datetime, int, str]] = []
        self.due: dict[str, datetime.datetime] = {}
        self.counter = itertools.count()
        self.changed = asyncio.Event()

    def schedule(self, key: str, when: datetime.datetime) -> None:
        """Wake ``key`` at ``when`` (an earlier pending wake for it wins; a later one is replaced)."""
        current = self.due.get(key)
        if current is not None and current <= when and current > self.clock():
            return
        self.due[key] = when
        heapq.heappush(self.heap, (when, next(self.counter), key))
        self.changed.set()

    def cancel(self, key: str) -> None:
        self.due.pop(key, None)

    async def run(self) -> None:
        while True:
            now = self.clock()
            while self.heap and self.heap[0][0] <= now:
                when, _, key = heapq.heappop(self.heap)
                if self.due.get(key) == when:  # not superseded or cancelled
                    del self.due[key]
                    self.wake(key)
            self.changed.clear()
            timeout = (self.heap[0][0] - now).total_seconds() if self.heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout)
