"""A value read from the database at most every `ttl` seconds, by one reader at a time.

The block list, the unreachable people and the phase are cached like this. When such a cache
expired under load, every update in flight started its own read: a hundred reads at once,
queued for the few reader connections, held replies up for seconds every `ttl` seconds
(benchmarks/README.md). Now one caller reads; the others keep using the previous value until
the new one is there (only without any value yet do they wait for it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Refreshing(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]], ttl: float) -> None:
        self._read = read
        self._ttl = ttl
        self._value: T | None = None
        self._has_value = False
        self._read_at = 0.0
        self._reading: asyncio.Future[T] | None = None
        self._generation = 0  # a read started before `forget` must not count

    async def get(self) -> T:
        expired = time.monotonic() - self._read_at > self._ttl
        if not self._has_value or expired:
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._refresh())
            if not self._has_value:
                return await asyncio.shield(self._reading)
        return self._value  # type: ignore[return-value]

    def forget(self) -> None:
        """Read again on next use, and wait for it (after this process changed the value)."""
        self._has_value = False
        self._read_at = 0.0
        self._generation += 1
        self._reading = None

    async def _refresh(self) -> T:
        generation = self._generation
        try:
            value = await self._read()
        finally:
            if generation == self._generation:
                self._reading = None
        if generation == self._generation:
            self._value, self._has_value, self._read_at = value, True, time.monotonic()
        return value
