"""When digests are posted: on schedule (driven by an injected clock, never by sleeping), once
per period across restarts and across two processes, and once after downtime."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator
from storage.db import Database
from storage.models import Digest
from tests.digest_support import (
    MAY_18_1800,
    DigestHarness,
    FakeClock,
    dh,
    digest_harness,
    digest_rows,
    figures_of,
    seed,
)

__all__ = ["dh"]  # the fixture

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


async def test_fires_at_the_scheduled_time_and_only_then(dh: DigestHarness) -> None:
    # First start at noon with nobody yet: yesterday's period is recorded as skipped.
    await dh.tick(MAY_18_1800 - 6 * 60 * MINUTE)
    assert dh.posts() == []
    await dh.seed(["mobilitaet", "bildung"], at=MAY_18_1800 - 3 * 60 * MINUTE)
    await dh.seed(["mobilitaet"], at=MAY_18_1800 - 2 * 60 * MINUTE)

    wake = await dh.tick(MAY_18_1800 - MINUTE)
    assert dh.posts() == []
    assert wake == MAY_18_1800  # sleeps until 18:00 Berlin, not longer

    await dh.tick(MAY_18_1800)
    [post] = dh.posts()
    assert post.kind == "photo"
    assert "Teilnehmende: 2, davon 2 neu" in (post.caption or "")
    assert "1. Mobilität & ÖPNV: 100 %" in (post.caption or "")

    await dh.tick(MAY_18_1800 + MINUTE)
    await dh.tick(MAY_18_1800 + 5 * 60 * MINUTE)
    assert len(dh.posts()) == 1
    rows = await digest_rows(dh.database)
    assert [(r.period_key, r.status) for r in rows] == [
        ((MAY_18_1800 - DAY).isoformat(), "skipped"),
        (MAY_18_1800.isoformat(), "sent"),
    ]


async def test_a_restart_never_posts_a_period_twice(dh: DigestHarness) -> None:
    await dh.seed(["sport"], at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800 + MINUTE)
    assert len(dh.photos()) == 1

    await dh.bot.restart()  # a new Application on the same database file
    await dh.tick(MAY_18_1800 + MINUTE)
    await dh.tick(MAY_18_1800 + 2 * 60 * MINUTE)
    assert len(dh.photos()) == 1
    assert len(dh.emulator.calls_to("sendPhoto")) == 1


async def test_after_downtime_one_digest_with_the_real_latest_period(
    dh: DigestHarness,
) -> None:
    await dh.seed(["gruen"], at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800)
    await dh.bot.stop()
    # Down from Monday evening to Thursday morning; meanwhile three more took part.
    for day in (1, 2, 2):
        await _seed_without_bot(dh, MAY_18_1800 + day * DAY - 2 * 60 * MINUTE)
    thursday = MAY_18_1800 + 2 * DAY + 17 * 60 * MINUTE
    dh.clock.set(thursday)
    await dh.bot.start()
    dh.app.scheduler.start()  # the real loop: its first tick happens at start
    await dh.emulator.wait_for(lambda: len(dh.photos()) == 2, timeout=30)
    await dh.app.scheduler.stop()

    assert len(dh.photos()) == 2
    latest = (await digest_rows(dh.database))[-1]
    assert latest.period_key == (MAY_18_1800 + 2 * DAY).isoformat()  # Wed 18:00, not Thu
    assert latest.period_start == MAY_18_1800  # the window reaches back to Monday's digest
    assert figures_of(latest)["new_participants"] == 3
    assert "Teilnehmende: 4, davon 3 neu seit dem letzten Digest" in (dh.photos()[-1].caption or "")
    assert "20.05.2026, 18:00" in (dh.photos()[-1].caption or "")


async def _seed_without_bot(dh: DigestHarness, at: datetime) -> None:
    """Someone took part while this process was down (another instance took the update)."""
    database = Database(dh.settings.database_url)
    try:
        await seed(database, ["arbeit"], at=at)
    finally:
        await database.dispose()


async def test_two_processes_on_one_database_post_each_period_once(
    emulator: BotApiEmulator, database_url: str
) -> None:
    start = MAY_18_1800 - 60 * MINUTE
    async for first in digest_harness(emulator, database_url, start):
        second = Application.build(first.settings, clock=FakeClock(start))
        await second.start()
        try:
            for day in range(3):
                fire = MAY_18_1800 + day * DAY
                await first.seed(["kunst", "medien"], at=fire - 60 * MINUTE)
                moment = fire + MINUTE
                await asyncio.gather(
                    first.app.scheduler.tick(moment), second.scheduler.tick(moment)
                )
                await asyncio.gather(
                    second.scheduler.tick(moment), first.app.scheduler.tick(moment)
                )
                assert len(first.photos()) == day + 1
            assert len(emulator.calls_to("sendPhoto")) == 3
        finally:
            await second.close()
    rows = await _rows(database_url)
    assert [r.status for r in rows] == ["sent", "sent", "sent"]
    assert len({r.owner for r in rows}) == 1 and rows[0].owner is None  # released when done


async def _rows(database_url: str) -> list[Digest]:
    database = Database(database_url)
    try:
        return await digest_rows(database)
    finally:
        await database.dispose()
