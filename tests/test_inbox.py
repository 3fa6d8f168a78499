"""The same update delivered twice (a lost polling offset, a webhook retry, a restart) is
handled once; one whose "done" mark a crash prevented is handled again, harmlessly; finished
inbox rows are forgotten after a day."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from sqlalchemy import select

from storage.db import Database
from storage.inbox import Inbox
from storage.models import InboxPayload, InboxUpdate
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


async def test_a_handled_update_keeps_its_id_but_not_its_payload(harness: Harness) -> None:
    """The raw update (names, ids) goes once handled; the row that prevents a second handling
    stays (a day; see the next tests)."""
    citizen = harness.citizen(7209)
    await citizen.take_part(["Mobilität & ÖPNV"])
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        statuses = list(await session.scalars(select(InboxUpdate.status)))
        payloads = list(await session.scalars(select(InboxPayload.update_id)))
    assert len(statuses) >= 5 and set(statuses) == {"done"}
    assert payloads == []


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


async def dies_after(
    harness: Harness, api_method: str, action: Callable[[], object], *, before: bool = False
) -> None:
    """Do `action`; the bot process dies right after the update's `api_method` call went out
    (or, `before`, just before it goes out, its state changes already committed): nothing
    after it is sent or written, the update's "done" mark included (a SIGKILL there)."""
    assert harness.bot.app is not None
    died = asyncio.Event()

    async def die(
        make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        dies = method.__api_method__ == api_method and not died.is_set()
        if dies and before:
            died.set()
            await asyncio.Event().wait()  # until the crash below cancels it
        result = await make_request(bot, method)
        if dies:
            died.set()
            await asyncio.Event().wait()
        return result

    harness.bot.app.bot.session.middleware(die)
    action()
    await asyncio.wait_for(died.wait(), timeout=10)
    await harness.bot.crash()
    await harness.bot.start()  # the update is still pending in the inbox: handled again
    await harness.settle()


async def test_a_press_handled_again_after_a_crash_completes_its_step_once(
    harness: Harness,
) -> None:
    """Handled again, a press repeats its calls: Telegram refuses the second answer to the
    button ("query is too old") and an edit the message already shows ("not modified"). The
    step still completes, a topic tapped once stays chosen, and nobody hears of it."""
    c = harness.citizen(7206)
    await c.send("/start")
    await c.press("Mitmachen")
    # After all the replies of a press.
    await dies_after(harness, "editMessageText", lambda: c.user.press("Mobilität & ÖPNV"))
    assert "Gewählt: 1 von 3" in c.last_text
    await dies_after(harness, "editMessageText", lambda: c.user.press("Weiter"))
    assert "Schritt 2 von 3" in c.last_text
    await c.press("Überspringen")
    # After the first of them: the vote is stored, the thanks not yet sent.
    await dies_after(harness, "answerCallbackQuery", lambda: c.user.press("Absenden"))
    assert "Danke!" in c.last_text and "Teilnehmende bisher: 1" in c.last_text
    assert "Mobilität & ÖPNV: 100 %" in c.last_text
    assert not any("schiefgegangen" in m.text for m in c.user.messages)


async def test_a_step_saved_but_not_yet_shown_before_a_crash_is_shown_after_it(
    harness: Harness,
) -> None:
    """The state is committed just before the reply that shows the next step. A crash in
    between: handled again, the press belongs to the step before, and the bot shows the
    current step again instead of calling the button out of date."""
    c = harness.citizen(7207)
    await c.send("/start")
    # Buttons that move the dialog on show the next step in place (editMessageText).
    await dies_after(harness, "editMessageText", lambda: c.user.press("Mitmachen"), before=True)
    assert "Gewählt: 0 von 3" in c.last_text
    await c.press("Mobilität & ÖPNV")
    await dies_after(harness, "editMessageText", lambda: c.user.press("Weiter"), before=True)
    assert "Schritt 2 von 3" in c.last_text
    await dies_after(
        harness, "sendMessage", lambda: c.user.send_text("Mehr Nachtbusse"), before=True
    )
    assert "Schritt 3 von 3" in c.last_text
    await c.press("Absenden")
    assert "Danke!" in c.last_text
    assert not any("nicht mehr aktuell" in (a.text or "") for a in c.user.callback_answers)


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
            InboxUpdate(update_id=i, status=status, received_at=at)
            for i, (status, at, _) in rows.items()
        )
        session.add_all(
            InboxPayload(update_id=i, payload=payload)
            for i, (_, _, payload) in rows.items()
            if payload
        )
    await harness.bot.restart()
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        left = set(await session.scalars(select(InboxUpdate.update_id)))
    assert {900_012, 900_013} <= left and not {900_010, 900_011} & left


async def test_an_update_whose_record_was_unsure_is_handed_out_once(
    harness: Harness, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During an outage a record's COMMIT goes through but its answer is lost, so the caller
    tries again. Meanwhile the look for unfinished updates hands that update out (it is this
    instance's, and pending); a retry that fails again, then one that goes through, must not
    hand it out a second time."""
    database = Database(database_url)
    inbox = Inbox(database, owner="unsure-instance")
    await inbox.open()
    update = start_update(900_010, 7210)
    batch = [(update.update_id, update.model_dump_json(exclude_unset=True))]
    run_write = database.run_write_grouped
    lost: list[bool] = []

    async def answer_lost(work: Any) -> Any:
        result = await run_write(work)  # committed
        if not lost:
            lost.append(True)
            raise OSError("the connection was cut before the answer to the COMMIT came")
        return result

    async def refused(work: Any) -> Any:
        raise OSError("connection refused")

    try:
        monkeypatch.setattr(database, "run_write_grouped", answer_lost)
        with pytest.raises(OSError):
            await inbox.record(batch, {update.update_id: 7210})
        assert [i for i, _ in await inbox.pending()] == [update.update_id]  # handed out
        monkeypatch.setattr(database, "run_write_grouped", refused)
        with pytest.raises(OSError):  # the caller's retry: the database is still away
            await inbox.record(batch, {update.update_id: 7210})
        monkeypatch.setattr(database, "run_write_grouped", run_write)
        assert await inbox.record(batch, {update.update_id: 7210}) == []  # not once more
        assert [i for i, _ in await inbox.pending()] in ([], [update.update_id])
        await inbox.finish(update.update_id)
        assert await inbox.record(batch, {update.update_id: 7210}) == []
    finally:
        await inbox.close()
        await database.dispose()


async def test_an_update_whose_unsure_record_did_not_commit_is_new_on_the_retry(
    harness: Harness, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other way an unsure record ends: its COMMIT did not go through either, so the
    retry inserts the update, and it counts as new (once)."""
    database = Database(database_url)
    inbox = Inbox(database, owner="unsure-instance")
    await inbox.open()
    update = start_update(900_011, 7211)
    batch = [(update.update_id, update.model_dump_json(exclude_unset=True))]
    run_write = database.run_write_grouped

    async def refused(work: Any) -> Any:
        raise OSError("connection refused")

    try:
        monkeypatch.setattr(database, "run_write_grouped", refused)
        with pytest.raises(OSError):
            await inbox.record(batch, {update.update_id: 7211})
        monkeypatch.setattr(database, "run_write_grouped", run_write)
        assert await inbox.record(batch, {update.update_id: 7211}) == [update.update_id]
        assert await inbox.record(batch, {update.update_id: 7211}) == []
        await inbox.finish(update.update_id)
    finally:
        await inbox.close()
        await database.dispose()
