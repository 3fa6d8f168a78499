"""Dropping the raw Telegram ids once the consultation no longer needs to answer anyone.

Answers stay under their pseudonyms; what goes is every reply address and every handled
update in the inbox. Updates still pending keep their payload: they are yet to be handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete

from storage.db import Database
from storage.inbox import PENDING
from storage.models import InboxUpdate, ReplyAddress


@dataclass(frozen=True)
class Purged:
    reply_addresses: int
    inbox_updates: int


async def purge_telegram_ids(database: Database) -> Purged:
    """One transaction: afterwards no citizen's raw Telegram id is left but in pending updates."""
    async with database.transaction() as session:
        addresses = await session.execute(delete(ReplyAddress))
        updates = await session.execute(delete(InboxUpdate).where(InboxUpdate.status != PENDING))
    return Purged(_count(addresses), _count(updates))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
