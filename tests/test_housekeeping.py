"""Finished inbox rows are forgotten while the bot runs, not only at its start; the periodic
task behind it keeps going after a failing round and stops when asked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.ops.housekeeping import Housekeeping
from bot.telegram.periodic import Periodic
from storage.db import Database
from storage.inbox import Inbox
from storage.models import InboxUpdate
from tests.harness import Harness

NOW = datetime(2026, 5, 18, 12, 0, tzinfo=UTC)


async def _add(database: Database, rows: dict[int, tuple[str, datetime]]) -> None:
    async with database.transaction() as session:
        session.add_all(
            InboxUpdate(update_id=i, status=status, received_at=at)
            for i, (status, at) in rows.items()
        )


async def _ids(database: Database) -> set[int]:
    async with database.reading() as session:
        return set(await session.scalars(select(InboxUpdate.update_id)))


async def test_finished_updates_older_than_a_day_are_forgotten_in_batches(
    harness: Harness,
) -> None:
    assert harness.bot.app is not None
    database = harness.bot.app.database
    old, recent = NOW - timedelta(days=2), NOW - timedelta(hours=3)
    rows = {800_000 + i: ("done" if i % 2 else "failed", old) for i in range(7)}
    rows |= {800_100: ("pending", old), 800_101: ("done", recent)}
    await _add(database, rows)

    forgotten = await Inbox(database).forget_older_than(timedelta(days=1), now=NOW, batch=3)

    assert forgotten == 7
    left = await _ids(database)
    assert {800_100, 800_101} <= left  # pending is resumed, never forgotten; recent is kept
    assert not left & {800_000 + i for i in range(7)}


async def test_housekeeping_runs_again_and_again_while_the_bot_runs(harness: Harness) -> None:
    assert harness.bot.app is not None
    database = harness.bot.app.database
    now = datetime.now(UTC)
    housekeeping = Housekeeping(Inbox(database), lambda: now, every=timedelta(seconds=0.05))
    housekeeping.start()
    try:
        for round_ in range(2):  # rows that turn up after a round are caught by a later one
            first = 810_000 + 10 * round_
            await _add(database, {first: ("done", now - timedelta(days=3))})
            async with asyncio.timeout(10):
                while first in await _ids(database):
                    await asyncio.sleep(0.02)
    finally:
        await housekeeping.stop()
    assert not housekeeping.running


async def test_the_application_runs_housekeeping_next_to_polling_or_the_webhook(
    harness: Harness,
) -> None:
    app = harness.bot.app
    assert app is not None and not app.housekeeping.running
    app.start_background()
    assert app.housekeeping.running
    await app.stop_background()
    assert not app.housekeeping.running


async def test_a_failing_round_is_logged_and_the_next_one_still_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []

    async def step() -> float:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database hiccup")
        return 0.01

    periodic = Periodic("test-task", step, after_failure=0.01, min_pause=0)
    periodic.start()
    async with asyncio.timeout(5):
        while len(rounds) < 3:
            await asyncio.sleep(0.01)
    await periodic.stop()
    assert not periodic.running
    assert "test-task failed" in caplog.text


async def test_stop_does_not_wait_for_the_pause() -> None:
    async def step() -> float:
        return 3600.0

    periodic = Periodic("test-task", step, after_failure=3600.0)
    periodic.start(first_pause=3600.0)
    async with asyncio.timeout(2):
        await periodic.stop()
