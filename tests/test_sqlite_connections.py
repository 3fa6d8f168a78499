"""The settings every SQLite connection gets (storage/db.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import SQLITE_READER_CACHE_KIB, Database


async def pragma(engine: AsyncEngine, name: str) -> object:
    async with engine.connect() as connection:
        return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()


async def test_readers_keep_a_small_page_cache_and_all_use_wal(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        for readers in (database.read_engine, database.lookup_engine):
            assert await pragma(readers, "cache_size") == -SQLITE_READER_CACHE_KIB
        assert await pragma(database.write_engine, "cache_size") == -2000  # SQLite's default
        for engine in (database.read_engine, database.lookup_engine, database.write_engine):
            assert await pragma(engine, "journal_mode") == "wal"
            assert await pragma(engine, "synchronous") == 1  # NORMAL
    finally:
        await database.dispose()
