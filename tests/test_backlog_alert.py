"""Moderators are told in Telegram, once per incident, when the inbox backlog keeps growing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from bot.domain.backlog import BacklogIncident
from bot.emulator.server import BotApiEmulator
from storage.db import Database
from storage.models import InboxUpdate
from tests.harness import RunningBot, make_settings

MODERATOR = 7_300_001


def test_an_incident_is_told_once_while_it_lasts() -> None:
    incident = BacklogIncident(300)
    assert not incident.observe(5, 600)  # the first look: not yet known to grow
    assert incident.observe(6, 660)  # older than the threshold and growing: tell
    assert not incident.observe(9, 720)  # the same incident
    assert not incident.observe(4, 780)  # shrinking: being worked off, still the same one
    assert not incident.observe(0, 0)  # over
    assert not incident.observe(2, 10)  # young
    assert incident.observe(3, 400)  # a new incident
    assert not BacklogIncident(300).observe(1, 10) and not incident.observe(2, 301)


@pytest.fixture
async def running(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[RunningBot]:
    emulator.add_channel("@ruhr_dialog")
    emulator.user(MODERATOR)
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset({MODERATOR}))
    bot = RunningBot(settings)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def stale_updates(database_url: str, first: int, count: int) -> None:
    database = Database(database_url)
    old = datetime.now(UTC) - timedelta(minutes=10)
    rows = [
        {"update_id": first + i, "status": "pending", "received_at": old, "ordering_key": -1}
        for i in range(count)
    ]
    try:
        async with database.write_engine.begin() as connection:
            await connection.execute(insert(InboxUpdate), rows)
    finally:
        await database.dispose()


async def work_off(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write_engine.begin() as connection:
            await connection.execute(update(InboxUpdate).values(status="done"))
    finally:
        await database.dispose()


async def test_moderators_hear_of_a_growing_backlog_once_per_incident(
    running: RunningBot, emulator: BotApiEmulator, database_url: str
) -> None:
    assert running.app is not None and running.app.backlog_watch is not None
    watch = running.app.backlog_watch
    moderator = emulator.user(MODERATOR)
    before = len(moderator.messages)
    await stale_updates(database_url, 900_000, 2)
    await watch.check()
    await stale_updates(database_url, 900_100, 2)
    await watch.check()
    assert len(moderator.messages) == before + 1
    assert "Der Bot kommt nicht hinterher: 4 Nachrichten warten" in moderator.last_text
    await stale_updates(database_url, 900_200, 2)
    await watch.check()
    assert len(moderator.messages) == before + 1  # the same incident
    await work_off(database_url)
    await watch.check()
    await stale_updates(database_url, 900_300, 1)
    await watch.check()
    await stale_updates(database_url, 900_400, 1)
    await watch.check()
    assert len(moderator.messages) == before + 2  # a new incident


async def test_a_second_instance_or_a_restart_does_not_tell_the_same_incident(
    running: RunningBot, emulator: BotApiEmulator, database_url: str
) -> None:
    """The incident is kept in the database: another process watching the same inbox, or this
    one after a restart, knows that the moderators were told."""
    from bot.app.backlog_watch import BacklogWatch

    app = running.app
    assert app is not None and app.backlog_watch is not None and app.dependencies is not None
    deps = app.dependencies
    other = BacklogWatch(deps.settings, deps.database, deps.bot, deps.i18n)  # without the log
    second = BacklogWatch(
        deps.settings, deps.database, deps.bot, deps.i18n, incidents=deps.incidents
    )
    moderator = emulator.user(MODERATOR)
    before = len(moderator.messages)
    await stale_updates(database_url, 910_000, 2)
    await app.backlog_watch.check()
    await second.check()
    await other.check()
    await stale_updates(database_url, 910_100, 2)
    await app.backlog_watch.check()
    await second.check()
    assert len(moderator.messages) == before + 1  # told once, by one of the two
    await other.check()
    assert len(moderator.messages) == before + 2  # a watch without the log tells again

    await running.restart()
    assert running.app is not None and running.app.backlog_watch is not None
    watch = running.app.backlog_watch
    await watch.check()
    await stale_updates(database_url, 910_200, 2)
    await watch.check()
    assert len(moderator.messages) == before + 2  # the same incident, after a restart

    await work_off(database_url)
    await watch.check()  # over: ended in the log too
    await stale_updates(database_url, 910_300, 1)
    await watch.check()
    await stale_updates(database_url, 910_400, 1)
    await watch.check()
    assert len(moderator.messages) == before + 3  # a new incident
