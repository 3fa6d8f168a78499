"""The same update delivered twice (a lost polling offset, a webhook retry, a restart) is
handled once; finished inbox rows are forgotten after a day."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from aiogram.types import Update
from sqlalchemy import select

from storage.models import InboxUpdate
from tests.harness import Harness


def start_update(update_id: int, user_id: int) -> Update:
    """What Telegram sends for /start, built outside the emulator (which never repeats one)."""
    person = {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "de"}
    message = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": "Test"},
        "from": person,
        "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }
    return Update.model_validate({"update_id": update_id, "message": message})


async def test_the_same_update_twice_is_handled_once(harness: Harness) -> None:
    user = harness.emulator.user(7201)
    app = harness.bot.app
    assert app is not None
    update = start_update(900_001, 7201)
    assert await app.pipeline.accept([update]) == 1
    assert await app.pipeline.accept([update]) == 0
    assert await app.pipeline.accept([update, update]) == 0
    await app.pipeline.wait_idle()
    assert len(user.messages) == 1 and "Datenschutz" in user.last_text


async def test_twice_in_one_batch_or_at_the_same_moment_is_still_once(harness: Harness) -> None:
    app = harness.bot.app
    assert app is not None
    first, second = harness.emulator.user(7202), harness.emulator.user(7203)
    batch = start_update(900_002, 7202)
    assert await app.pipeline.accept([batch, batch]) == 1
    racing = start_update(900_003, 7203)
    accepted = await asyncio.gather(*(app.pipeline.accept([racing]) for _ in range(5)))
    assert sum(accepted) == 1
    await app.pipeline.wait_idle()
    assert len(first.messages) == 1 and len(second.messages) == 1


async def test_an_update_handled_before_a_restart_is_not_handled_again(harness: Harness) -> None:
    user = harness.emulator.user(7204)
    update = start_update(900_004, 7204)
    assert harness.bot.app is not None
    await harness.bot.app.pipeline.accept([update])
    await harness.settle()
    await harness.bot.restart()  # a new Application on the same database
    assert harness.bot.app is not None
    assert await harness.bot.app.pipeline.accept([update]) == 0
    await harness.settle()
    assert len(user.messages) == 1


async def test_finished_updates_older_than_a_day_are_forgotten_at_start(harness: Harness) -> None:
    assert harness.bot.app is not None
    harness.emulator.user(7205)
    old = datetime.now(UTC) - timedelta(days=2)
    unfinished = start_update(900_012, 7205).model_dump_json(exclude_unset=True)
    rows = {
        900_010: ("done", old, ""),
        900_011: ("failed", old, ""),
        900_012: ("pending", old, unfinished),  # resumed at start, not forgotten
        900_013: ("done", datetime.now(UTC), ""),
    }
    async with harness.bot.app.database.transaction() as session:
        session.add_all(
            InboxUpdate(update_id=i, payload=payload, status=status, received_at=at)
            for i, (status, at, payload) in rows.items()
        )
    await harness.bot.restart()
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        left = set(await session.scalars(select(InboxUpdate.update_id)))
    assert {900_012, 900_013} <= left and not {900_010, 900_011} & left
