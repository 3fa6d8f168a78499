"""Running vote counts, kept by the database itself, so the standings never count 3,000,000 rows.

`vote_tallies` holds one row per topic (its votes, of every participant) and one row under the key
"" (participants with at least one vote). Triggers on `votes` keep them right for every writer:
submissions, erasure, a cascade from a deleted participant, a bulk load. Blocked participants are
not in the tallies' logic at all; the standings subtract their few votes at read time
(storage.repository.vote_counts), so blocking and unblocking touch no tally.

SQLite runs the row triggers one row at a time, and one writer at a time. PostgreSQL runs one
statement trigger per statement (with the changed rows as a transition table) and may run many
transactions at once: each trigger first updates the "" row, so that row is a gate that every
tally change passes in turn, and two transactions can never wait for each other's tally rows in
opposite order (no deadlocks). The price is that submissions on PostgreSQL serialise for the
rest of their (short) transaction; docs/scaling.md has the figures.

Migration 0004 installs this; the benchmark data generator drops the triggers for a bulk load and
rebuilds the tallies afterwards.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

VOTERS = ""  # the row that counts participants with a vote set

_SQLITE_CREATE = [
    """
    CREATE TRIGGER tr_votes_tally_insert AFTER INSERT ON votes
    BEGIN
        INSERT INTO vote_tallies (topic_id, votes) VALUES (NEW.topic_id, 1)
            ON CONFLICT (topic_id) DO UPDATE SET votes = votes + 1;
        UPDATE vote_tallies SET votes = votes + 1
            WHERE topic_id = ''
            AND (SELECT count(*) FROM votes WHERE participant_id = NEW.participant_id) = 1;
    END
    """,
    """
    CREATE TRIGGER tr_votes_tally_delete AFTER DELETE ON votes
    BEGIN
        UPDATE vote_tallies SET votes = votes - 1 WHERE topic_id = OLD.topic_id;
        UPDATE vote_tallies SET votes = votes - 1
            WHERE topic_id = ''
            AND NOT EXISTS (SELECT 1 FROM votes WHERE participant_id = OLD.participant_id);
    END
    """,
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS tr_votes_tally_insert",
    "DROP TRIGGER IF EXISTS tr_votes_tally_delete",
]

_POSTGRES_CREATE = [
    """
    CREATE OR REPLACE FUNCTION vote_tallies_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM new_votes) THEN
            RETURN NULL;
        END IF;
        -- The gate first (see storage/tallies.py): participants whose votes are all new.
        UPDATE vote_tallies SET votes = votes + (
            SELECT count(*) FROM (
                SELECT participant_id, count(*) AS added FROM new_votes GROUP BY participant_id
            ) AS n
            WHERE (SELECT count(*) FROM votes v WHERE v.participant_id = n.participant_id)
                = n.added
        ) WHERE topic_id = '';
        INSERT INTO vote_tallies (topic_id, votes)
            SELECT topic_id, count(*) FROM new_votes GROUP BY topic_id ORDER BY topic_id
            ON CONFLICT (topic_id) DO UPDATE SET votes = vote_tallies.votes + EXCLUDED.votes;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION vote_tallies_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM old_votes) THEN
            RETURN NULL;
        END IF;
        UPDATE vote_tallies SET votes = votes - (
            SELECT count(DISTINCT o.participant_id) FROM old_votes o
            WHERE NOT EXISTS (SELECT 1 FROM votes v WHERE v.participant_id = o.participant_id)
        ) WHERE topic_id = '';
        UPDATE vote_tallies t SET votes = t.votes - d.removed
            FROM (SELECT topic_id, count(*) AS removed FROM old_votes GROUP BY topic_id) AS d
            WHERE t.topic_id = d.topic_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tr_votes_tally_insert AFTER INSERT ON votes
        REFERENCING NEW TABLE AS new_votes
        FOR EACH STATEMENT EXECUTE FUNCTION vote_tallies_inserted()
    """,
    """
    CREATE TRIGGER tr_votes_tally_delete AFTER DELETE ON votes
        REFERENCING OLD TABLE AS old_votes
        FOR EACH STATEMENT EXECUTE FUNCTION vote_tallies_deleted()
    """,
]
_POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS tr_votes_tally_insert ON votes",
    "DROP TRIGGER IF EXISTS tr_votes_tally_delete ON votes",
    "DROP FUNCTION IF EXISTS vote_tallies_inserted()",
    "DROP FUNCTION IF EXISTS vote_tallies_deleted()",
]

_REBUILD = [
    "DELETE FROM vote_tallies",
    "INSERT INTO vote_tallies (topic_id, votes) SELECT topic_id, count(*) FROM votes"
    " GROUP BY topic_id",
    "INSERT INTO vote_tallies (topic_id, votes)"
    " SELECT '', count(DISTINCT participant_id) FROM votes",
]


def _run(connection: Connection, statements: list[str]) -> None:
    for statement in statements:
        connection.execute(text(statement))


def create_triggers(connection: Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    _run(connection, _POSTGRES_CREATE if postgres else _SQLITE_CREATE)


def drop_triggers(connection: Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    _run(connection, _POSTGRES_DROP if postgres else _SQLITE_DROP)


def rebuild(connection: Connection) -> None:
    """Count everything afresh (after a bulk load without triggers)."""
    _run(connection, _REBUILD)
