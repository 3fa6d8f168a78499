"""Participation storage: each public method is one transaction.

Counts are computed by the database (GROUP BY over indexed columns), never by looping over rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.participation import (
    Citizen,
    ImpulseStatus,
    StoredImpulse,
    Submission,
    VoteSet,
)
from storage.db import Database
from storage.models import (
    Impulse,
    ImpulseReport,
    Participant,
    Rating,
    ReplyAddress,
    Vote,
    VoteTally,
)
from storage.tallies import VOTERS

ACTIVE = "active"


def upsert_into(database: Database, table: Any) -> Any:
    """An INSERT that takes ON CONFLICT clauses, on SQLite and PostgreSQL alike."""
    insert = sqlite_insert if database.is_sqlite else pg_insert
    return insert(table)


class SqlParticipationRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def is_registered(self, pseudonym: str) -> bool:
        async with self._db.lookup() as session:
            return await _participant_id(session, pseudonym) is not None

    async def register(self, citizen: Citizen, *, source: str | None, now: datetime) -> None:
        async with self._db.transaction() as session:
            await _ensure_participant(self._db, session, citizen, source=source, now=now)

    async def vote_set(self, pseudonym: str) -> VoteSet | None:
        async with self._db.lookup() as session:
            participant = await session.scalar(
                select(Participant).where(Participant.pseudonym == pseudonym)
            )
            if participant is None:
                return None
            topics = await session.scalars(
                select(Vote.topic_id).where(Vote.participant_id == participant.id)
            )
            impulses = await session.scalars(
                select(Impulse)
                .where(Impulse.participant_id == participant.id)
                .order_by(Impulse.created_at, Impulse.id)
            )
            return VoteSet(
                topics=tuple(topics),
                voted_at=participant.voted_at,
                impulses=tuple(_stored_impulse(i) for i in impulses),
            )

    async def impulse_texts(self, pseudonym: str) -> list[str]:
        async with self._db.lookup() as session:
            texts = await session.scalars(
                select(Impulse.text)
                .join(Participant, Participant.id == Impulse.participant_id)
                .where(Participant.pseudonym == pseudonym)
            )
            return list(texts)

    async def save_submission(
        self, citizen: Citizen, submission: Submission, *, impulse_status: str, now: datetime
    ) -> int | None:
        """Replace the person's vote set and add the impulse, all or nothing."""
        async with self._db.transaction() as session:
            participant_id, source = await _ensure_participant(
                self._db, session, citizen, source=None, now=now
            )
            await session.execute(delete(Vote).where(Vote.participant_id == participant_id))
            session.add_all(
                Vote(participant_id=participant_id, topic_id=t) for t in submission.topics
            )
            await session.execute(
                update(Participant)
                .where(Participant.id == participant_id)
                .values(voted_at=now, locale=citizen.locale)
            )
            if submission.impulse is None:
                return None
            published = impulse_status == ImpulseStatus.APPROVED.value
            new_id: int | None = await session.scalar(
                upsert_into(self._db, Impulse)
                .values(
                    participant_id=participant_id,
                    topic_id=submission.impulse.topic_id,
                    text=submission.impulse.text,
                    status=impulse_status,
                    source=source,
                    draft_key=submission.draft_key,
                    created_at=now,
                    decided_at=now if published else None,
                )
                .on_conflict_do_nothing()
                .returning(Impulse.id)
            )
            return new_id

    async def vote_counts(self) -> tuple[int, dict[str, int]]:
        """Participants with a vote set, and votes per topic, of active participants.

        The running tallies (storage/tallies.py) minus the votes of the few participants who
        are not active: a handful of rows, however many have voted, so it is a lookup.
        """
        return await self._db.run_read(_vote_counts)

    async def personal_data(self, pseudonym: str) -> dict[str, Any] | None:
        async with self._db.reading() as session:
            participant = await session.scalar(
                select(Participant).where(Participant.pseudonym == pseudonym)
            )
            if participant is None:
                return None
            address = await session.get(ReplyAddress, participant.id)
            topics = await session.scalars(
                select(Vote.topic_id).where(Vote.participant_id == participant.id)
            )
            impulses = await session.scalars(
                select(Impulse).where(Impulse.participant_id == participant.id)
            )
            ratings = await session.execute(
                select(Rating.impulse_id, Rating.value, Rating.rated_at).where(
                    Rating.participant_id == participant.id
                )
            )
            reports = await session.execute(
                select(
                    ImpulseReport.impulse_id, ImpulseReport.reason, ImpulseReport.reported_at
                ).where(ImpulseReport.participant_id == participant.id)
            )
            return {
                "pseudonym": participant.pseudonym,
                "source": participant.source,
                "language": participant.locale,
                "consented_at": participant.consented_at.isoformat(),
                "voted_at": participant.voted_at.isoformat() if participant.voted_at else None,
                "status": participant.status,
                "telegram_chat_id_for_replies": address.chat_id if address else None,
                "topics": list(topics),
                "impulses": [
                    {
                        "id": i.id,
                        "topic": i.topic_id,
                        "text": i.text,
                        "status": i.status,
                        "created_at": i.created_at.isoformat(),
                    }
                    for i in impulses
                ],
                "ratings": [
                    {"impulse": i, "value": value, "rated_at": at.isoformat()}
                    for i, value, at in ratings
                ],
                "reports": [
                    {"impulse": i, "reason": reason, "reported_at": at.isoformat()}
                    for i, reason, at in reports
                ],
            }

    async def erase(self, pseudonym: str) -> bool:
        """Delete the person; published impulses stay, detached from anyone (anonymised)."""
        async with self._db.transaction() as session:
            participant_id = await _participant_id(session, pseudonym)
            if participant_id is None:
                return False
            await session.execute(
                delete(Impulse).where(
                    Impulse.participant_id == participant_id,
                    Impulse.status != ImpulseStatus.APPROVED.value,
                )
            )
            await session.execute(
                update(Impulse)
                .where(Impulse.participant_id == participant_id)
                .values(participant_id=None, source=None)
            )
            for table in (Vote, ReplyAddress, Rating, ImpulseReport):
                await session.execute(delete(table).where(table.participant_id == participant_id))
            await session.execute(delete(Participant).where(Participant.id == participant_id))
            return True


def _vote_counts(connection: Connection) -> tuple[int, dict[str, int]]:
    counts = {topic: int(n) for topic, n in connection.execute(select(VoteTally.__table__))}
    # A literal, not a parameter: PostgreSQL uses the partial index only for its own predicate.
    not_active = (
        select(Vote.topic_id, Vote.participant_id)
        .join(Participant, Participant.id == Vote.participant_id)
        .where(literal_column("participants.status") != literal_column(f"'{ACTIVE}'"))
        .subquery()
    )
    for topic, n in connection.execute(
        select(not_active.c.topic_id, func.count()).group_by(not_active.c.topic_id)
    ):
        counts[topic] = counts.get(topic, 0) - int(n)
    blocked_voters = connection.scalar(
        select(func.count(func.distinct(not_active.c.participant_id)))
    )
    participants = counts.pop(VOTERS, 0) - int(blocked_voters or 0)
    return participants, {topic: n for topic, n in counts.items() if n > 0}


async def _participant_id(session: AsyncSession, pseudonym: str) -> int | None:
    return await session.scalar(select(Participant.id).where(Participant.pseudonym == pseudonym))


async def _ensure_participant(
    database: Database,
    session: AsyncSession,
    citizen: Citizen,
    *,
    source: str | None,
    now: datetime,
) -> tuple[int, str | None]:
    """Create the participant on first consent; refresh the reply address every time."""
    await session.execute(
        upsert_into(database, Participant)
        .values(pseudonym=citizen.pseudonym, source=source, locale=citizen.locale, consented_at=now)
        .on_conflict_do_nothing(index_elements=["pseudonym"])
    )
    row = (
        await session.execute(
            select(Participant.id, Participant.source).where(
                Participant.pseudonym == citizen.pseudonym
            )
        )
    ).one()
    await session.execute(
        upsert_into(database, ReplyAddress)
        .values(participant_id=row.id, chat_id=citizen.chat_id, updated_at=now)
        .on_conflict_do_update(
            index_elements=["participant_id"],
            set_={"chat_id": citizen.chat_id, "reachable": True, "updated_at": now},
        )
    )
    return row.id, row.source


def _stored_impulse(impulse: Impulse) -> StoredImpulse:
    return StoredImpulse(
        id=impulse.id,
        topic_id=impulse.topic_id,
        text=impulse.text,
        status=impulse.status,
        created_at=impulse.created_at,
    )
