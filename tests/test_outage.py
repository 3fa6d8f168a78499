"""The database goes away (cut, refused, hanging, failed over) while the bot runs.

PostgreSQL is reached through tests/db_proxy.py, which cuts, refuses or hangs on command; on
SQLite the same tests hold the write lock from outside or fail a statement with "database is
locked", the one way SQLite is "unreachable".
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc

from storage.db import Database
from storage.outage import describe, is_unreachable
from tests.db_proxy import DatabaseProxy

needs_postgres = pytest.mark.postgresql


def postgres_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a network path to cut: PostgreSQL")


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    postgres_only(database_url)
    running = DatabaseProxy(database_url)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def failure(database: Database, statement: str = "SELECT 1", **params: Any) -> BaseException:
    """The exception a statement raises; the test fails if it does not end within 30 s."""
    return await failure_of(database, lambda c: c.execute(text(statement), params))


async def failure_of(database: Database, work: Callable[[Connection], Any]) -> BaseException:
    statement = "the statement"
    attempt = asyncio.ensure_future(database.run_write(work))
    done, _ = await asyncio.wait({attempt}, timeout=30)
    if not done:
        attempt.cancel()
        raise AssertionError(f"{statement} still waits after 30 s")
    exc = attempt.exception()
    if exc is None:
        raise AssertionError(f"{statement} did not fail")
    return exc


async def test_lost_refused_hanging_and_failed_over_connections_are_unreachable(
    proxy: DatabaseProxy,
) -> None:
    database = Database(proxy.url, connect_timeout=1, command_timeout=1)
    try:
        await database.run_write(lambda c: c.execute(text("SELECT 1")))
        proxy.cut()  # the pooled connection is gone
        cut = await failure(database)
        assert is_unreachable(cut), repr(cut)
        proxy.refuse()
        refused = await failure(database)
        assert is_unreachable(refused), repr(refused)
        await proxy.restore()
        proxy.hang()  # a new connection that never answers: the connect timeout ends it
        hung = await failure(database)
        assert is_unreachable(hung), repr(hung)
        await proxy.restore()
        await database.run_write(lambda c: c.execute(text("SELECT 1")))  # answers again

        # Read-only after a failover: the old primary, or a standby just promoted (25006).
        def write_on_a_read_only_server(connection: Connection) -> None:
            connection.execute(text("SET TRANSACTION READ ONLY"))
            connection.execute(text("CREATE TABLE t (x int)"))

        read_only = await failure_of(database, write_on_a_read_only_server)
        assert is_unreachable(read_only), repr(read_only)
    finally:
        await database.dispose()


async def test_a_statement_on_a_hanging_connection_ends_in_the_command_timeout(
    proxy: DatabaseProxy,
) -> None:
    database = Database(proxy.url, connect_timeout=1, command_timeout=1)
    try:
        await database.run_write(lambda c: c.execute(text("SELECT 1")))
        proxy.hang()  # the pooled connection stays open, and nothing comes back
        hung = await failure(database)
        assert is_unreachable(hung), repr(hung)
        await proxy.restore()
        # The connection that timed out is not handed out again: the next statement works.
        assert await database.run_write(lambda c: c.scalar(text("SELECT 7"))) == 7
    finally:
        await database.dispose()


async def test_a_session_ended_by_the_server_is_unreachable_and_so_is_the_rollback_after_it(
    proxy: DatabaseProxy,
) -> None:
    database = Database(proxy.url, connect_timeout=1, command_timeout=2)
    try:
        async with database.write_engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            await connection.commit()
            await database.run_read(
                lambda c: c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            )  # 57P01 for that session (another pooled connection runs this)
            with pytest.raises(sa_exc.DBAPIError) as ended:
                await connection.execute(text("SELECT 1"))
            assert is_unreachable(ended.value), repr(ended.value)
            with pytest.raises(sa_exc.SQLAlchemyError) as next_use:
                await connection.execute(text("SELECT 1"))
            assert is_unreachable(next_use.value), repr(next_use.value)
    finally:
        await database.dispose()


async def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    database = Database("postgresql+asyncpg://bot@no-such-host.invalid/db", connect_timeout=2)
    try:
        assert is_unreachable(await failure(database))
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in read-only"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
)
def test_postgresql_errors_that_mean_not_now(error: Exception) -> None:
    assert is_unreachable(error)
    wrapped = sa_exc.DBAPIError("INSERT INTO votes VALUES ($1)", (4242,), error)
    assert is_unreachable(wrapped)


async def test_bugs_are_not_unreachable(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.run_write(lambda c: c.execute(text("CREATE TABLE t (x int PRIMARY KEY)")))
        await database.run_write(lambda c: c.execute(text("INSERT INTO t VALUES (1)")))
        duplicate = await failure(database, "INSERT INTO t VALUES (:x)", x=1)
        assert isinstance(duplicate, sa_exc.IntegrityError)
        assert not is_unreachable(duplicate)
        assert not is_unreachable(await failure(database, "SELECT * FROM no_such_table"))
        assert not is_unreachable(await failure(database, "SELEC 1"))
    finally:
        await database.dispose()
    assert not is_unreachable(ValueError("a bug"))
    assert not is_unreachable(KeyError("a bug"))


def test_sqlite_locked_past_the_busy_timeout_is_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("BEGIN IMMEDIATE")
        assert is_unreachable(locked.value)
        with pytest.raises(sqlite3.OperationalError) as missing:
            other.execute("SELECT * FROM no_such_table")
        assert not is_unreachable(missing.value)
    finally:
        holder.close()
        other.close()


async def test_outage_lines_name_the_failure_without_sql_or_values(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.run_write(lambda c: c.execute(text("CREATE TABLE t (x bigint PRIMARY KEY)")))
        await database.run_write(lambda c: c.execute(text("INSERT INTO t VALUES (8000000123)")))
        duplicate = await failure(database, "INSERT INTO t VALUES (:x)", x=8000000123)
    finally:
        await database.dispose()
    # hide_parameters: SQLAlchemy's own message names the statement but not the values.
    assert "8000000123" not in str(duplicate).split("[SQL:")[1]
    assert "INSERT" not in describe(duplicate)
    cut = sa_exc.DBAPIError(
        "INSERT INTO votes VALUES ($1)", (4242,), ConnectionResetError("reset by peer")
    )
    assert describe(cut) == "ConnectionResetError: reset by peer"
