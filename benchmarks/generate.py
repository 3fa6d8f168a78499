"""A synthetic consultation for the query benchmarks: N participants with three votes each and a
number of impulses, written with bulk inserts (SQLite: one transaction of executemany; PostgreSQL:
COPY). The schema comes from the migrations, as in production.

    python benchmarks/generate.py sqlite+aiosqlite:////tmp/big.sqlite3 --participants 1000000
    python benchmarks/generate.py postgresql+asyncpg://postgres@127.0.0.1/big
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app.config import load_settings  # noqa: E402
from storage import tallies  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

CONFIG = ROOT / "config.example.toml"
# Rough popularity, as in the demo: a few topics lead, the rest share the remainder.
WEIGHTS = {"bildung": 38, "mobilitaet": 32, "lehrkraefte": 28, "gesundheit": 18, "gruen": 16}
SOURCES = ["flyer_essen", "flyer_dortmund", "qr_hbf_bochum", "instagram", None]
DAYS = 60  # the consultation so far
BATCH = 50_000


def topic_ids() -> list[str]:
    return list(load_settings(CONFIG, env={"DIALOGBOT_SECRET": "x" * 16}).consultation.topic_ids)


def participants(count: int, blocked_every: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(1)
    for pid in range(1, count + 1):
        consented = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        voted = consented + timedelta(seconds=rng.uniform(30, 600))
        status = "blocked" if blocked_every and pid % blocked_every == 0 else "active"
        pseudonym = hashlib.blake2b(pid.to_bytes(8, "big"), digest_size=16).hexdigest()
        yield (pid, pseudonym, rng.choice(SOURCES), "de", consented, voted, status)


def votes(count: int, topics: list[str]) -> Iterator[tuple[int, str]]:
    rng = random.Random(2)
    weights = [WEIGHTS.get(t, 6) for t in topics]
    for pid in range(1, count + 1):
        chosen: set[str] = set()
        while len(chosen) < 3:
            chosen.add(rng.choices(topics, weights)[0])
        for topic in sorted(chosen):
            yield (pid, topic)


def impulses(
    count: int, participants_count: int, topics: list[str], now: datetime
) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(3)
    for iid in range(1, count + 1):
        created = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        roll = rng.random()
        status = "approved" if roll < 0.6 else "rejected" if roll < 0.7 else "pending"
        decided = created + timedelta(hours=rng.uniform(0.1, 12)) if status != "pending" else None
        pid = rng.randint(1, participants_count)
        text = f"Idee {iid}: mehr Grün, bessere Busse und sichere Radwege im Quartier."
        yield (iid, pid, rng.choice(topics), text, status, None, f"d{iid}", created, decided)


PARTICIPANT_COLUMNS = ("id", "pseudonym", "source", "locale", "consented_at", "voted_at", "status")
VOTE_COLUMNS = ("participant_id", "topic_id")
IMPULSE_COLUMNS = (
    "id",
    "participant_id",
    "topic_id",
    "text",
    "status",
    "source",
    "draft_key",
    "created_at",
    "decided_at",
)


def _sqlite_value(value: Any) -> Any:
    # The text form SQLAlchemy's SQLite DateTime writes and reads.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill_sqlite(path: str, tables: list[tuple[str, tuple[str, ...], Iterator[Any]]]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-200000")
    connection.execute("BEGIN")
    for table, columns, rows in tables:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for chunk in _chunks(rows):
            connection.executemany(sql, [tuple(_sqlite_value(v) for v in row) for row in chunk])
    connection.execute("COMMIT")
    # No ANALYZE: a live bot never runs it, so its SQLite plans without statistics, and so must
    # the benchmark (with them it once hid a scan of every vote behind the standings).
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


async def fill_postgres(url: str, tables: list[tuple[str, tuple[str, ...], Iterator[Any]]]) -> None:
    import asyncpg  # type: ignore[import-untyped]

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        for table, columns, rows in tables:
            for chunk in _chunks(rows):
                await connection.copy_records_to_table(table, records=chunk, columns=columns)
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('participants', 'id'), "
            "(SELECT max(id) FROM participants))"
        )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('impulses', 'id'), "
            "(SELECT coalesce(max(id), 1) FROM impulses))"
        )
        # What PostgreSQL's autovacuum does on its own after a load like this one.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def generate(url: str, count: int, impulse_count: int, blocked_every: int) -> float:
    """Create the schema and fill it; returns the seconds it took."""
    started = time.monotonic()
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()
    now = datetime.now(UTC)
    topics = topic_ids()
    tables: list[tuple[str, tuple[str, ...], Iterator[Any]]] = [
        ("participants", PARTICIPANT_COLUMNS, participants(count, blocked_every, now)),
        ("votes", VOTE_COLUMNS, votes(count, topics)),
        ("impulses", IMPULSE_COLUMNS, impulses(impulse_count, count, topics, now)),
    ]
    # Bulk loads go around the tally triggers; the tallies are counted once afterwards.
    await _on_schema(url, tallies.drop_triggers)
    if database.is_sqlite:
        path = make_url(url).database
        assert path
        await asyncio.to_thread(fill_sqlite, path, tables)
    else:
        await fill_postgres(url, tables)
    await _on_schema(url, tallies.rebuild)
    await _on_schema(url, tallies.create_triggers)
    return time.monotonic() - started


async def _on_schema(url: str, work: Callable[[Connection], None]) -> None:
    database = Database(url)
    try:
        await database.run_write(work)
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="SQLAlchemy URL of an empty database")
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--impulses", type=int, default=100_000)
    parser.add_argument(
        "--blocked-every", type=int, default=1000, help="every Nth participant is blocked"
    )
    args = parser.parse_args()
    seconds = asyncio.run(generate(args.url, args.participants, args.impulses, args.blocked_every))
    print(f"generated {args.participants} participants in {seconds:.1f} s")


if __name__ == "__main__":
    main()
