from __future__ import annotations

from bot.telegram.lean_aiogram import import_aiogram

import_aiogram()  # as `dialogbot` does, so the tests run with aiogram's models built lazily

# ruff: noqa: E402 - import_aiogram() has to come before the imports that load aiogram

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.emulator.server import BotApiEmulator
from tests import postgres, redis_server
from tests.harness import TOKEN, Harness, RunningBot, make_settings
from tests.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """Started on first use: a migrated template database, or the reason there is none."""
    server = postgres.start_server()
    try:
        yield server
    finally:
        if isinstance(server, PostgresServer):
            postgres.stop_server(server)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test runs on SQLite and on a fresh PostgreSQL database (tests/postgres.py)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'dialogbot.sqlite3'}"
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("tests something only SQLite has")
    server = request.getfixturevalue("postgres_server")
    if not isinstance(server, PostgresServer):
        postgres.unavailable(server)
    assert isinstance(server, PostgresServer)
    name = await server.create()
    try:
        yield postgres.sqlalchemy_url(name)
    finally:
        await server.drop(name)


@pytest.fixture
async def redis_url() -> str:
    """The test Redis server (tests/redis_server.py): skipped without one, failed under CI."""
    reason = await redis_server.unreachable()
    if reason is not None:
        redis_server.unavailable(reason)
    return redis_server.URL


@pytest.fixture
async def redis_namespace(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own on the test Redis server, emptied afterwards."""
    prefix = redis_server.namespace()
    try:
        yield prefix
    finally:
        await redis_server.drop(prefix)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emu = BotApiEmulator(token=TOKEN)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    # The bot uses no parameter the Bot API deprecated (aiogram's models mark them).
    assert not emu.deprecated_params, f"deprecated Bot API parameters sent: {emu.deprecated_params}"


@pytest.fixture
async def harness(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    bot = RunningBot(make_settings(emulator.base_url, database_url))
    await bot.start()
    try:
        yield Harness(emulator, bot)
    finally:
        await bot.stop()
