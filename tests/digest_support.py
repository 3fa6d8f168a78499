"""Helpers for the digest tests: a settable clock, a bot with a channel, and quick seeding
through the real storage API (the dialog itself is tested in test_dialog.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app.runtime import Application
from bot.domain.participation import Citizen, ImpulseDraft, Submission
from bot.emulator.server import BotApiEmulator, StoredMessage
from storage.db import Database
from storage.models import Digest, Impulse
from storage.repository import SqlParticipationRepository
from tests.harness import Harness, RunningBot, make_settings

CHANNEL = "@ruhr_dialog"
# 18:00 in Berlin is 16:00 UTC in May (CEST).
MAY_18_1800 = datetime(2026, 5, 18, 16, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return moment


@dataclass
class DigestHarness(Harness):
    clock: FakeClock

    @property
    def app(self) -> Application:
        assert self.bot.app is not None
        return self.bot.app

    @property
    def database(self) -> Database:
        return self.app.database

    def posts(self) -> list[StoredMessage]:
        return self.emulator.chat_messages(CHANNEL)

    def photos(self) -> list[StoredMessage]:
        return [m for m in self.posts() if m.kind == "photo"]

    async def tick(self, moment: datetime) -> datetime:
        self.clock.set(moment)
        return await self.app.scheduler.tick(moment)

    async def seed(
        self,
        topics: Sequence[str],
        *,
        at: datetime,
        impulse: str | None = None,
        source: str | None = None,
        channel: str = "telegram",
    ) -> int | None:
        return await seed(
            self.database, topics, at=at, impulse=impulse, source=source, channel=channel
        )


async def digest_harness(
    emulator: BotApiEmulator, database_url: str, start: datetime, **overrides: Any
) -> AsyncIterator[DigestHarness]:
    emulator.add_channel(CHANNEL)
    clock = FakeClock(start)
    bot = RunningBot(make_settings(emulator.base_url, database_url, **overrides), clock=clock)
    await bot.start()
    try:
        yield DigestHarness(emulator, bot, clock)
    finally:
        await bot.stop()


@pytest.fixture
async def dh(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[DigestHarness]:
    async for harness in digest_harness(emulator, database_url, MAY_18_1800 - timedelta(hours=6)):
        yield harness


_counter = iter(range(1, 1_000_000))


async def seed(
    database: Database,
    topics: Sequence[str],
    *,
    at: datetime,
    impulse: str | None = None,
    source: str | None = None,
    channel: str = "telegram",
) -> int | None:
    """One participant who consented and voted at `at`; returns the impulse id, if any."""
    number = next(_counter)
    citizen = Citizen(
        pseudonym=f"p{number:06d}", chat_id=10_000 + number, locale="de", channel=channel
    )
    repo = SqlParticipationRepository(database)
    await repo.register(citizen, source=source, now=at)
    draft = ImpulseDraft(text=impulse, topic_id=topics[0]) if impulse is not None else None
    submission = Submission(topics=tuple(topics), impulse=draft, draft_key=f"d{number}")
    return await repo.save_submission(citizen, submission, impulse_status="pending", now=at)


async def decide(database: Database, impulse_id: int, status: str, at: datetime) -> None:
    """What moderation does to an impulse, set directly."""
    async with database.transaction() as session:
        await session.execute(
            update(Impulse).where(Impulse.id == impulse_id).values(status=status, decided_at=at)
        )


async def digest_rows(database: Database) -> list[Digest]:
    async with database.reading() as session:
        return list(await session.scalars(select(Digest).order_by(Digest.id)))


def figures_of(row: Digest) -> dict[str, Any]:
    assert row.figures is not None
    data: dict[str, Any] = json.loads(row.figures)
    return data
