"""The opinion groups, computed in the background and cached (docs/ratings.md).

Callers never wait: `latest()` returns the cached result at once (None while none exists) and,
when it is older than the refresh interval, starts one refresh in the background. The
computation itself (PCA and k-means) runs in a worker thread, so the event loop stays free;
numpy, scipy and scikit-learn are imported there with the first one (bot/domain/lazy.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.domain.clock import Clock
from bot.domain.consensus import ConsensusView, OpinionGroups, RatingMatrix
from bot.domain.lazy import importing

log = logging.getLogger(__name__)


class ConsensusSource(Protocol):
    async def rating_matrix(self) -> RatingMatrix | None:
        """None: too few citizens rated enough to form groups."""
        ...

    async def impulses(self, ids: list[int]) -> dict[int, tuple[str, str]]: ...


class ConsensusCache:
    def __init__(self, source: ConsensusSource, clock: Clock, *, refresh_minutes: int) -> None:
        self._source = source
        self._clock = clock
        self._interval = timedelta(minutes=refresh_minutes)
        self._latest: ConsensusView | None = None
        self._computed_at: datetime | None = None  # also when there were too few ratings
        self._task: asyncio.Task[ConsensusView | None] | None = None

    @property
    def computed(self) -> bool:
        """A computation has finished (its result may be None: too few ratings)."""
        return self._computed_at is not None

    def latest(self) -> ConsensusView | None:
        """The cached result, immediately; starts a refresh when it is due."""
        if self._due() and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh(), name="consensus-refresh")
        return self._latest

    def outdated(self) -> None:
        """Who counts has changed (a wave set aside or restored): compute at the next look."""
        if self._computed_at is not None:
            self._computed_at = datetime.min.replace(tzinfo=UTC)

    async def refresh(self) -> ConsensusView | None:
        """Compute now (or join the refresh already running) and return the new result."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh(), name="consensus-refresh")
        return await asyncio.shield(self._task)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _due(self) -> bool:
        return self._computed_at is None or self._clock() - self._computed_at >= self._interval

    async def _refresh(self) -> ConsensusView | None:
        started = self._clock()
        try:
            matrix = await self._source.rating_matrix()
            groups = None if matrix is None else await asyncio.to_thread(_opinion_groups, matrix)
            view = None
            if groups is not None:
                ids = [s.impulse_id for s in (*groups.consensus, *groups.divisive)]
                texts = await self._source.impulses(ids)
                view = ConsensusView.of(groups, texts, started)
        except Exception:
            log.exception("opinion groups could not be computed; trying again later")
            self._computed_at = started
            return self._latest
        self._latest, self._computed_at = view, started
        return view


def _opinion_groups(matrix: RatingMatrix) -> OpinionGroups | None:
    """In a worker thread. numpy, scipy and scikit-learn (about 100 MB, a second to import) load
    here with the first computation, not at start."""
    with importing():
        from bot.domain.opinion_groups import opinion_groups

    return opinion_groups(matrix)
