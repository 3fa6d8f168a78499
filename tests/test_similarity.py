"""Similar-idea hints: the index itself and how lookups keep it fresh (bot/domain/similarity.py,
bot/domain/similarity_index.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.domain.similarity import IndexedImpulse, SimilarImpulses
from bot.domain.similarity_index import SimilarityIndex

BUSES = "Mehr Nachtbusse zwischen Essen und Bochum am Wochenende"


def test_a_paraphrase_is_found_and_an_unrelated_idea_is_not() -> None:
    index = SimilarityIndex()
    index.add(
        [
            IndexedImpulse(1, "mobility", BUSES),
            IndexedImpulse(2, "education", "Kostenlose Kitaplätze für alle Kinder im Revier"),
        ]
    )
    found = index.query("Nachtbusverbindungen Essen Bochum am Wochenende ausbauen")
    assert [f.impulse_id for f in found] == [1]
    index.deactivate([1])
    assert index.query("Nachtbusverbindungen Essen Bochum am Wochenende ausbauen") == []


class SlowSource:
    """Published impulses as a database would hand them out, one slow query at a time."""

    def __init__(self) -> None:
        self.published: list[tuple[IndexedImpulse, datetime]] = []
        self.queries = 0
        self.release = asyncio.Event()

    async def published_since(
        self, mark: datetime | None
    ) -> tuple[list[IndexedImpulse], list[int], datetime | None]:
        self.queries += 1
        await self.release.wait()
        rows = [(i, at) for i, at in self.published if mark is None or at >= mark]
        return [i for i, _ in rows], [], max((at for _, at in rows), default=mark)


async def test_lookups_arriving_together_share_their_refreshes() -> None:
    source = SlowSource()
    similar = SimilarImpulses(source)
    lookups = [asyncio.create_task(similar.similar(BUSES)) for _ in range(20)]
    await asyncio.sleep(0)
    source.release.set()
    await asyncio.gather(*lookups)
    # The first lookup's refresh, then one for all that asked while it ran.
    assert source.queries == 2


async def test_an_impulse_published_before_a_lookup_asked_is_always_found() -> None:
    source = SlowSource()
    similar = SimilarImpulses(source)
    start = datetime(2026, 11, 27, tzinfo=UTC)
    first = asyncio.create_task(similar.similar(BUSES))  # its refresh is under way ...
    await asyncio.sleep(0)
    source.published.append((IndexedImpulse(7, "mobility", BUSES), start + timedelta(seconds=1)))
    second = asyncio.create_task(similar.similar(BUSES))  # ... when this one asks
    await asyncio.sleep(0)
    source.release.set()
    await first
    assert [f.impulse_id for f in await second] == [7]
