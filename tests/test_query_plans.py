"""The reads that run on every submission or every few seconds find their rows through an
index, on a SQLite database without planner statistics (a live bot never runs ANALYZE): none of
them scans a table that grows with the number of participants."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.dialects import sqlite

from storage import ratings, repository
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Participant
from storage.ratings import NEXT_CARD
from storage.reachability import UNREACHABLE
from storage.settings import BLOCKED
from storage.waves import arrivals_by_hour, arrivals_by_source, in_window, shift_rating_counts

SINCE, HOUR = datetime(2026, 5, 17, 11, tzinfo=UTC), timedelta(hours=1)
GROWING = (
    "participants",
    "votes",
    "reply_addresses",
    "impulses",
    "inbox",
    "ratings",
    "impulse_reports",
)
# Partial indexes hold only the few rows such a read wants: scanning one is the point.
PARTIAL = ("ix_participants_not_active", "ix_reply_addresses_unreachable")
STATEMENTS = {
    "standings: votes of participants not active, per topic": repository._NOT_ACTIVE_BY_TOPIC,
    "standings: participants not active who voted": repository._NOT_ACTIVE_VOTERS,
    "block list": BLOCKED,
    "people who blocked the bot": UNREACHABLE,
    # Walks the published impulses in the order of their kept rating counts; counting every
    # rating instead took 0.3 s at 100,000 ratings.
    "next rating card": NEXT_CARD.params(me=1),
    # Waves of new accounts (storage/waves.py): /stats reads the last 24 hours only; setting a
    # wave aside finds its window, restoring it finds its members.
    "new participants by hour": arrivals_by_hour(True, SINCE),
    "new participants by source": arrivals_by_source(SINCE, 8),
    "a wave's window": select(func.count()).where(in_window("flyer", SINCE, SINCE + HOUR)),
    "a wave's rating counts": shift_rating_counts(1, "active", -1),
    "a wave's members": update(Participant).where(Participant.wave_id == 1).values(wave_id=None),
    # "Idee 3 von 12" on every card: the published ideas, and the person's own ratings and
    # reports by the primary keys that begin with the person.
    "rating card progress: published ideas": ratings._PUBLISHED,
    "rating card progress: the person's own ideas, ratings and reports": ratings._PROGRESS.params(
        me=1
    ),
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    import asyncio

    path = tmp_path_factory.mktemp("plans") / "plans.sqlite3"
    database = Database(f"sqlite+aiosqlite:///{path}")

    async def migrate() -> None:
        await upgrade(database)
        await database.dispose()

    asyncio.run(migrate())
    return {name: _plan(path, statement) for name, statement in STATEMENTS.items()}


def _plan(path: Path, statement: Any) -> list[str]:
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(path) as connection:
        return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]


@pytest.mark.parametrize("name", STATEMENTS)
def test_no_growing_table_is_scanned(plans: dict[str, list[str]], name: str) -> None:
    scans = [
        step
        for step in plans[name]
        if step.startswith("SCAN")
        and step.split()[1] in GROWING
        and not any(f"INDEX {index}" in step for index in PARTIAL)
    ]
    assert not scans, (name, plans[name])


def test_the_next_rating_card_comes_in_the_order_of_its_index(
    plans: dict[str, list[str]],
) -> None:
    """Sorting every published impulse by its count would grow with them: the index gives the
    order (status, rating_count, id), so the plan has no sort of its own."""
    plan = plans["next rating card"]
    assert any("INDEX ix_impulses_status_ratings" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
