"""The rating-card press at 2,000,000 ratings: how long `next_card` takes (SQLite, PostgreSQL).

A consultation of 200,000 participants and 20,000 impulses (benchmarks/generate.py), each
participant having rated ten published impulses: 2,000,000 ratings. The kept per-impulse counts
are filled as migration 0009 fills them; then the real repository picks the next card for 200
participants, and, for comparison, the query that counted every rating picks it once. The same
on PostgreSQL (a database of its own on the server of `--postgres`, dropped afterwards), with
the query plans of both.

    .venv/bin/python benchmarks/rating_card.py [--database both] [--ratings-per-participant 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate
from load import drop_postgres, fresh_postgres, postgres_reachable
from sqlalchemy import exists, func, insert, literal, or_, select, text
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.models import Impulse, ImpulseReport, Participant, Rating
from storage.ratings import NEXT_CARD, SqlRatingRepository

PARTICIPANTS, IMPULSES = 200_000, 20_000
# What migration 0009 does for an existing database.
BACKFILL = import_module("storage.migrations.versions.0009_rating_counts").BACKFILL


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


def rating_rows(published: list[int], per_participant: int) -> Iterator[list[tuple[Any, ...]]]:
    """Each participant rates `per_participant` published impulses, in chunks of 10,000
    participants: the same rows on both databases."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    for start in range(1, PARTICIPANTS + 1, 10_000):
        yield [
            (pid, iid, rng.choice((-1, 0, 1)), now)
            for pid in range(start, min(start + 10_000, PARTICIPANTS + 1))
            for iid in sorted(rng.sample(published, per_participant))
        ]


def fill_sqlite_ratings(path: str, per_participant: int) -> int:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    published = [
        r[0] for r in connection.execute("SELECT id FROM impulses WHERE status='approved'")
    ]
    connection.execute("BEGIN")
    total = 0
    for rows in rating_rows(published, per_participant):
        connection.executemany(
            "INSERT INTO ratings (participant_id, impulse_id, value, rated_at) VALUES (?,?,?,?)",
            [(p, i, v, at.strftime("%Y-%m-%d %H:%M:%S.%f")) for p, i, v, at in rows],
        )
        total += len(rows)
    connection.execute("COMMIT")
    connection.execute(BACKFILL)  # what migration 0009 does for an existing database
    # No ANALYZE: a live bot never runs it (benchmarks/generate.py).
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return total


async def fill_postgres_ratings(url: str, per_participant: int) -> int:
    import asyncpg  # type: ignore[import-untyped]

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        published = [
            r[0] for r in await connection.fetch("SELECT id FROM impulses WHERE status='approved'")
        ]
        total = 0
        for rows in rating_rows(published, per_participant):
            await connection.copy_records_to_table(
                "ratings",
                records=rows,
                columns=("participant_id", "impulse_id", "value", "rated_at"),
            )
            total += len(rows)
        # Statistics first, as autovacuum would have them: without any the backfill's plan
        # scans every participant once per impulse.
        await connection.execute("ANALYZE")
        await connection.execute(BACKFILL)
        # What PostgreSQL's autovacuum does on its own after a load like this one.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return total


async def presses(url: str, count: int) -> dict[str, float | int | str]:
    """`count` presses by random participants after one warm-up press, and the old query once."""
    database = Database(url)
    try:
        repository = SqlRatingRepository(database)
        rng = random.Random(9)
        await repository.next_card("warm-up: opens the connections")
        timings, before = [], []
        for n in range(count):
            pid = rng.randint(1, PARTICIPANTS)
            pseudonym = hashlib.blake2b(pid.to_bytes(8, "big"), digest_size=16).hexdigest()
            # Each press also the way it was done before (two statements), in turns first.
            for way in (0, 1) if n % 2 else (1, 0):
                started = time.perf_counter()
                if way:
                    await repository.next_card(pseudonym)
                else:
                    await two_statements(database, pseudonym)
                (timings if way else before).append((time.perf_counter() - started) * 1000)
        timings.sort()
        before.sort()
        heavy = await heavy_rater(database, repository)
        async with database.reading() as session:
            plan = await explain(session, database.is_sqlite)
            started = time.perf_counter()
            await session.execute(old_next_card(1))
            old_ms = (time.perf_counter() - started) * 1000
    finally:
        await database.dispose()
    return {
        "press_median_ms": round(statistics.median(timings), 3),
        "press_p95_ms": round(timings[int(0.95 * len(timings)) - 1], 3),
        "press_max_ms": round(timings[-1], 3),
        "two_statements_median_ms": round(statistics.median(before), 3),
        "two_statements_p95_ms": round(before[int(0.95 * len(before)) - 1], 3),
        "two_statements_max_ms": round(before[-1], 3),
        "old_count_every_rating_ms": round(old_ms, 1),
        **heavy,
        "plan": plan,
    }


async def two_statements(database: Database, pseudonym: str) -> None:
    """The press as it was before: the person's id first, then the card for that id."""
    async with database.reading() as session:
        me = await session.scalar(
            select(Participant.id).where(
                Participant.pseudonym == pseudonym, Participant.status == "active"
            )
        )
        if me is not None:
            (await session.execute(NEXT_CARD, {"me": me})).one_or_none()


HEAVY = 2  # an active participant (generate.py blocks every 1000th)


async def heavy_rater(database: Database, repository: SqlRatingRepository) -> dict[str, float]:
    """A person who rated every published impulse but the last in card order: the index walk
    passes all the others (one primary-key probe each) before it finds the card."""
    last = (
        select(Impulse.id)
        .where(Impulse.status == "approved")
        .order_by(Impulse.rating_count.desc(), Impulse.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rated = insert(Rating).from_select(
        ["participant_id", "impulse_id", "value", "rated_at"],
        select(literal(HEAVY), Impulse.id, literal(1), func.current_timestamp()).where(
            Impulse.status == "approved",
            Impulse.id != last,
            or_(Impulse.participant_id.is_(None), Impulse.participant_id != HEAVY),
            ~exists().where(Rating.participant_id == HEAVY, Rating.impulse_id == Impulse.id),
        ),
    )
    async with database.transaction() as session:
        await session.execute(rated)
    pseudonym = hashlib.blake2b(HEAVY.to_bytes(8, "big"), digest_size=16).hexdigest()
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        card = await repository.next_card(pseudonym)
        timings.append((time.perf_counter() - started) * 1000)
        assert card is not None
    timings.sort()
    return {
        "heavy_rater_median_ms": round(statistics.median(timings), 3),
        "heavy_rater_max_ms": round(timings[-1], 3),
    }


async def explain(session: Any, sqlite: bool) -> str:
    """The next card's query plan, for participant 1."""
    dialect = session.bind.dialect
    sql = str(
        NEXT_CARD.params(me=1).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )
    if sqlite:
        rows = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        return " | ".join(str(r[-1]) for r in rows)
    rows = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
    return " | ".join(str(r[0]).strip() for r in rows)


async def bench_sqlite(per_participant: int, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/ratings.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await generate(url, PARTICIPANTS, IMPULSES, blocked_every=1000)
        started = time.monotonic()
        ratings = await asyncio.to_thread(fill_sqlite_ratings, path, per_participant)
        fill_s = time.monotonic() - started
        figures = await presses(url, count)
    return {"ratings": ratings, "fill_s": round(fill_s, 1), **figures}


async def bench_postgres(admin_url: str, per_participant: int, count: int) -> dict[str, Any]:
    name = f"dialogbot_rating_card_{uuid.uuid4().hex[:8]}"
    url = await fresh_postgres(admin_url, name)
    try:
        await generate(url, PARTICIPANTS, IMPULSES, blocked_every=1000)
        started = time.monotonic()
        ratings = await fill_postgres_ratings(url, per_participant)
        fill_s = time.monotonic() - started
        figures = await presses(url, count)
    finally:
        await drop_postgres(admin_url, name)
    return {"ratings": ratings, "fill_s": round(fill_s, 1), **figures}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {"participants": PARTICIPANTS, "impulses": IMPULSES}
    if args.database in ("sqlite", "both"):
        summary["sqlite"] = await bench_sqlite(args.ratings_per_participant, args.presses)
    if args.database in ("postgresql", "both"):
        if await postgres_reachable(args.postgres):
            summary["postgresql"] = await bench_postgres(
                args.postgres, args.ratings_per_participant, args.presses
            )
        else:
            summary["postgresql"] = f"skipped: no PostgreSQL at {args.postgres}"
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings-per-participant", type=int, default=10)
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DIALOGBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1/test"),
        help="admin URL of the PostgreSQL server (a database of its own is created and dropped)",
    )
    args = parser.parse_args()
    print(json.dumps({"rating_card": asyncio.run(bench(args))}, indent=2))


if __name__ == "__main__":
    main()
