"""The update inbox: every update recorded once by its id, before Telegram is told we have it.

An update is `pending` until its handler finished, then `done` with its payload dropped (the raw
update holds Telegram ids and names; it is kept no longer than needed to finish handling it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from storage.db import Database
from storage.models import InboxUpdate
from storage.repository import upsert_into

PENDING, DONE, FAILED = "pending", "done", "failed"


class Inbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, updates: Sequence[tuple[int, str]]) -> list[int]:
        """Store new updates; returns the ids that were not seen before, in order.

        The insert itself says which rows are new (RETURNING): a second process or a webhook
        retry racing with this one cannot make an update count as new twice.
        """
        unique = dict(updates)  # an id twice in one batch is one update
        if not unique:
            return []
        now = datetime.now(UTC)
        rows = [
            {"update_id": i, "payload": p, "status": PENDING, "received_at": now}
            for i, p in unique.items()
        ]
        insert = (
            upsert_into(self._db, InboxUpdate)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(InboxUpdate.update_id)
        )
        inserted = set(await self._db.run_write(lambda c: list(c.scalars(insert))))
        return [i for i in unique if i in inserted]

    async def finish(
        self,
        update_id: int,
        *,
        failed: bool = False,
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """Mark the update handled; `also` writes in the same transaction (the update's last
        conversation-state changes, storage.fsm.UpdateScope.write_in)."""
        done = (
            update(InboxUpdate)
            .where(InboxUpdate.update_id == update_id)
            .values(status=FAILED if failed else DONE, payload="", handled_at=datetime.now(UTC))
        )

        def work(connection: Connection) -> None:
            if also is not None:
                also(connection)
            connection.execute(done)

        await self._db.run_write(work)

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
