"""Read-only queries for exports: impulses with their topic and status, no Telegram ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

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
    # "telegram" or "web"; None once the author erased their data.
    channel: str | None = None


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
                Participant.channel,
            )
            .outerjoin(Participant, Participant.id == Impulse.participant_id)
            .order_by(Impulse.id)
        )
        return [ImpulseRow(*row) for row in rows]


@dataclass(frozen=True)
class VoteRow:
    pseudonym: str
    topic_id: str
    voted_at: datetime | None
    counted: bool  # False while the person is blocked
    channel: str = "telegram"  # or "web"


async def votes(database: Database) -> list[VoteRow]:
    async with database.reading() as session:
        rows = await session.execute(
            select(
                Participant.pseudonym,
                Vote.topic_id,
                Participant.voted_at,
                Participant.status,
                Participant.channel,
            )
            .join(Vote, Vote.participant_id == Participant.id)
            .order_by(Participant.id, Vote.topic_id)
        )
        return [
            VoteRow(p, t, at, status == ParticipantStatus.ACTIVE, channel)
            for p, t, at, status, channel in rows
        ]


async def participants_by_channel(database: Database) -> dict[str, int]:
    """People with a vote set whose votes count, per channel ("telegram", "web")."""
    async with database.reading() as session:
        rows = await session.execute(
            select(Participant.channel, func.count())
            .where(
                Participant.voted_at.is_not(None),
                Participant.status == ParticipantStatus.ACTIVE.value,
            )
            .group_by(Participant.channel)
        )
        return {str(channel): int(n) for channel, n in rows}
