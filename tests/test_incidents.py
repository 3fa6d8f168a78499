"""The incident log: failures in a row, the moderators told once per incident, also across
restarts and instances (the log is in the database), and a success ends it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.incidents import DIGEST, Incidents
from storage.db import Database
from storage.incidents import SqlIncidentLog
from storage.migrate import upgrade

NOW = datetime(2026, 5, 18, 16, 0, tzinfo=UTC)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await upgrade(db)
    try:
        yield db
    finally:
        await db.dispose()


async def test_told_once_when_the_failures_in_a_row_reach_the_threshold(
    database: Database,
) -> None:
    incidents = Incidents(SqlIncidentLog(database), threshold=3)
    told = [await incidents.failure(DIGEST, NOW + timedelta(minutes=i)) for i in range(6)]
    assert told == [None, None, 3, None, None, None]


async def test_a_success_ends_the_incident_and_the_next_one_is_told_again(
    database: Database,
) -> None:
    incidents = Incidents(SqlIncidentLog(database), threshold=2)
    assert await incidents.failure(DIGEST, NOW) is None
    await incidents.success(DIGEST)  # one failure, then it worked: no incident at all
    assert await incidents.failure(DIGEST, NOW) is None  # the count starts again
    assert await incidents.failure(DIGEST, NOW) == 2
    await incidents.success(DIGEST)
    assert await incidents.failure(DIGEST, NOW) is None
    assert await incidents.failure(DIGEST, NOW) == 2  # a new incident: told again


async def test_whoever_told_first_holds_the_incident(database: Database) -> None:
    """The channel's precise refusal is told at the first failure; the count does not tell
    the same incident a second time."""
    incidents = Incidents(SqlIncidentLog(database), threshold=2)
    assert await incidents.tell_first(DIGEST, NOW)
    assert not await incidents.tell_first(DIGEST, NOW)
    assert [await incidents.failure(DIGEST, NOW) for _ in range(4)] == [None] * 4


async def test_the_log_outlives_the_process_and_is_shared_by_instances(
    database: Database, database_url: str
) -> None:
    first = Incidents(SqlIncidentLog(database), threshold=4)
    assert await first.failure(DIGEST, NOW) is None
    assert await first.failure(DIGEST, NOW) is None
    other_process = Database(database_url)
    try:
        second = Incidents(SqlIncidentLog(other_process), threshold=4)
        # Two instances failing at the same moment: both failures count, one of them tells.
        told = await asyncio.gather(second.failure(DIGEST, NOW), first.failure(DIGEST, NOW))
        assert sorted(t or 0 for t in told) == [0, 4]
        told = await asyncio.gather(second.failure(DIGEST, NOW), first.failure(DIGEST, NOW))
        assert told == [None, None]  # the same incident, in either process
    finally:
        await other_process.dispose()
