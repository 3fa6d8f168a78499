"""The digest scheduler: a background task next to polling.

All decisions happen in `tick(now)`, which the loop calls with the injected clock's time and
tests call directly with any time they like. Between ticks the loop sleeps until the next fire
time or retry, but at most `max_sleep`, so a digest another process left behind, or one a
moderator's "post now" could not deliver, is picked up soon as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.digests import DigestService

log = logging.getLogger(__name__)

MAX_SLEEP = timedelta(seconds=60)
AFTER_FAILURE = timedelta(seconds=30)
MIN_SLEEP = 1.0


class DigestScheduler:
    def __init__(
        self, service: DigestService, clock: Clock, *, max_sleep: timedelta = MAX_SLEEP
    ) -> None:
        self._service = service
        self._clock = clock
        self._max_sleep = max_sleep
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self, now: datetime) -> datetime:
        """Post what is due at `now` (catching up once after downtime); returns when to wake."""
        await self._service.run_due(now)
        candidates = [self._service.schedule.next_fire(now), now + self._max_sleep]
        retry = await self._service.next_attempt(now)
        if retry is not None:
            candidates.append(max(retry, now))
        return min(candidates)

    def start(self) -> None:
        if self._task is None and self._service.has_channel:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="digest-scheduler")

    async def stop(self) -> None:
        """Let a digest being sent finish, then stop."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            try:
                wake = await self.tick(now)
            except Exception:
                # A database hiccup must not end the digests for good.
                log.exception("digest scheduler tick failed")
                wake = now + AFTER_FAILURE
            await self._sleep((wake - self._clock()).total_seconds())

    async def _sleep(self, seconds: float) -> None:
        # At least a second: never a busy loop, whatever the clock says.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, MIN_SLEEP))
