"""Updates set aside because they could not be read (bot/telegram/lenient.py,
bot/telegram/pipeline.py).

One row per update id, however often Telegram delivers it again (a webhook resend, a re-fetch):
its kind, the locations and types of its validation errors, and when it was set aside. Never its
payload, text or names. Kept `privacy.set_aside_days`, then forgotten (bot/ops/housekeeping.py);
`dialogbot inbox` shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, func, select

from storage.db import Database
from storage.models import SetAsideUpdate
from storage.repository import dialect_insert


@dataclass(frozen=True)
class Unreadable:
    """One update to set aside."""

    update_id: int
    kind: str
    problems: str  # "location: type; ..." (bot.telegram.lenient.Problem)


@dataclass(frozen=True)
class KindSummary:
    kind: str
    count: int
    first: datetime
    last: datetime


@cache
def _record_new(sqlite: bool) -> Any:
    return (
        dialect_insert(sqlite, SetAsideUpdate)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(SetAsideUpdate.update_id)
    )


class SetAside:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, updates: Sequence[Unreadable]) -> list[int]:
        """Record them; returns the ids not set aside before (in the order given)."""
        unique = {u.update_id: u for u in updates}
        if not unique:
            return []
        now = datetime.now(UTC)
        rows = [
            {
                "update_id": u.update_id,
                "kind": u.kind[:32],
                "problems": u.problems,
                "set_aside_at": now,
            }
            for u in unique.values()
        ]
        statement = _record_new(self._db.is_sqlite)

        def work(connection: Connection) -> set[int]:
            return set(connection.scalars(statement, rows))

        new = await self._db.run_write(work)
        return [i for i in unique if i in new]

    async def by_kind(self) -> list[KindSummary]:
        """How many of each kind, first and last time; most frequent first."""
        query = (
            select(
                SetAsideUpdate.kind,
                func.count(),
                func.min(SetAsideUpdate.set_aside_at),
                func.max(SetAsideUpdate.set_aside_at),
            )
            .group_by(SetAsideUpdate.kind)
            .order_by(func.count().desc(), SetAsideUpdate.kind)
        )
        async with self._db.reading() as session:
            rows = (await session.execute(query)).all()
        return [KindSummary(kind, n, _utc(first), _utc(last)) for kind, n, first, last in rows]

    async def latest(self, limit: int = 20) -> list[SetAsideUpdate]:
        query = (
            select(SetAsideUpdate)
            .order_by(SetAsideUpdate.set_aside_at.desc(), SetAsideUpdate.update_id.desc())
            .limit(limit)
        )
        async with self._db.reading() as session:
            return list(await session.scalars(query))

    async def forget_older_than(self, age: timedelta, *, now: datetime | None = None) -> int:
        cutoff = (now or datetime.now(UTC)) - age
        forget = delete(SetAsideUpdate).where(SetAsideUpdate.set_aside_at < cutoff)
        return int(await self._db.run_write(lambda c: c.execute(forget).rowcount))


def _utc(value: datetime) -> datetime:
    """Aggregates bypass the column type: SQLite hands back naive UTC (or even text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
