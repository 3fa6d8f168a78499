"""`dialogbot backup PATH` while the bot runs and citizens write: the copy is consistent."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.ops.backup import BackupError, backup
from tests.dialog_steps import take_part
from tests.harness import ROOT, Harness

BEFORE = 6


async def run_backup(harness: Harness, target: Path) -> tuple[int, str]:
    env = {
        **os.environ,
        "DIALOGBOT_DATABASE_URL": harness.settings.database_url,
        "DIALOGBOT_SECRET": "backup-test-secret",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.app.cli", "backup", str(target)),
        *("--config", str(ROOT / "config.example.toml")),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return int(process.returncode or 0), output.decode()


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.slow
@pytest.mark.sqlite_only
async def test_a_backup_while_citizens_write_is_complete_and_consistent(
    harness: Harness, tmp_path: Path
) -> None:
    """Citizens keep submitting, four at a time, from before the backup starts until after it
    ended: submissions commit both before and after the copy's snapshot, while it runs."""
    emulator = harness.emulator
    source = Path(str(make_url(harness.settings.database_url).database))
    voted_sql = "SELECT count(*) FROM participants WHERE voted_at IS NOT NULL"

    def voted(path: Path) -> int:
        return int(str(query(path, voted_sql)[0][0]))

    # A reader that holds its snapshot from before the first submission keeps every checkpoint
    # from moving those commits into the main file: they are in the -wal file only when the
    # backup starts, so a copy of the main file alone would miss them.
    reader = sqlite3.connect(source, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute(voted_sql).fetchall()
    users = [emulator.user(7600 + n) for n in range(BEFORE)]
    await asyncio.gather(*(take_part(emulator, u, n) for n, u in enumerate(users)))
    backed_up = asyncio.Event()
    numbers = itertools.count(BEFORE)

    async def keep_writing() -> None:
        while not backed_up.is_set():
            n = next(numbers)
            await take_part(emulator, emulator.user(7600 + n), n)
        n = next(numbers)  # and one more after the backup ended
        await take_part(emulator, emulator.user(7600 + n), n)

    writers = [asyncio.create_task(keep_writing()) for _ in range(4)]
    await emulator.wait_for(lambda: voted(source) > BEFORE, 30)  # the stream is flowing
    target = tmp_path / "copy.sqlite3"
    at_start = voted(source)
    code, output = await run_backup(harness, target)
    at_end = voted(source)
    backed_up.set()
    await asyncio.gather(*writers)
    reader.execute("COMMIT")
    reader.close()
    assert code == 0, output
    assert "backup written" in output

    assert query(target, "PRAGMA integrity_check") == [("ok",)]
    assert query(target, "PRAGMA foreign_key_check") == []
    schema = "SELECT name, sql FROM sqlite_master ORDER BY name"
    assert query(target, schema) == query(source, schema)
    assert query(target, "SELECT version_num FROM alembic_version") == query(
        source, "SELECT version_num FROM alembic_version"
    )
    # Everything committed before the backup started is in it, and the writes went on while
    # it ran: the copy is a snapshot from within the run, with later submissions not in it.
    in_copy = voted(target)
    assert at_start < in_copy < at_end, (at_start, in_copy, at_end)
    assert in_copy < voted(source)
    # A submission is never in it by halves.
    assert query(target, "SELECT count(*) FROM votes")[0][0] == in_copy
    assert query(target, "SELECT count(*) FROM impulses")[0][0] == in_copy
    assert not target.with_name("copy.sqlite3-wal").exists()


def test_a_backup_never_overwrites_and_postgres_points_to_pg_dump(tmp_path: Path) -> None:
    existing = tmp_path / "taken.sqlite3"
    existing.write_bytes(b"precious")
    source = tmp_path / "db.sqlite3"
    with contextlib.closing(sqlite3.connect(source)) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupError, match="exists already"):
        backup(f"sqlite+aiosqlite:///{source}", existing)
    assert existing.read_bytes() == b"precious"
    with pytest.raises(BackupError, match="pg_dump"):
        backup("postgresql+asyncpg://dialog@db/dialog", tmp_path / "pg.dump")
    with pytest.raises(BackupError, match="no database"):
        backup(f"sqlite+aiosqlite:///{tmp_path / 'missing.sqlite3'}", tmp_path / "x.sqlite3")


async def test_the_database_and_its_backups_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    from storage.db import Database
    from storage.migrate import upgrade

    previous = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        path = tmp_path / "private.sqlite3"
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(database)
            async with database.transaction() as session:
                await session.execute(text("UPDATE settings SET value = value"))
            files = [p for p in tmp_path.iterdir() if p.name.startswith("private.sqlite3")]
            assert len(files) >= 2  # the database and its -wal (and -shm) while it is open
            for file in files:
                assert file.stat().st_mode & 0o777 == 0o600, file.name
        finally:
            await database.dispose()
        copy = tmp_path / "copy.sqlite3"
        await asyncio.to_thread(backup, f"sqlite+aiosqlite:///{path}", copy)
        assert copy.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)
