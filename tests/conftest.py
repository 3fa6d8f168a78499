from __future__ import annotations

from bot.telegram.lean_aiogram import import_aiogram

import_aiogram()  # as `dialogbot` does, so the tests run with aiogram's models built lazily

# ruff: noqa: E402 - import_aiogram() has to come before the imports that load aiogram

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.emulator.server import BotApiEmulator
from tests import postgres, redis_server
from tests.harness import SESSION_KINDS, TOKEN, Harness, RunningBot, make_settings, use_session
from tests.postgres import PostgresServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_sessions: runs once more with aiogram's stock Bot API session ([tuning]"
        " lean_session = false; on SQLite, and not for slow tests)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `both_sessions` runs with the lean and with the stock session."""
    if "session_kind" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    if definition.get_closest_marker("both_sessions") and not definition.get_closest_marker("slow"):
        metafunc.parametrize("session_kind", SESSION_KINDS, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The session does not depend on the database: the stock session's run is on SQLite."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        stock_on_postgres = (
            params.get("session_kind") == "stock" and params.get("database_url") == "postgresql"
        )
        (dropped if stock_on_postgres else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def session_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The Bot API session `make_settings` gives the bot ("lean" unless parametrized)."""
    kind = str(getattr(request, "param", "lean"))
    use_session(kind)
    try:
        yield kind
    finally:
        use_session("lean")


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
