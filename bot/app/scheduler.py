"""The digest scheduler: a background task next to polling.

All decisions happen in `tick(now)`, which the loop calls with the injected clock's time and
tests call directly with any time they like. Between ticks the loop sleeps until the next fire
time or retry, but at most `max_sleep`, so a digest another process left behind, or one a
moderator's "post now" could not deliver, is picked up soon as well.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.clock import Clock
from bot.domain.digests import DigestService
from bot.telegram.periodic import Periodic

MAX_SLEEP = timedelta(seconds=60)
AFTER_FAILURE = timedelta(seconds=30)  # a database hiccup must not end the digests for good


class DigestScheduler:
    def __init__(
        self,
        service: DigestService,
        clock: Clock,
        *,
        max_sleep: timedelta = MAX_SLEEP,
        after_failure: timedelta = AFTER_FAILURE,
    ) -> None:
        self._service = service
        self._clock = clock
        self._max_sleep = max_sleep
        # At least a second between ticks: never a busy loop, whatever the clock says.
        self._loop = Periodic(
            "digest-scheduler", self._step, after_failure=after_failure.total_seconds()
        )

    async def tick(self, now: datetime) -> datetime:
        """Post what is due at `now` (catching up once after downtime); returns when to wake."""
        await self._service.run_due(now)
        candidates = [self._service.schedule.next_fire(now), now + self._max_sleep]
        retry = await self._service.next_attempt(now)
        if retry is not None:
            candidates.append(max(retry, now))
        return min(candidates)

    def start(self) -> None:
        if self._service.has_channel:
            self._loop.start()

    async def stop(self) -> None:
        """Let a digest being sent finish, then stop."""
        await self._loop.stop()

    async def _step(self) -> float:
        wake = await self.tick(self._clock())
        return (wake - self._clock()).total_seconds()
