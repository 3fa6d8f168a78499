"""Which published impulses say nearly the same: character n-gram TF-IDF and cosine similarity.

Character n-grams (3 to 5, within words) match German compounds ("Nachtbusverbindungen" and
"Nachtbusse"), inflections and other languages without a dictionary. Features are hashed, so
nothing has to be refitted when a new impulse brings new words: a new impulse is one more
sparse row. The IDF weights are recomputed (cheap, O(non-zeros)) when the index has grown by a
tenth since the last time; until then new rows are weighted with the previous IDF.

The index (bot/domain/similarity_index.py) needs numpy, scipy and scikit-learn; it is built
with the first published impulse, so a bot without any does not load them (bot/domain/lazy.py).

No aiogram, no SQL: `SimilarImpulses` loads from a `SimilaritySource`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.domain.lazy import preload

if TYPE_CHECKING:
    from bot.domain.similarity_index import SimilarityIndex

# Tuned on the examples in tests/test_similarity.py: paraphrases in German and Turkish score
# 0.3 to 0.8, different ideas 0.05 to 0.25 (benchmarks/ratings_bench.py has the examples).
THRESHOLD = 0.28
MAX_HINTS = 3
# A lookup reads at most this much of a text: an impulse is at most 1000 characters.
MAX_QUERY_CHARS = 4096


@dataclass(frozen=True)
class SimilarImpulse:
    impulse_id: int
    topic_id: str
    text: str
    score: float


@dataclass(frozen=True)
class IndexedImpulse:
    impulse_id: int
    topic_id: str
    text: str


class SimilaritySource(Protocol):
    async def published_since(
        self, mark: datetime | None
    ) -> tuple[list[IndexedImpulse], list[int], datetime | None]:
        """Impulses published after `mark`, impulses no longer published (since `mark`), and the
        new mark."""
        ...


class SimilarImpulses:
    """The index kept up to date: each lookup first takes in what changed since it was asked
    for (one indexed query), so a freshly approved impulse is suggested at once.

    Lookups arriving together share refreshes: a lookup waits for one refresh that *started*
    after it asked, and runs one itself only if nobody else did. Under load that is at most two
    queries per wave of lookups instead of one per lookup, queued behind each other.
    """

    def __init__(self, source: SimilaritySource) -> None:
        self._source = source
        self._index: SimilarityIndex | None = None  # with the first published impulse
        self._mark: datetime | None = None
        self._lock = asyncio.Lock()
        self._refreshes_started = 0

    async def refresh(self) -> None:
        asked = self._refreshes_started
        async with self._lock:
            if self._refreshes_started > asked:
                return  # one that began after we asked has just finished: it saw our changes
            self._refreshes_started += 1
            added, gone, mark = await self._source.published_since(self._mark)
            if added and self._index is None:
                # numpy, scipy and scikit-learn: about 80 MB and a second to import, so only
                # now and in a worker thread (bot/domain/lazy.py).
                await preload("bot.domain.similarity_index")
                from bot.domain.similarity_index import SimilarityIndex

                self._index = SimilarityIndex()
            if self._index is not None:
                if len(added) > 1000:
                    await asyncio.to_thread(self._index.add, added)
                elif added:
                    self._index.add(added)
                self._index.reactivate(i.impulse_id for i in added)
                self._index.deactivate(gone)
            self._mark = mark

    async def similar(
        self, text: str, *, exclude: Iterable[int] = (), limit: int = MAX_HINTS
    ) -> list[SimilarImpulse]:
        await self.refresh()
        if self._index is None:
            return []  # nothing published yet
        excluded = set(exclude)
        index = self._index
        # A lookup reads a bounded part of the index (SimilarityIndex.query), in a worker thread
        # so the event loop answers everybody else meanwhile; the lock keeps refreshes from
        # changing the index while it is read.
        async with self._lock:
            found = await asyncio.to_thread(
                index.query, text[:MAX_QUERY_CHARS], limit=limit + len(excluded)
            )
        return [f for f in found if f.impulse_id not in excluded][:limit]
