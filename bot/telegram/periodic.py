"""A background task next to polling or the webhook: one step, a pause, the next step.

The step says how long to pause; a step that fails is logged and tried again after
`after_failure`, so a database hiccup does not end the task for good. While the database is
unreachable (storage/outage.py) that is one line when the outage begins and one when it ends,
not a traceback per try. `stop` lets a step in
progress finish (a digest being sent, a batch of deletes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from storage.outage import Outage, is_unreachable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[float]],
        *,
        after_failure: float,
        min_pause: float = 1.0,
    ) -> None:
        self.name = name
        self._step = step
        self._after_failure = after_failure
        self._min_pause = min_pause
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._database = Outage(name, log)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, *, first_pause: float = 0.0) -> None:
        if self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(first_pause), name=self.name)

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def _run(self, first_pause: float) -> None:
        if first_pause > 0 and await pause(self._stop, first_pause):
            return
        while not self._stop.is_set():
            try:
                seconds = await self._step()
            except Exception as exc:
                if is_unreachable(exc):
                    self._database.failed(exc)
                else:
                    log.exception("%s failed", self.name)
                seconds = self._after_failure
            else:
                self._database.answered()
            if await pause(self._stop, max(seconds, self._min_pause)):
                return


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set meanwhile; True if it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
