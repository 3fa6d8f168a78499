"""The update inbox: every update recorded once by its id, before Telegram is told we have it.

An update is `pending` until its handler finished, then `done` with its payload dropped (the raw
update holds Telegram ids and names; it is kept no longer than needed to finish handling it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from storage.db import Database
from storage.models import InboxUpdate
from storage.repository import upsert_into

PENDING, DONE, FAILED = "pending", "done", "failed"


class Inbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, updates: Sequence[tuple[int, str]]) -> list[int]:
        """Store new updates; returns the ids that were not seen before, in order."""
        if not updates:
            return []
        ids = [update_id for update_id, _ in updates]
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            known = set(
                await session.scalars(
                    select(InboxUpdate.update_id).where(InboxUpdate.update_id.in_(ids))
                )
            )
            fresh = [(i, payload) for i, payload in updates if i not in known]
            if fresh:
                await session.execute(
                    upsert_into(self._db, InboxUpdate)
                    .values(
                        [
                            {"update_id": i, "payload": p, "status": PENDING, "received_at": now}
                            for i, p in fresh
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["update_id"])
                )
        return [i for i, _ in fresh]

    async def finish(self, update_id: int, *, failed: bool = False) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.update_id == update_id)
                .values(status=FAILED if failed else DONE, payload="", handled_at=datetime.now(UTC))
            )

    async def pending(self) -> list[tuple[int, str]]:
        """Updates recorded but never finished (the process stopped or died mid-way)."""
        async with self._db.reading() as session:
            rows = await session.execute(
                select(InboxUpdate.update_id, InboxUpdate.payload)
                .where(InboxUpdate.status == PENDING)
                .order_by(InboxUpdate.update_id)
            )
            return [(row.update_id, row.payload) for row in rows]

    async def forget_older_than(self, age: timedelta) -> int:
        """Drop finished rows; their ids only matter while Telegram might deliver them again."""
        cutoff = datetime.now(UTC) - age
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(InboxUpdate).where(
                    InboxUpdate.status != PENDING, InboxUpdate.received_at < cutoff
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
