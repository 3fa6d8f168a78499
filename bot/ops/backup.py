"""`dialogbot backup PATH`: a consistent copy of the SQLite database while the bot runs.

SQLite's online backup API copies the file in one step inside one read transaction: the copy
is the database as of that moment, with every transaction committed before it and none after.
In WAL mode the bot's writer carries on meanwhile. The copy is written next to PATH first and
renamed when it passed `PRAGMA integrity_check`, so PATH is never a half-written file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite
from storage.sqlite_writer import create_private_file


class BackupError(Exception):
    """The copy was not made; the message says why in one line."""


def backup(database_url: str, target: Path) -> int:
    """Copy the database to `target`; returns the copy's size in bytes."""
    if not is_sqlite(database_url):
        raise BackupError(
            "PostgreSQL is backed up with its own tool: pg_dump --format=custom "
            "--file=PATH <database url>"
        )
    source = _sqlite_file(database_url)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        create_private_file(str(partial))  # it holds reply addresses: for the owner only
        _copy(source, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target.stat().st_size


def _sqlite_file(database_url: str) -> Path:
    name = make_url(database_url).database
    if not name or name == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    path = Path(name)
    if not path.is_file():
        raise BackupError(f"no database at {path}")
    return path


def _copy(source: Path, target: Path) -> None:
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    with (
        contextlib.closing(sqlite3.connect(source, timeout=timeout)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)  # all pages in one step: one snapshot, however busy the bot is
        # A single self-contained file: no -wal or -shm beside the copy.
        dst.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
    if verdict != "ok":
        raise BackupError(f"the copy failed its integrity check: {verdict}")
