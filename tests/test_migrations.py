"""Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base


async def test_migrations_match_the_models(database_url: str) -> None:
    database = Database(database_url)
    await upgrade(database)
    await upgrade(database)  # idempotent: a second start changes nothing

    def diff(connection: Connection) -> list[object]:
        # Server defaults too: a migration's default is what rows added by plain SQL get.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async with database.write_engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    await database.dispose()


async def test_the_vote_tallies_follow_every_change_of_the_votes(database_url: str) -> None:
    """Triggers keep the running counts right: first votes, replaced votes, erasure, blocking."""
    from datetime import UTC, datetime

    from sqlalchemy import delete, insert, update

    from storage.models import Participant, Vote
    from storage.repository import SqlParticipationRepository

    database = Database(database_url)
    await upgrade(database)
    now = datetime.now(UTC)
    repository = SqlParticipationRepository(database)

    def participant(pseudonym: str) -> dict[str, object]:
        return {"pseudonym": pseudonym, "locale": "de", "consented_at": now}

    try:
        async with database.transaction() as session:
            for name in ("a", "b", "c"):
                await session.execute(insert(Participant).values(participant(name)))
        async with database.transaction() as session:
            ids = dict((await session.execute(select(Participant.pseudonym, Participant.id))).all())
            votes = [("a", "x"), ("a", "y"), ("b", "x"), ("c", "z")]
            await session.execute(
                insert(Vote), [{"participant_id": ids[p], "topic_id": t} for p, t in votes]
            )
        assert await repository.vote_counts() == (3, {"x": 2, "y": 1, "z": 1})
        async with database.transaction() as session:  # a changed vote set, as a submission
            await session.execute(delete(Vote).where(Vote.participant_id == ids["a"]))
            await session.execute(insert(Vote).values(participant_id=ids["a"], topic_id="z"))
        assert await repository.vote_counts() == (3, {"x": 1, "z": 2})
        async with database.transaction() as session:  # blocked: still counted, then left out
            await session.execute(
                update(Participant).where(Participant.id == ids["b"]).values(status="blocked")
            )
        assert await repository.vote_counts() == (2, {"z": 2})
        assert await repository.erase("c")
        assert await repository.vote_counts() == (1, {"z": 1})
        async with database.transaction() as session:  # a cascade from the participant
            await session.execute(delete(Participant).where(Participant.id == ids["a"]))
        assert await repository.vote_counts() == (0, {})
    finally:
        await database.dispose()


def test_head_names_the_newest_migration() -> None:
    """storage.migrate.HEAD lets a restart skip alembic; it must follow the migration files."""
    from alembic.script import ScriptDirectory

    from storage.migrate import HEAD, alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [HEAD]


async def test_the_revision_is_recorded_and_read_back(database_url: str) -> None:
    from sqlalchemy import text

    from storage.migrate import HEAD, current_revision

    database = Database(database_url)
    try:
        await upgrade(database)
        assert await current_revision(database) == HEAD
        async with database.transaction() as session:  # as if alembic had never run
            await session.execute(text("DROP TABLE alembic_version"))
        assert await current_revision(database) is None
    finally:
        await database.dispose()


async def test_pending_payloads_move_to_their_own_table(database_url: str) -> None:
    """Migration 0006 keeps what is still to be handled and drops what was blanked."""
    from sqlalchemy import inspect, text

    from storage.models import InboxPayload

    database = Database(database_url)
    try:
        async with database.write_engine.begin() as connection:
            await connection.run_sync(_drop_all)
        await upgrade(database, "0005")
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO inbox (update_id, payload, status, received_at) VALUES"
                    " (1, '{\"update_id\": 1}', 'pending', CURRENT_TIMESTAMP),"
                    " (2, '', 'done', CURRENT_TIMESTAMP)"
                )
            )
        await upgrade(database)
        async with database.reading() as session:
            moved = (
                await session.execute(select(InboxPayload.update_id, InboxPayload.payload))
            ).all()
        assert [tuple(row) for row in moved] == [(1, '{"update_id": 1}')]
        async with database.write_engine.connect() as connection:
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("inbox")}
            )
        assert "payload" not in columns and {"update_id", "status"} <= columns
    finally:
        await database.dispose()


def _drop_all(connection: Connection) -> None:
    """Back to an empty database (the PostgreSQL tests start from a migrated template)."""
    from storage import tallies

    tallies.drop_triggers(connection)
    Base.metadata.drop_all(connection)
    connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
