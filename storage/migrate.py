"""Apply Alembic migrations from code: at start and by `dialogbot db upgrade`.

A start on a database that is already at the newest revision (every restart) only reads the
recorded revision and does not import alembic at all: 12 MB less for as long as the bot runs.
`HEAD` names that newest revision; tests/test_migrations.py checks it against the
migration files, so a new migration cannot be forgotten here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0012"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def current_revision(database: Database) -> str | None:
    """The revision the database records, None for a database alembic never touched."""

    def _read(connection: Connection) -> str | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    async with database.write_engine.connect() as connection:
        return await connection.run_sync(_read)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Upgrade on the write engine's connection (env.py uses a given connection as is)."""
    if revision == "head" and await current_revision(database) == HEAD:
        return

    def _run(connection: Connection) -> None:
        from alembic import command

        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with database.write_engine.begin() as connection:
        await connection.run_sync(_run)
