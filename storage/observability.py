"""The figures `/metrics` and `/readyz` read from the database, in one short read.

Counts only, never a row's content: how many updates wait in the inbox and since when, how
many participants there are by status, how many ideas wait for a moderator, how many digests
are in which state. Each count uses an index (inbox status, impulse status, digest status);
the participants are counted whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, and_, func, select, text

from bot.domain.digests import DigestStatus
from bot.domain.impulse import ImpulseStatus
from storage.db import Database
from storage.inbox import PENDING
from storage.models import Digest, Impulse, InboxUpdate, Participant


@dataclass(frozen=True)
class Figures:
    inbox_backlog: int
    inbox_oldest: datetime | None
    participants: dict[str, int] = field(default_factory=dict)
    review_pending: int = 0
    digests: dict[str, int] = field(default_factory=dict)


async def ping(database: Database) -> None:
    """One round trip to the database: raises if it does not answer."""

    def _ping(connection: Connection) -> None:
        connection.execute(text("SELECT 1"))

    await database.run_read(_ping)


async def inbox_backlog(database: Database) -> tuple[int, datetime | None]:
    """Updates recorded but not handled, and when the oldest of them was received."""

    def _read(connection: Connection) -> tuple[int, datetime | None]:
        row = connection.execute(
            select(func.count(), func.min(InboxUpdate.received_at)).where(
                InboxUpdate.status == PENDING
            )
        ).one()
        return int(row[0]), row[1]

    return await database.run_read(_read)


async def figures(database: Database) -> Figures:
    def _read(connection: Connection) -> Figures:
        backlog, oldest = connection.execute(
            select(func.count(), func.min(InboxUpdate.received_at)).where(
                InboxUpdate.status == PENDING
            )
        ).one()
        participants = dict(
            connection.execute(
                select(Participant.status, func.count()).group_by(Participant.status)
            ).all()
        )
        review = connection.execute(
            select(func.count()).where(Impulse.status == ImpulseStatus.PENDING.value)
        ).scalar_one()
        open_states = (DigestStatus.PENDING.value, DigestStatus.SENDING.value)
        rows = connection.execute(
            select(
                func.count().filter(Digest.status == DigestStatus.SENT.value),
                func.count().filter(Digest.status.in_(open_states)),
                func.count().filter(
                    and_(Digest.status.in_(open_states), Digest.last_error.is_not(None))
                ),
            )
        ).one()
        return Figures(
            inbox_backlog=int(backlog),
            inbox_oldest=oldest,
            participants={str(k): int(v) for k, v in participants.items()},
            review_pending=int(review),
            digests={"posted": int(rows[0]), "pending": int(rows[1]), "failing": int(rows[2])},
        )

    return await database.run_read(_read)
