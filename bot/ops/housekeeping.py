"""Housekeeping while the bot runs: what is kept only for a while is dropped on time.

Today that is the inbox's finished updates, and the records of updates set aside because they
could not be read. The finished updates' ids guard against Telegram delivering an update twice,
which it does only within a day; a bot that runs for weeks would otherwise keep one row per
update it ever handled. The set-aside records are for operators (`dialogbot inbox`) and are kept
`privacy.set_aside_days` (30 by default). Done at start and then every hour, by every instance
(the deletes are idempotent; concurrent ones skip each other's rows).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain.clock import Clock
from bot.telegram.periodic import Periodic
from storage.inbox import Inbox
from storage.set_aside import SetAside

log = logging.getLogger(__name__)

KEEP_HANDLED_UPDATES = timedelta(days=1)
KEEP_SET_ASIDE = timedelta(days=30)
EVERY = timedelta(hours=1)
AFTER_FAILURE = timedelta(minutes=5)


class Housekeeping:
    def __init__(
        self,
        inbox: Inbox,
        clock: Clock,
        *,
        every: timedelta = EVERY,
        after_failure: timedelta = AFTER_FAILURE,
        set_aside: SetAside | None = None,
        keep_set_aside: timedelta = KEEP_SET_ASIDE,
    ) -> None:
        self._inbox = inbox
        self._set_aside = set_aside
        self._keep_set_aside = keep_set_aside
        self._clock = clock
        self._every = every
        self._loop = Periodic(
            "housekeeping", self._step, after_failure=after_failure.total_seconds(), min_pause=0
        )

    @property
    def running(self) -> bool:
        return self._loop.running

    async def run_once(self) -> int:
        """Forget the finished updates older than a day, and the set-aside records older than
        their time; returns how many finished updates."""
        now = self._clock()
        forgotten = await self._inbox.forget_older_than(KEEP_HANDLED_UPDATES, now=now)
        if forgotten:
            log.info("forgot %d handled updates older than a day", forgotten)
        if self._set_aside is not None:
            dropped = await self._set_aside.forget_older_than(self._keep_set_aside, now=now)
            if dropped:
                log.info("forgot %d records of set-aside updates", dropped)
        return forgotten

    def start(self) -> None:
        """The next round after `every` (the first one is `run_once` at start)."""
        self._loop.start(first_pause=self._every.total_seconds())

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self) -> float:
        await self.run_once()
        return self._every.total_seconds()
