"""What the web chat (bot/web/) stores besides the participation tables: each browser's place in a
half-finished dialog, its one-use invite codes (as keyed hashes) and the published ideas its
results page shows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, insert, select, update

from bot.domain.impulse import ImpulseStatus
from storage.db import Database
from storage.fsm import EMPTY, read_rows, stored_row, write_rows
from storage.models import Impulse, WebInvite

WEB_KEY = "web:"  # the Telegram dialog's keys are keyed hashes without a colon: no overlap


class WebDrafts:
    """One web participant's place in the dialog (step, chosen topics, the idea so far), kept
    where the Telegram dialog keeps its FSM (storage/fsm.py: `conversation_states`) under
    "web:" plus the web pseudonym, so a restart or a second instance continues the dialog."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def load(self, pseudonym: str) -> tuple[str | None, dict[str, Any]]:
        """The stored step and draft; (None, {}) when nothing is stored."""
        key = WEB_KEY + pseudonym
        rows = await self._db.run_read(partial(read_rows, [key]))
        return rows.get(key, EMPTY)

    async def save(self, pseudonym: str, step: str | None, data: dict[str, Any]) -> None:
        """Keep the step and draft (no step and no data: the row goes)."""
        rows = [(WEB_KEY + pseudonym, stored_row((step, data)))]
        await self._db.run_write(partial(write_rows, self._db, rows=rows))

    async def drop(self, pseudonym: str) -> None:
        await self.save(pseudonym, None, {})


class WebInvites:
    """One-use codes: `redeem` takes a code once, whoever asks second is refused."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, code_hashes: Iterable[str], now: datetime) -> None:
        rows = [{"code_hash": h, "created_at": now, "used_at": None} for h in code_hashes]
        if not rows:
            return
        async with self._db.transaction() as session:
            await session.execute(insert(WebInvite), rows)

    async def redeem(self, code_hash: str, now: datetime) -> bool:
        """True once for a code that exists and was not used; the check and the mark are one
        statement, so two people typing the same code at once cannot both get in."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(WebInvite)
                .where(WebInvite.code_hash == code_hash, WebInvite.used_at.is_(None))
                .values(used_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def unused(self) -> int:
        async with self._db.reading() as session:
            count = await session.scalar(
                select(func.count()).select_from(WebInvite).where(WebInvite.used_at.is_(None))
            )
            return int(count or 0)


async def published_impulses(database: Database, limit: int = 50) -> list[tuple[str, str]]:
    """The newest published ideas (topic id, text), newest first."""
    async with database.reading() as session:
        rows = await session.execute(
            select(Impulse.topic_id, Impulse.text)
            .where(Impulse.status == ImpulseStatus.APPROVED.value)
            .order_by(Impulse.created_at.desc(), Impulse.id.desc())
            .limit(limit)
        )
        return [(str(topic), str(text)) for topic, text in rows]
