"""SQLite under concurrent load: two bot instances on one file, plus another writer that keeps
taking the write lock, while 50 citizens complete the dialog at the same time. Every answer is
stored once, nobody gets an error, and "database is locked" appears nowhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator
from bot.telegram.pipeline import UpdatePipeline, ordering_key
from bot.telegram.polling import poll
from storage.db import Database
from storage.models import Impulse, InboxUpdate, Participant, Vote
from tests.dialog_steps import take_part
from tests.harness import FAST_RETRY, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

CITIZENS = 50


class Split:
    """Telegram allows one poller: it hands each person's updates to one of the instances."""

    def __init__(self, pipelines: list[UpdatePipeline]) -> None:
        self._pipelines = pipelines

    async def wait_for_room(self, stop: asyncio.Event | None = None) -> int:
        """Room for a batch only when every instance has room (bot/telegram/polling.py asks
        first)."""
        return min([await p.wait_for_room(stop) for p in self._pipelines])

    async def accept_raw(self, raw_updates: Sequence[Any]) -> int:
        shares: list[list[Any]] = [[] for _ in self._pipelines]
        for raw in raw_updates:
            key = ordering_key(Update.model_validate(raw))
            shares[key % len(shares)].append(raw)
        counts = await asyncio.gather(
            *(p.accept_raw(s) for p, s in zip(self._pipelines, shares, strict=True))
        )
        return sum(counts)


def other_writer(path: str, stop: threading.Event, written: list[int]) -> None:
    """Another process's writes, as far as SQLite can tell: it holds the write lock often."""
    connection = sqlite3.connect(path, timeout=15, isolation_level=None)
    try:
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO load_test (at) VALUES (?)", (time.time(),))
            time.sleep(0.005)  # a transaction that takes its time
            connection.execute("COMMIT")
            written.append(1)
            time.sleep(0.03)
    finally:
        connection.close()


async def test_two_instances_and_a_busy_writer_store_every_answer_once(
    emulator: BotApiEmulator, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(emulator.base_url, database_url)
    apps = [Application.build(settings, retry=FAST_RETRY) for _ in range(2)]
    for app in apps:  # one after the other: the first one migrates
        await app.start()
    path = str(make_url(database_url).database)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE load_test (at REAL)")
    stop, stop_writer, written = asyncio.Event(), threading.Event(), []
    writer = threading.Thread(target=other_writer, args=(path, stop_writer, written))
    writer.start()
    poller = asyncio.create_task(
        poll(apps[0].bot, Split([a.pipeline for a in apps]), stop, poll_seconds=1)
    )
    users = [emulator.user(7400 + n) for n in range(CITIZENS)]
    try:
        with caplog.at_level(logging.INFO):
            await asyncio.gather(*(take_part(emulator, u, n) for n, u in enumerate(users)))
    finally:
        stop.set()
        stop_writer.set()
        await poller
        writer.join()
        for app in apps:
            await app.close()

    assert written, "the other writer never got the lock: no contention was tested"
    assert not [
        r for r in caplog.records if "locked" in r.getMessage() or r.levelno >= logging.ERROR
    ]
    for user in users:
        assert not [m for m in user.messages if "schiefgegangen" in m.text or "locked" in m.text]
    await assert_stored_once(Path(path))


async def assert_stored_once(path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.reading() as session:
            voted = select(func.count()).where(Participant.voted_at.is_not(None))
            assert await session.scalar(voted) == CITIZENS
            assert await session.scalar(select(func.count()).select_from(Vote)) == CITIZENS
            assert await session.scalar(select(func.count(Impulse.text.distinct()))) == CITIZENS
            assert await session.scalar(select(func.count()).select_from(Impulse)) == CITIZENS
            rows = await session.execute(
                select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
            )
            assert {status: n for status, n in rows} == {"done": 6 * CITIZENS}
    finally:
        await database.dispose()


async def test_a_write_transaction_holds_the_write_lock_from_its_start(
    database_url: str,
) -> None:
    """A write transaction that reads first never has to upgrade its read lock (which fails
    at once with "database is locked" when another connection wrote in between): it holds the
    write lock from its first statement, so the other connection is the one that waits."""
    from sqlalchemy import text

    from storage.migrate import upgrade

    database = Database(database_url)
    path = str(make_url(database_url).database)
    try:
        await upgrade(database)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("CREATE TABLE load_test (at REAL)")
            async with database.transaction() as session:
                await session.execute(text("SELECT count(*) FROM settings"))  # reads first
                other.execute("PRAGMA busy_timeout=0")
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("INSERT INTO load_test (at) VALUES (1)")
                await session.execute(text("UPDATE settings SET value = value"))  # then writes
            other.execute("INSERT INTO load_test (at) VALUES (2)")  # free again after COMMIT
    finally:
        await database.dispose()
