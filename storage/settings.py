"""Run-time settings (the phase) in the database, cached briefly so every update does not read
them. Several instances see a change within `ttl` seconds; the one that made it, at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import select

from storage.db import Database
from storage.models import Setting
from storage.repository import upsert_into


class SettingsStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, key: str) -> str | None:
        async with self._db.reading() as session:
            return await session.scalar(select(Setting.value).where(Setting.key == key))

    async def set(self, key: str, value: str, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        async with self._db.transaction() as session:
            await session.execute(
                upsert_into(self._db, Setting)
                .values(key=key, value=value, updated_at=now)
                .on_conflict_do_update(
                    index_elements=["key"], set_={"value": value, "updated_at": now}
                )
            )


class PhaseCache:
    """The consultation phase: the config's value until a moderator changes it."""

    def __init__(self, store: SettingsStore, default_open: bool, ttl: float = 5.0) -> None:
        self._store = store
        self._default_open = default_open
        self._ttl = ttl
        self._value: bool | None = None
        self._read_at = 0.0

    async def is_open(self) -> bool:
        if self._value is None or time.monotonic() - self._read_at > self._ttl:
            stored = await self._store.get("phase")
            self._value = self._default_open if stored is None else stored == "open"
            self._read_at = time.monotonic()
        return self._value

    def forget(self) -> None:
        """Read again on next use (after this instance changed the phase)."""
        self._value = None
