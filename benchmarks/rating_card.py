"""The rating-card press at 2,000,000 ratings: how long `next_card` takes (SQLite).

A consultation of 200,000 participants and 20,000 impulses (benchmarks/generate.py), each
participant having rated ten published impulses: 2,000,000 ratings. The kept per-impulse counts
are filled as migration 0009 fills them; then the real repository picks the next card for 200
participants, and, for comparison, the query that counted every rating picks it once.

    .venv/bin/python benchmarks/rating_card.py [--ratings-per-participant 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate
from sqlalchemy import exists, func, or_, select

from storage.db import Database
from storage.models import Impulse, ImpulseReport, Participant, Rating
from storage.ratings import SqlRatingRepository

PARTICIPANTS, IMPULSES = 200_000, 20_000


def old_next_card(me: int):  # type: ignore[no-untyped-def]
    """The statement before the counts were kept: counts every rating on every press."""
    counts = (
        select(Rating.impulse_id, func.count().label("n"))
        .join(Participant, Participant.id == Rating.participant_id)
        .where(Participant.status == "active")
        .group_by(Rating.impulse_id)
        .subquery()
    )
    seen = exists().where(Rating.participant_id == me, Rating.impulse_id == Impulse.id)
    reported = exists().where(
        ImpulseReport.participant_id == me, ImpulseReport.impulse_id == Impulse.id
    )
    return (
        select(Impulse.id)
        .outerjoin(counts, counts.c.impulse_id == Impulse.id)
        .where(
            Impulse.status == "approved",
            or_(Impulse.participant_id.is_(None), Impulse.participant_id != me),
            ~seen,
            ~reported,
        )
        .order_by(func.coalesce(counts.c.n, 0), Impulse.id)
        .limit(1)
    )


def fill_ratings(path: str, per_participant: int) -> int:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    published = [
        r[0] for r in connection.execute("SELECT id FROM impulses WHERE status='approved'")
    ]
    rng = random.Random(5)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection.execute("BEGIN")
    total = 0
    for start in range(1, PARTICIPANTS + 1, 10_000):
        rows = [
            (pid, iid, rng.choice((-1, 0, 1)), now)
            for pid in range(start, min(start + 10_000, PARTICIPANTS + 1))
            for iid in sorted(rng.sample(published, per_participant))
        ]
        connection.executemany(
            "INSERT INTO ratings (participant_id, impulse_id, value, rated_at) VALUES (?,?,?,?)",
            rows,
        )
        total += len(rows)
    connection.execute("COMMIT")
    # What migration 0009 does for an existing database.
    from importlib import import_module

    backfill = import_module("storage.migrations.versions.0009_rating_counts").BACKFILL
    connection.execute(backfill)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return total


async def bench(per_participant: int, presses: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/ratings.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await generate(url, PARTICIPANTS, IMPULSES, blocked_every=1000)
        started = time.monotonic()
        ratings = await asyncio.to_thread(fill_ratings, path, per_participant)
        fill_s = time.monotonic() - started
        database = Database(url)
        try:
            repository = SqlRatingRepository(database)
            rng = random.Random(9)
            await repository.next_card("warm-up: opens the connections")
            timings = []
            for _ in range(presses):
                pid = rng.randint(1, PARTICIPANTS)
                pseudonym = hashlib.blake2b(pid.to_bytes(8, "big"), digest_size=16).hexdigest()
                started = time.perf_counter()
                await repository.next_card(pseudonym)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            async with database.reading() as session:
                started = time.perf_counter()
                await session.execute(old_next_card(1))
                old_ms = (time.perf_counter() - started) * 1000
        finally:
            await database.dispose()
    return {
        "ratings": ratings,
        "participants": PARTICIPANTS,
        "impulses": IMPULSES,
        "fill_s": round(fill_s, 1),
        "press_median_ms": round(statistics.median(timings), 3),
        "press_p95_ms": round(timings[int(0.95 * len(timings)) - 1], 3),
        "press_max_ms": round(timings[-1], 3),
        "old_count_every_rating_ms": round(old_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings-per-participant", type=int, default=10)
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    result = asyncio.run(bench(args.ratings_per_participant, args.presses))
    print(json.dumps({"rating_card_sqlite": result}, indent=2))


if __name__ == "__main__":
    main()
