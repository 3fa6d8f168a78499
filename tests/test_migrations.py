"""Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    await upgrade(database)
    await upgrade(database)  # idempotent: a second start changes nothing

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, Base.metadata))

    async with database.write_engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    await database.dispose()
