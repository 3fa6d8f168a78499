"""Telegram misbehaves (429, 5xx, dropped connections) and the database fails once: every
citizen still gets exactly one answer, and nothing is half-written."""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import SendMessage
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from bot.emulator.server import BotApiEmulator
from bot.telegram.resilience import RetryPolicy
from storage.models import InboxUpdate, Vote
from tests.harness import Harness, RunningBot, make_settings

# Also with aiogram's stock Bot API session (tests/conftest.py).
pytestmark = pytest.mark.both_sessions

SORRY = "etwas schiefgegangen"
MODERATOR = 900_042


def statuses(emulator: BotApiEmulator, method: str, chat_id: int | str) -> list[int]:
    return [c.status for c in emulator.calls_to(method) if c.chat_id == chat_id]


def texts_with(harness: Harness, chat_id: int, needle: str) -> list[str]:
    return [m.text for m in harness.emulator.chat_messages(chat_id) if needle in m.text]


async def count(harness: Harness, query: Any) -> int:
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        return int(await session.scalar(query) or 0)


def test_the_policy_waits_as_telegram_asks_and_backs_off_exponentially_with_jitter() -> None:
    random.seed(20261203)  # aiogram's Backoff draws its jitter from the module's generator
    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=30.0)
    method = SendMessage(chat_id=1, text="x")
    server = TelegramServerError(method, "Bad Gateway")
    runs = []
    for _ in range(20):
        backoff = policy.backoff()
        runs.append([policy.delay(backoff, server) for _ in range(12)])
    for waits in runs:
        assert 0.25 <= waits[0] < 0.75
        for before, after in itertools.pairwise(waits[:5]):
            assert 1.4 * before < after < 2.6 * before  # doubling, give or take the jitter
        assert 29.0 < waits[-1] <= 30.0  # capped (the jitter may take a little off)
    # Jitter: two clients that failed together do not come back at the same moment.
    assert len({round(waits[0], 6) for waits in runs}) == len(runs)
    assert len({round(waits[1], 6) for waits in runs}) == len(runs)
    backoff = policy.backoff()
    assert policy.delay(backoff, TelegramRetryAfter(method, "slow down", retry_after=7)) == 7.0
    assert policy.delay(backoff, TelegramRetryAfter(method, "slow down", retry_after=600)) == 30.0


async def test_a_reply_survives_429_5xx_and_a_dropped_connection_and_arrives_once(
    harness: Harness,
) -> None:
    anna = harness.citizen(7001)
    harness.emulator.inject_fault("sendMessage", status=429, retry_after=1)
    harness.emulator.inject_fault("sendMessage", status=500)
    harness.emulator.inject_fault("sendMessage", status=502)
    harness.emulator.inject_disconnect("sendMessage")
    await anna.send("/start")
    assert statuses(harness.emulator, "sendMessage", 7001) == [429, 500, 502, 0, 200]
    assert len(anna.user.messages) == 1
    assert "Datenschutz" in anna.last_text


async def test_edits_and_button_answers_are_retried_too(harness: Harness) -> None:
    anna = harness.citizen(7002)
    await anna.send("/start")
    await anna.press("Mitmachen")
    harness.emulator.inject_fault("answerCallbackQuery", status=502)
    harness.emulator.inject_disconnect("editMessageText")
    harness.emulator.inject_fault("editMessageText", status=429, retry_after=2)
    await anna.press("Mobilität & ÖPNV")
    assert "Gewählt: 1 von 3" in anna.last_text
    assert [c.status for c in harness.emulator.calls_to("editMessageText")][-3:] == [0, 429, 200]
    assert [c.status for c in harness.emulator.calls_to("answerCallbackQuery")][-2:] == [502, 200]
    assert not texts_with(harness, 7002, SORRY)


@pytest.fixture
async def with_moderator(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    emulator.add_channel("@ruhr_dialog")
    emulator.user(MODERATOR, first_name="Moderation")
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset({MODERATOR}))
    bot = RunningBot(settings)
    await bot.start()
    try:
        yield Harness(emulator, bot)
    finally:
        await bot.stop()


async def test_a_channel_post_is_retried_and_posted_once(with_moderator: Harness) -> None:
    moderator = with_moderator.citizen(MODERATOR)
    await moderator.send("/announce Heute 18 Uhr: Ergebnisse")
    with_moderator.emulator.inject_fault("sendMessage", status=502)
    with_moderator.emulator.inject_disconnect("sendMessage")
    with_moderator.emulator.inject_fault("sendMessage", status=429, retry_after=3)
    await moderator.press("Im Kanal veröffentlichen")
    posts = with_moderator.emulator.chat_messages("@ruhr_dialog")
    assert [p.text for p in posts] == ["Heute 18 Uhr: Ergebnisse"]
    assert statuses(with_moderator.emulator, "sendMessage", "@ruhr_dialog") == [502, 0, 429, 200]


async def test_a_bad_request_is_not_retried_and_the_person_hears_why(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    anna = harness.citizen(7003)
    harness.emulator.inject_fault("sendMessage", status=400)
    with caplog.at_level(logging.ERROR, logger="bot.telegram.errors"):
        await anna.send("/hilfe")
    # One failed try, then the errors handler's apology: no retry of a 400.
    assert statuses(harness.emulator, "sendMessage", 7003) == [400, 200]
    assert SORRY in anna.last_text
    assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_polling_resumes_by_itself_after_errors_and_disconnects(harness: Harness) -> None:
    anna = harness.citizen(7004)
    await anna.send("/start")
    harness.emulator.inject_fault("getUpdates", status=502, times=2)
    harness.emulator.inject_disconnect("getUpdates", times=2)
    harness.emulator.inject_fault("getUpdates", status=500)
    await harness.emulator.wait_for(lambda: len(failed_polls(harness.emulator)) == 5, timeout=10)
    await anna.press("Mitmachen")  # sent after the last failure: only a resumed poll gets it
    assert "Gewählt: 0 von 3" in anna.last_text
    assert sorted(failed_polls(harness.emulator)) == [0, 0, 500, 502, 502]
    assert await count(harness, select(func.count()).select_from(InboxUpdate)) == 2


async def test_a_failed_transaction_is_rolled_back_answered_and_can_be_retried(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    anna = harness.citizen(7005)
    await anna.send("/start")
    await anna.press("Mitmachen")
    await anna.press("Mobilität & ÖPNV")
    await anna.press("Weiter")
    await anna.send("Ein Nachtbus zwischen Bochum, Essen und Dortmund an jedem Wochenende.")
    assert harness.bot.app is not None
    failures = fail_once(harness, "INSERT INTO impulses")
    with caplog.at_level(logging.ERROR):
        await anna.press("Absenden")
    assert failures == ["INSERT INTO impulses"]
    assert SORRY in anna.last_text and "duplicate" not in anna.last_text
    # The votes were written in the same transaction before the failing insert: rolled back.
    assert await count(harness, select(func.count()).select_from(Vote)) == 0
    logged = [
        r.exc_info[1] for r in caplog.records if r.name == "bot.telegram.errors" and r.exc_info
    ]
    assert any(isinstance(e, IntegrityError) for e in logged), logged

    await anna.press("Absenden", message_id=review_message(harness, 7005))
    assert len(texts_with(harness, 7005, "Danke!")) == 1  # the review message, edited
    assert await count(harness, select(func.count()).select_from(Vote)) == 1


def failed_polls(emulator: BotApiEmulator) -> list[int]:
    return [c.status for c in emulator.calls_to("getUpdates") if c.status != 200]


def fail_once(harness: Harness, statement: str) -> list[str]:
    """The next statement starting with `statement` fails with the driver's IntegrityError, as
    a bug would make it (a database that is only unreachable is another matter: there the
    step is run again, tests/test_outage.py)."""
    assert harness.bot.app is not None
    engine = harness.bot.app.database.write_engine.sync_engine
    failures: list[str] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith(statement) and not failures:
            failures.append(statement)
            raise engine.dialect.loaded_dbapi.IntegrityError("duplicate key value")

    event.listen(engine, "before_cursor_execute", before)
    return failures


def review_message(harness: Harness, chat_id: int) -> int:
    [review] = [m for m in harness.emulator.chat_messages(chat_id) if "Schritt 3 von 3" in m.text]
    return review.message_id
