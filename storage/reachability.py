"""Whether Telegram still lets us write to a person (`reply_addresses.reachable`).

The unreachable ones are few and every update asks about its sender, so their pseudonyms are
cached for `ttl` seconds like the block list; a change made here clears the cache at once.
"""

from __future__ import annotations

from sqlalchemy import select, text, update

from storage.db import Database
from storage.models import Participant, ReplyAddress
from storage.refreshing import Refreshing

# Through the partial index of exactly these rows: its own predicate, as SQL text (SQLAlchemy
# would write `reachable IS 0` on SQLite, which does not match it).
UNREACHABLE = (
    select(Participant.pseudonym)
    .join(ReplyAddress, ReplyAddress.participant_id == Participant.id)
    .where(text("NOT reply_addresses.reachable"))
)


class ReplyAddresses:
    def __init__(self, database: Database, ttl: float = 5.0) -> None:
        self._db = database
        # One read at a time, even when every update in flight asks (storage/refreshing.py).
        self._unreachable = Refreshing(self._read, ttl)

    async def set_reachable(self, pseudonym: str, reachable: bool) -> bool:
        """True if the person's address changed (a person without one is left alone)."""
        participant = select(Participant.id).where(Participant.pseudonym == pseudonym)
        async with self._db.transaction() as session:
            result = await session.execute(
                update(ReplyAddress)
                .where(
                    ReplyAddress.participant_id == participant.scalar_subquery(),
                    ReplyAddress.reachable.is_not(reachable),
                )
                .values(reachable=reachable)
            )
        self._unreachable.forget()
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def is_unreachable(self, pseudonym: str) -> bool:
        return pseudonym in await self._unreachable.get()

    async def _read(self) -> frozenset[str]:
        async with self._db.reading() as session:
            rows = await session.scalars(UNREACHABLE)
            return frozenset(rows)
