"""Engines and sessions. One `async_sessionmaker` for reads and one for writes.

SQLite allows one writer at a time. Writes therefore go through a single pooled connection that
starts its transactions with BEGIN IMMEDIATE (so a transaction never has to upgrade a read lock
and fail with "database is locked"), while reads use their own connections in WAL mode. Another
process on the same file waits on the busy timeout. PostgreSQL needs none of this: one engine.

For speed (benchmarks/README.md): on SQLite the writer and the short point reads (`lookup`,
`run_read`) run on the event loop's own thread (storage/sqlite_writer.py), long reads
(`reading`) on threads. The hot paths use Core statements in one greenlet (`run_write`,
`run_read`), and their small writes share transactions (`run_write_grouped`, group commit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from bot.domain.settings import Settings
from storage.group_commit import GroupCommit
from storage.sqlite_writer import create_private_file, inline_connector

SQLITE_BUSY_TIMEOUT_MS = 15_000
# PostgreSQL: how long to wait for a new connection (asyncpg `timeout`, and for a pooled one)
# and for one statement's answer (asyncpg `command_timeout`). Without them a half-open socket
# holds a statement for minutes ([database] in the config, storage/outage.py).
CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 30.0
SQLITE_READER_CACHE_KIB = 512
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(
    url: str, *, writer: bool, inline: bool = False, on_loop: bool = True
) -> AsyncEngine:
    """`on_loop` False: the writer on aiosqlite's own thread ([tuning] sqlite_writer off)."""
    options: dict[str, Any] = {
        "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # Logged errors name the statement, never its values (Telegram ids, texts).
        "hide_parameters": True,
    }
    if writer or inline:
        # Run on the loop's own thread (storage/sqlite_writer.py says why). One writer; a few
        # inline readers, as an ORM session holds its connection while it closes.
        options.update(pool_size=1 if writer else 3, max_overflow=0, pool_timeout=60)
        path = make_url(url).database
        if path and path != ":memory:" and on_loop:
            options["async_creator"] = inline_connector(path, SQLITE_BUSY_TIMEOUT_MS / 1000)
    else:
        # Long reads (digests, exports, statistics) on threads; not closed and reopened.
        options.update(pool_size=4, max_overflow=0, pool_timeout=60)
    engine = create_async_engine(url, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not writer:
            # Seven reader connections with SQLite's default 2 MB page cache each grew the
            # resident size with the database; the file's pages stay in the OS cache.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_READER_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class Database:
    """The application's one handle on the database."""

    @classmethod
    def for_settings(cls, settings: Settings) -> Database:
        """The database as the settings describe it (URL, timeouts, [tuning] switches): how the
        bot and every command of the command line open it, so none of them forgets a setting."""
        return cls(
            settings.database_url,
            connect_timeout=settings.database.connect_timeout,
            command_timeout=settings.database.command_timeout,
            inline_sqlite=settings.tuning.sqlite_writer,
            group_commit=settings.tuning.group_commit,
        )

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        command_timeout: float | None = COMMAND_TIMEOUT,
        inline_sqlite: bool = True,
        group_commit: bool = True,
    ) -> None:
        """`command_timeout` None: statements may take as long as they take (migrations).

        `inline_sqlite` ([tuning] sqlite_writer): SQLite's writer and point reads on the event
        loop's own thread; False: on aiosqlite's threads, as stock. `group_commit` ([tuning]
        group_commit): False gives every `run_write_grouped` a transaction of its own."""
        self.url = url
        self.is_sqlite = is_sqlite(url)
        if self.is_sqlite:
            create_private_file(make_url(url).database)
            self.write_engine = _sqlite_engine(url, writer=True, on_loop=inline_sqlite)
            self.read_engine = _sqlite_engine(url, writer=False)
            self.lookup_engine = (
                _sqlite_engine(url, writer=False, inline=True)
                if inline_sqlite
                else self.read_engine
            )
        else:
            self.write_engine = create_async_engine(
                url,
                pool_size=10,
                max_overflow=10,
                pool_timeout=connect_timeout,
                hide_parameters=True,
                connect_args={"timeout": connect_timeout, "command_timeout": command_timeout},
            )
            self.read_engine = self.write_engine
            # Point reads without BEGIN and COMMIT: one round trip instead of three. Under
            # PostgreSQL's READ COMMITTED each statement takes its own snapshot in a transaction
            # too, so a read sees nothing else for it. The same pool; setting the level on a
            # checked-out asyncpg connection is a flag, no round trip.
            self.lookup_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._writes = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reads = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._lookups = async_sessionmaker(self.lookup_engine, expire_on_commit=False)
        # PostgreSQL: a lone write of one statement in autocommit (storage/group_commit.py).
        alone = None if self.is_sqlite else (lambda: self.lookup_engine.sync_engine)
        self._group = (
            GroupCommit(lambda: self.write_engine.sync_engine, alone) if group_commit else None
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back on error."""
        async with self._writes() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self._reads() as session, session.begin():
            yield session

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[AsyncSession]:
        """A read of a few rows by index (on SQLite: inline, no thread hops; see run_read)."""
        async with self._lookups() as session, session.begin():
            yield session

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """`work` in one write transaction, on a plain connection with Core statements.

        For the hot paths (inbox, conversation state): there an ORM session costs more than the
        SQL. The whole transaction is one greenlet, so on SQLite (inline writer) it runs
        without yielding to the event loop; on PostgreSQL each statement is awaited as usual.
        """
        return await greenlet_spawn(_in_transaction, self.write_engine.sync_engine, work)

    async def run_write_grouped(
        self, work: Callable[[Connection], T], *, one_statement: bool = False
    ) -> T:
        """Like `run_write`, but sharing one transaction with the other small writes handed in
        during the same turn of the event loop (storage/group_commit.py). Returns after the
        COMMIT that holds this write; a failing write fails alone. `one_statement`: `work`
        runs a single statement, which on PostgreSQL needs no transaction around it when it
        has no other write to share one with."""
        if self._group is None:
            return await self.run_write(work)
        return await self._group.run(work, one_statement=one_statement)

    async def run_read(self, work: Callable[[Connection], T]) -> T:
        """Like `run_write`, for short point reads (on SQLite: an inline reader connection).
        Anything that may scan many rows belongs in `reading()`, which never blocks the loop."""
        return await greenlet_spawn(_in_transaction, self.lookup_engine.sync_engine, work)

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
        if self.is_sqlite and self.lookup_engine is not self.read_engine:
            await self.lookup_engine.dispose()  # on PostgreSQL it shares the writer's pool


def _in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)
