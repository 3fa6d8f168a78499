"""The SQLite writer connection, run on the event loop's own thread.

aiosqlite gives each connection a thread and hands every call (cursor, execute, fetch, commit)
to it and back. For the one writer connection that was the bottleneck of the whole bot: each
hand-back needs the GIL, which a busy event loop returns only every switch interval (5 ms), and
the writer is held across all of them, so write transactions queued behind each other at a few
milliseconds per statement (benchmarks/README.md). A write here is a few short statements on
indexed rows and a commit without fsync (WAL, synchronous=NORMAL): tens of microseconds when
run directly, which is cheaper than a single hop to a thread.

So the writer speaks aiosqlite's interface (SQLAlchemy's aiosqlite dialect drives it unchanged)
but runs each call at once on the calling thread. Reads keep aiosqlite's threads: a long read
(the standings over a million votes) must not stop the loop.

The price: this process must be the only one writing to the file for long. Another writer
holding the lock makes BEGIN IMMEDIATE wait on the busy timeout with the loop stopped; short
maintenance (`dialogbot db upgrade`, an export) is fine, a second bot instance is not (use
PostgreSQL for that, docs/scaling.md).

`[tuning] sqlite_writer = false`: storage.db.Database keeps aiosqlite's own threads for the
writer and the point reads as well.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite


class _RunAtOnce:
    """Stands in for aiosqlite's queue to its thread: runs each call immediately."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection without its thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunAtOnce()  # type: ignore[assignment]

    def __await__(self) -> Any:
        return self._connect().__await__()  # no thread to start

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def create_private_file(path: str | None) -> None:
    """A new SQLite file is created readable by its owner only (0600): it holds the reply
    addresses. SQLite gives the -wal and -shm files the database file's mode. An existing file
    keeps the mode its operator gave it."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return  # it exists, or its folder does not: connecting reports that in its own words
    os.close(descriptor)
    os.chmod(path, 0o600)  # whatever the umask


def inline_connector(path: str, timeout: float) -> Callable[[], Any]:
    """For `create_async_engine(async_creator=...)`: a new inline connection to `path`."""

    async def connect() -> InlineConnection:
        connector = partial(sqlite3.connect, path, timeout=timeout, check_same_thread=False)
        connection = InlineConnection(connector)
        await connection
        return connection

    return connect
