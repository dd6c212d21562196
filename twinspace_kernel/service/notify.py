"""In-process wake-ups for long-polls: chat rooms and activity feeds wait on keys."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Notifier:
    """Long-polling requests wait on a key ("room:3", "space:7"); a commit notifies it.

    Waiters re-read the database when woken, so a missed or early wake-up only costs
    one extra query, never a lost message.
    """

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future]] = defaultdict(set)

    def notify(self, key: str) -> None:
        for future in self._waiters.pop(key, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, key: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds for `key`; True if it was notified."""
        if timeout <= 0:
            return False
        future = asyncio.get_running_loop().create_future()
        self._waiters[key].add(future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del self._waiters[key]

    def waiting(self, key: str) -> int:
        return len(self._waiters.get(key, ()))
