"""The incident log (bot.domain.incidents) in the database: one row per open incident.

Each step is one statement that decides by itself, so two instances that fail at the same time
count both failures and only one of them tells the moderators.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.db import Database
from storage.models import Incident
from storage.repository import upsert_into


class SqlIncidentLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def failed(self, kind: str, now: datetime) -> int:
        async with self._db.transaction() as session:
            await session.execute(
                upsert_into(self._db, Incident)
                .values(kind=kind, failures=1, opened_at=now)
                .on_conflict_do_update(
                    index_elements=["kind"], set_={"failures": Incident.failures + 1}
                )
            )
            failures = await session.scalar(select(Incident.failures).where(Incident.kind == kind))
        return int(failures or 0)

    async def mark_told(self, kind: str, now: datetime) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                upsert_into(self._db, Incident)
                .values(kind=kind, failures=0, opened_at=now, told_at=now)
                .on_conflict_do_update(
                    index_elements=["kind"],
                    set_={"told_at": now},
                    where=Incident.told_at.is_(None),
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def ended(self, kind: str) -> bool:
        async with self._db.transaction() as session:
            told = await session.execute(
                delete(Incident).where(Incident.kind == kind, Incident.told_at.is_not(None))
            )
            await session.execute(delete(Incident).where(Incident.kind == kind))
        return bool(getattr(told, "rowcount", 0))
