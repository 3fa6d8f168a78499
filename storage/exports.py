"""Read-only queries for exports: impulses with their topic and status, no Telegram ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.domain.participation import ParticipantStatus
from storage.db import Database
from storage.models import Impulse, Participant, Vote


@dataclass(frozen=True)
class ImpulseRow:
    id: int
    topic_id: str
    text: str
    status: str
    created_at: datetime
    source: str | None


async def impulses(database: Database) -> list[ImpulseRow]:
    async with database.reading() as session:
        rows = await session.execute(
            select(
                Impulse.id,
                Impulse.topic_id,
                Impulse.text,
                Impulse.status,
                Impulse.created_at,
                Impulse.source,
            ).order_by(Impulse.id)
        )
        return [ImpulseRow(*row) for row in rows]


@dataclass(frozen=True)
class VoteRow:
    pseudonym: str
    topic_id: str
    voted_at: datetime | None
    counted: bool  # False while the person is blocked


async def votes(database: Database) -> list[VoteRow]:
    async with database.reading() as session:
        rows = await session.execute(
            select(Participant.pseudonym, Vote.topic_id, Participant.voted_at, Participant.status)
            .join(Vote, Vote.participant_id == Participant.id)
            .order_by(Participant.id, Vote.topic_id)
        )
        return [VoteRow(p, t, at, status == ParticipantStatus.ACTIVE) for p, t, at, status in rows]
