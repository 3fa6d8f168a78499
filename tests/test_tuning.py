"""The [tuning] switches: each one off takes the library's stock path (bot/domain/settings.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.types import Message
from sqlalchemy import event, text

from bot.app.config import load_settings
from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator
from bot.telegram.session import LeanSession
from storage.sqlite_writer import InlineConnection
from tests.harness import ROOT, RunningBot, make_settings

NOWHERE = "http://127.0.0.1:9"  # Application.build calls nobody


@pytest.fixture
async def build(database_url: str) -> AsyncIterator[Callable[..., Application]]:
    """Builds the application with some switches off; closes what it built."""
    built: list[Application] = []

    def application(**switches: bool) -> Application:
        app = Application.build(make_settings(NOWHERE, database_url, **switches))
        built.append(app)
        return app

    try:
        yield application
    finally:
        for app in built:
            await app.bot.session.close()
            await app.database.dispose()


def test_with_overrides_sets_a_switch_by_its_name() -> None:
    settings = load_settings(ROOT / "config.example.toml", env={})
    changed = settings.with_overrides(lean_session=False, group_commit=False)
    assert (changed.tuning.lean_session, changed.tuning.group_commit) == (False, False)
    assert changed.tuning.dispatcher and settings.tuning.lean_session


async def test_lean_session_off_is_aiograms_stock_session(
    build: Callable[..., Application],
) -> None:
    assert type(build().bot.session) is LeanSession
    assert type(build(lean_session=False).bot.session) is AiohttpSession


@pytest.mark.sqlite_only
async def test_with_the_stock_session_a_sent_message_is_validated_whole(
    emulator: BotApiEmulator, database_url: str
) -> None:
    """The running bot's own client: the lean one reads a sent message's id, the stock one
    all of it."""
    texts: dict[bool, str | None] = {}
    for lean in (True, False):
        running = RunningBot(make_settings(emulator.base_url, database_url, lean_session=lean))
        await running.start()
        try:
            assert running.app is not None
            sent = await running.app.bot.send_message(emulator.user(41).id, "Hallo")
            assert isinstance(sent, Message) and sent.message_id > 0
            texts[lean] = sent.text
        finally:
            await running.stop()
    assert texts == {True: None, False: "Hallo"}


def _sync_filters(app: Application) -> tuple[int, int]:
    """(run on the loop, left to aiogram's threads) among the synchronous filters."""
    inline = threaded = 0
    for router in app.dispatcher.chain_tail:
        for observer in router.observers.values():
            for handler in [observer._handler, *observer.handlers]:
                for flt in handler.filters or ():
                    if isinstance(flt, FilterObject):
                        name = getattr(flt.callback, "__qualname__", "")
                        if "_inline" in name:
                            inline += 1
                        elif not flt.awaitable:
                            threaded += 1
    return inline, threaded


async def test_dispatcher_off_leaves_synchronous_filters_to_aiogram(
    build: Callable[..., Application],
) -> None:
    inline, threaded = _sync_filters(build())
    assert inline > 0 and threaded == 0
    inline, threaded = _sync_filters(build(dispatcher=False))
    assert inline == 0 and threaded > 0


@pytest.mark.sqlite_only
async def test_sqlite_writer_off_writes_on_aiosqlites_thread(
    build: Callable[..., Application],
) -> None:
    async def writer_kind(app: Application) -> type[Any]:
        async with app.database.write_engine.connect() as connection:
            raw = await connection.get_raw_connection()
            return type(raw.driver_connection)

    assert await writer_kind(build()) is InlineConnection
    stock = build(sqlite_writer=False)
    assert await writer_kind(stock) is aiosqlite.Connection
    assert stock.database.lookup_engine is stock.database.read_engine


async def test_group_commit_off_gives_each_write_its_own_transaction(
    build: Callable[..., Application],
) -> None:
    async def commits(app: Application) -> int:
        await app.database.run_write(lambda c: c.execute(text("SELECT 1")))  # connected
        count = 0

        def counted(*_: Any) -> None:
            nonlocal count
            count += 1

        engine = app.database.write_engine.sync_engine
        event.listen(engine, "commit", counted)
        try:
            await asyncio.gather(
                *(
                    app.database.run_write_grouped(lambda c: c.execute(text("SELECT 1")))
                    for _ in range(5)
                )
            )
        finally:
            event.remove(engine, "commit", counted)
        return count

    assert await commits(build()) == 1
    assert await commits(build(group_commit=False)) == 5


@pytest.mark.slow
@pytest.mark.parametrize("lean", [True, False])
def test_lean_aiogram_off_imports_aiogram_as_stock(tmp_path: Path, lean: bool) -> None:
    """`dialogbot` reads the settings, then imports aiogram lazily unless the switch is off."""
    config = (ROOT / "config.example.toml").read_text()
    config = config.replace("lean_aiogram = true", f"lean_aiogram = {str(lean).lower()}")
    (tmp_path / "config.toml").write_text(config)
    script = (
        "import sys\n"
        "from bot.app.cli import main\n"
        "assert 'aiogram' not in sys.modules\n"
        f"main(['db', 'upgrade', '--config', {str(tmp_path / 'config.toml')!r}])\n"
        "import aiogram.types\n"
        "print(aiogram.types.Message.__pydantic_complete__)\n"
    )
    env = {
        **os.environ,
        "DIALOGBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Built at import (stock) or on first use (lean).
    assert done.stdout.splitlines()[-1] == str(not lean)
