"""Participation storage: each public method is one transaction.

Counts are computed by the database (GROUP BY over indexed columns), never by looping over rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
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
from storage.models import Impulse, Participant, ReplyAddress, Vote

ACTIVE = "active"


def upsert_into(database: Database, table: Any) -> Any:
    """An INSERT that takes ON CONFLICT clauses, on SQLite and PostgreSQL alike."""
    insert = sqlite_insert if database.is_sqlite else pg_insert
    return insert(table)


class SqlParticipationRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def is_registered(self, pseudonym: str) -> bool:
        async with self._db.reading() as session:
            return await _participant_id(session, pseudonym) is not None

    async def register(self, citizen: Citizen, *, source: str | None, now: datetime) -> None:
        async with self._db.transaction() as session:
            await _ensure_participant(self._db, session, citizen, source=source, now=now)

    async def vote_set(self, pseudonym: str) -> VoteSet | None:
        async with self._db.reading() as session:
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
                update(Participant).where(Participant.id == participant_id).values(voted_at=now)
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
        """Participants with a vote set, and votes per topic, of active participants."""
        counted = (
            select(Vote.topic_id, Vote.participant_id)
            .join(Participant, Participant.id == Vote.participant_id)
            .where(Participant.status == ACTIVE)
            .subquery()
        )
        async with self._db.reading() as session:
            participants = await session.scalar(
                select(func.count(func.distinct(counted.c.participant_id)))
            )
            rows = await session.execute(
                select(counted.c.topic_id, func.count()).group_by(counted.c.topic_id)
            )
            return int(participants or 0), {topic: int(n) for topic, n in rows}

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
            for table in (Vote, ReplyAddress):
                await session.execute(delete(table).where(table.participant_id == participant_id))
            await session.execute(delete(Participant).where(Participant.id == participant_id))
            return True


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
