"""In-process wake-ups for long-polls: chat rooms and activity feeds wait on keys."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any


class Notifier:
    """Long-polling requests wait on a key ("room:3", "space:7"); a commit notifies it.

    Waiters re-read the database when woken, so a missed or early wake-up only costs
    one extra query, never a lost message.
    """

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future]] = defaultdict(set)
        # Per key: how many times it was notified, and the answers read since the last time.
        self._wakes: defaultdict[str, int] = defaultdict(int)
        self._answers: dict[str, tuple[int, dict[Hashable, Any]]] = {}

    def notify(self, key: str) -> None:
        self._wakes[key] += 1
        self._answers.pop(key, None)
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

    def shared(self, key: str, question: Hashable, read: Callable[[], Any]) -> Any:
        """`read()`'s answer to `question`, read once since `key` was last notified.

        For waiters that one notification woke together (every listener of a chat room):
        they ask the same question of the same new state, so the first reads and the
        others take its answer. Only for waiters a notification woke: what changes without
        one (a timeout, a first read) must be read afresh.
        """
        wakes = self._wakes[key]
        seen, answers = self._answers.get(key, (None, {}))
        if seen != wakes:
            answers = {}
            self._answers[key] = (wakes, answers)
        if question not in answers:
            answers[question] = read()
        return answers[question]

    def waiting(self, key: str) -> int:
        return len(self._waiters.get(key, ()))
