"""Run-time settings (the phase) in the database, cached briefly so every update does not read
them. Several instances see a change within `ttl` seconds; the one that made it, at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.domain.participation import ParticipantStatus
from storage.db import Database
from storage.models import Participant, Setting
from storage.refreshing import Refreshing
from storage.repository import IS_NOT_ACTIVE, upsert_into


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
        self._value = Refreshing(self._read, ttl)  # one read at a time (storage/refreshing.py)

    async def is_open(self) -> bool:
        return await self._value.get()

    async def _read(self) -> bool:
        stored = await self._store.get("phase")
        return self._default_open if stored is None else stored == "open"

    def forget(self) -> None:
        """Read again on next use (after this instance changed the phase)."""
        self._value.forget()


# Through the partial index of the few who are not active, not a scan of all participants.
BLOCKED = select(Participant.pseudonym).where(
    IS_NOT_ACTIVE, Participant.status == ParticipantStatus.BLOCKED.value
)


class BlockList:
    """Pseudonyms of blocked participants, cached like the phase."""

    def __init__(self, database: Database, ttl: float = 5.0) -> None:
        self._db = database
        # One read at a time, even when every update in flight asks (storage/refreshing.py).
        self._blocked = Refreshing(self._read, ttl)

    async def contains(self, pseudonym: str) -> bool:
        return pseudonym in await self._blocked.get()

    async def _read(self) -> frozenset[str]:
        async with self._db.reading() as session:
            rows = await session.scalars(BLOCKED)
            return frozenset(rows)

    def forget(self) -> None:
        self._blocked.forget()
