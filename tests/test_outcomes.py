"""Each class of Bot API outcome (bot/telegram/outcomes.py) ends as it should, through the real bot.

Transient faults (an HTML error page, a cut-off answer, an answer later than the client waits,
a connection dropped after the call went through) neither stop polling nor reach the citizen;
harmless and recoverable answers let the step carry on; a person who is gone is marked
unreachable without a retry or an apology; a channel that refuses the bot keeps the digest
pending and tells the moderators once; a revoked token ends `dialogbot run` with one line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import Message
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.emulator.server import BotApiEmulator, Fault
from bot.telegram.outcomes import Outcome, classify, describe, is_transient
from storage.db import Database
from storage.models import InboxUpdate, Participant
from tests.digest_support import MAY_18_1800, DigestHarness, digest_harness, digest_rows
from tests.harness import FAST_RETRY, Harness, RunningBot, make_settings
from tests.test_process import bot_process
from tests.test_reachability import author_with_idea, reachable
from tests.test_scaling import SECRET, free_port

SORRY = "etwas schiefgegangen"
MODERATOR = 900_077
REQUEST_TIMEOUT = 1.0


def sent_to(harness: Harness, method: str, chat_id: int) -> list[tuple[int, str | None]]:
    return [(c.status, c.fault) for c in harness.emulator.calls_to(method) if c.chat_id == chat_id]


@pytest.fixture
async def quick(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    """The bot with a request timeout of a second, so a late answer costs little."""
    settings = make_settings(emulator.base_url, database_url, request_timeout=REQUEST_TIMEOUT)
    bot = RunningBot(settings)
    await bot.start()
    try:
        yield Harness(emulator, bot)
    finally:
        await bot.stop()


def _validation_error() -> ValidationError:
    try:
        Message.model_validate({"message_id": "not a number"})
    except ValidationError as exc:
        return exc
    raise AssertionError("validated")


TO_PERSON = SendMessage(chat_id=5, text="x")
TO_CHANNEL = SendMessage(chat_id="@ruhr_dialog", text="x")
EDIT = EditMessageText(chat_id=5, message_id=1, text="x")
HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
CASES = [
    (TelegramNetworkError(TO_PERSON, "Request timeout error"), Outcome.TRANSIENT),
    (TelegramNetworkError(TO_PERSON, "ServerDisconnectedError"), Outcome.TRANSIENT),
    (TelegramServerError(TO_PERSON, "Bad Gateway"), Outcome.TRANSIENT),
    (TelegramRetryAfter(TO_PERSON, "Too Many Requests", retry_after=3), Outcome.TRANSIENT),
    (
        ClientDecodeError("Failed to decode object", json.JSONDecodeError("x", HTML, 0), HTML),
        Outcome.TRANSIENT,
    ),
    (
        ClientDecodeError("Failed to deserialize object", _validation_error(), {"error": "gw"}),
        Outcome.TRANSIENT,
    ),
    (
        ClientDecodeError(
            "Failed to deserialize object",
            _validation_error(),
            {"ok": True, "result": {"message_id": "x"}},
        ),
        Outcome.UNREADABLE,
    ),
    (TelegramEntityTooLarge(TO_PERSON, "Request Entity Too Large"), Outcome.BUG),
    (TelegramBadRequest(EDIT, "Bad Request: message is not modified: ..."), Outcome.HARMLESS),
    (TelegramBadRequest(EDIT, "Bad Request: message to edit not found"), Outcome.RECOVERABLE),
    (TelegramBadRequest(EDIT, "Bad Request: message can't be edited"), Outcome.RECOVERABLE),
    (
        TelegramBadRequest(
            TO_PERSON,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
        Outcome.RECOVERABLE,
    ),
    (
        TelegramForbiddenError(TO_PERSON, "Forbidden: bot was blocked by the user"),
        Outcome.PERSON_GONE,
    ),
    (TelegramForbiddenError(TO_PERSON, "Forbidden: user is deactivated"), Outcome.PERSON_GONE),
    (TelegramBadRequest(TO_PERSON, "Bad Request: chat not found"), Outcome.PERSON_GONE),
    (TelegramBadRequest(TO_CHANNEL, "Bad Request: chat not found"), Outcome.OPERATOR),
    (
        TelegramBadRequest(
            TO_CHANNEL, "Bad Request: need administrator rights in the channel chat"
        ),
        Outcome.OPERATOR,
    ),
    (
        TelegramForbiddenError(TO_CHANNEL, "Forbidden: bot is not a member of the channel chat"),
        Outcome.OPERATOR,
    ),
    (TelegramUnauthorizedError(TO_PERSON, "Unauthorized"), Outcome.REVOKED),
    (TelegramBadRequest(TO_PERSON, "Bad Request: can't parse entities"), Outcome.BUG),
    (RuntimeError("a bug"), Outcome.BUG),
]


@pytest.mark.parametrize(("error", "outcome"), CASES, ids=lambda v: getattr(v, "value", ""))
def test_every_bot_api_outcome_has_its_class(error: BaseException, outcome: Outcome) -> None:
    assert classify(error) is outcome
    assert is_transient(error) is (outcome is Outcome.TRANSIENT)
    assert HTML not in describe(error) and "nginx" not in describe(error)


# --------------------------------------------------------------------------- transient


async def test_polling_carries_on_after_an_html_page_a_cut_off_or_late_answer_and_a_drop(
    quick: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    anna = quick.citizen(7201)
    await anna.send("/start")
    late = quick.settings.poll_seconds + REQUEST_TIMEOUT + 0.5
    faults = [Fault.html_page(502), Fault.cut_off(), Fault.slow(late), Fault.dropped()]
    with caplog.at_level(logging.WARNING, logger="bot.telegram.polling"):
        quick.emulator.faults.schedule("getUpdates", *faults)
        await quick.emulator.wait_for(lambda: len(quick.emulator.faults.injected) == 4, 15)
        await anna.press("Mitmachen")  # sent after the last fault: only a live poll gets it
    assert "Gewählt: 0 von 3" in anna.last_text
    assert quick.bot._task is not None and not quick.bot._task.done()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.polling"]
    assert len(lines) == 4, lines  # one line per failed poll ...
    assert "not JSON or is cut off" in lines[0] and "not JSON or is cut off" in lines[1]
    assert "timeout" in lines[2] and "Disconnected" in lines[3]
    for line in lines:  # ... without the answer's body
        assert "html" not in line.lower() and "nginx" not in line and "update_id" not in line


async def test_an_html_page_on_a_reply_is_not_apologised_for_and_the_step_answers_once(
    harness: Harness,
) -> None:
    anna = harness.citizen(7202)
    await anna.send("/start")
    # More pages than one step's retries: the step itself is run again (bot.telegram.pipeline).
    pages = [Fault.html_page(502)] * (FAST_RETRY.attempts + 2)
    # "Mitmachen" turns the welcome into the topic list (editMessageText).
    harness.emulator.faults.schedule("editMessageText", *pages)
    await anna.press("Mitmachen")
    texts = [m.text for m in anna.user.messages]
    assert not [t for t in texts if SORRY in t]
    assert len([t for t in texts if "Gewählt: 0 von 3" in t]) == 1
    assert "Gewählt: 0 von 3" in anna.last_text
    statuses = [status for status, _ in sent_to(harness, "editMessageText", 7202)]
    assert statuses[-len(pages) - 1 :] == [502] * len(pages) + [200]
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Participant)) == 1


# --------------------------------------------------------------------------- harmless, recoverable


async def test_a_gone_message_is_sent_anew_and_an_old_button_press_is_left_unanswered(
    harness: Harness,
) -> None:
    anna = harness.citizen(7203)
    await anna.send("/start")
    await anna.press("Mitmachen")
    keyboard = anna.user.last_message.message_id
    harness.emulator.faults.schedule("editMessageText", Fault.edit_gone())
    harness.emulator.faults.schedule("answerCallbackQuery", Fault.query_too_old())
    await anna.press("Mobilität & ÖPNV")
    assert "Gewählt: 1 von 3" in anna.last_text
    assert anna.user.last_message.message_id != keyboard  # a new message with the keyboard
    harness.emulator.faults.schedule("editMessageText", Fault.cannot_edit())
    await anna.press("Sport & Events")
    assert "Gewählt: 2 von 3" in anna.last_text
    assert not [m for m in anna.user.messages if SORRY in m.text]


async def test_not_modified_counts_as_done(harness: Harness) -> None:
    anna = harness.citizen(7204)
    await anna.send("/start")
    await anna.press("Mitmachen")
    harness.emulator.faults.schedule("editMessageText", Fault.not_modified())
    await anna.press("Mobilität & ÖPNV")
    assert "Gewählt: 1 von 3" in anna.last_text
    assert sent_to(harness, "editMessageText", 7204)[-1] == (400, "not modified")  # not retried
    assert not [m for m in anna.user.messages if SORRY in m.text]


# --------------------------------------------------------------------------- the person is gone


@pytest.mark.parametrize(
    "fault", [Fault.blocked(), Fault.deactivated(), Fault.chat_not_found()], ids=lambda f: f.label
)
async def test_a_person_who_is_gone_is_marked_unreachable_once_without_retry_or_apology(
    harness: Harness, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    anna = await author_with_idea(harness, 7205)
    tried = len(sent_to(harness, "sendMessage", 7205))
    harness.emulator.faults.schedule("sendMessage", fault)
    with caplog.at_level(logging.INFO):
        await anna.send("/hilfe")
    # One try, no retry, and no apology after it (that would be a second sendMessage).
    assert [s for s, _ in sent_to(harness, "sendMessage", 7205)[tried:]] == [fault.status]
    assert await reachable(harness, 7205) is False
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --------------------------------------------------------------------------- the operator must act


@pytest.fixture
async def digests_with_moderator(
    emulator: BotApiEmulator, database_url: str
) -> AsyncIterator[DigestHarness]:
    emulator.user(MODERATOR, first_name="Moderation")
    start = MAY_18_1800 - timedelta(hours=6)
    async for harness in digest_harness(
        emulator, database_url, start, moderators=frozenset({MODERATOR})
    ):
        yield harness


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(Fault.not_admin(), "kein Administrator"), (Fault.chat_not_found(), "gibt es nicht")],
    ids=["not admin", "no channel"],
)
async def test_a_channel_that_refuses_the_bot_keeps_the_digest_and_tells_moderators_once(
    digests_with_moderator: DigestHarness,
    fault: Fault,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dh = digests_with_moderator
    minute = timedelta(minutes=1)
    await dh.tick(MAY_18_1800 - 60 * minute)
    await dh.seed(["energie"], at=MAY_18_1800 - 30 * minute)
    dh.emulator.faults.schedule("sendPhoto", *[fault] * 3)
    with caplog.at_level(logging.INFO):
        await dh.tick(MAY_18_1800)
        await dh.tick(MAY_18_1800 + 10 * minute)
        await dh.tick(MAY_18_1800 + 20 * minute)
    assert dh.posts() == []
    rows = await digest_rows(dh.database)
    assert rows[-1].status in ("pending", "sending")  # still to be posted
    told = [m.text for m in dh.emulator.user(MODERATOR).messages]
    assert len(told) == 1 and reason in told[0] and "@ruhr_dialog" in told[0], told
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "operator" in errors[0], errors
    assert not [r for r in caplog.records if r.exc_info]  # a line, not a traceback
    assert dh.bot._task is not None and not dh.bot._task.done()  # still polling

    await dh.tick(MAY_18_1800 + 30 * minute)  # the operator fixed it: posted
    assert len(dh.photos()) == 1


# --------------------------------------------------------------------------- revoked token


def assert_ended_with_one_revoked_line(log: Path) -> None:
    """The process said why it ended in its last line, with no traceback and no error before."""
    output = log.read_text()
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert lines[-1].startswith("dialogbot: Telegram refused the bot token (401"), lines
    assert not [line for line in lines[:-1] if "ERROR" in line], lines


async def inbox_statuses(database_url: str) -> list[str]:
    database = Database(database_url)
    try:
        async with database.reading() as session:
            return list(await session.scalars(select(InboxUpdate.status)))
    finally:
        await database.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["getUpdates", "sendMessage"])
async def test_a_revoked_token_ends_the_process_with_one_line(
    emulator: BotApiEmulator, database_url: str, method: str, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    async with bot_process(emulator, database_url, log) as process:
        # Started: the menus are set and the digest link asked for (getMe). A moment more for
        # the start-up work to settle (a stop cancels a refresh of the opinion groups, which
        # SQLAlchemy reports with a traceback of its own: not what this test is about).
        await emulator.wait_for(lambda: bool(emulator.calls_to("getMe")), 60)
        await asyncio.sleep(1)
        # A revoked token stays revoked: every call of the method answers 401 from now on.
        emulator.faults.schedule(method, *[Fault.unauthorized()] * 100)
        emulator.user(7206).send_text("/start")  # ends the running long poll
        assert await asyncio.wait_for(process.wait(), 60) != 0
    assert emulator.faults.injected[0] == (method, "status 401")
    assert_ended_with_one_revoked_line(log)
    # The update whose answer met the 401 waits in the inbox for a start with a valid token.
    statuses = await inbox_statuses(database_url)
    assert statuses == (["pending"] if method == "sendMessage" else ["done"])


@pytest.mark.slow
async def test_a_revoked_token_ends_the_webhook_process_with_one_line(
    emulator: BotApiEmulator, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    webhook = ["--webhook", url, "--listen", f"127.0.0.1:{port}"]
    async with bot_process(
        emulator, database_url, log, args=webhook, env_extra={"DIALOGBOT_WEBHOOK_SECRET": SECRET}
    ) as process:
        await emulator.wait_for(lambda: emulator.webhook_url == url, 60)
        await asyncio.sleep(1)  # as above: the start-up work settles
        emulator.faults.schedule("sendMessage", *[Fault.unauthorized()] * 100)
        emulator.user(7207).send_text("/start")  # delivered to the webhook, answered with a 401
        assert await asyncio.wait_for(process.wait(), 60) != 0
    assert emulator.faults.injected[0] == ("sendMessage", "status 401")
    assert_ended_with_one_revoked_line(log)
    statuses = await inbox_statuses(database_url)
    assert statuses == ["pending"]  # recorded, answered 200, left for a start with a valid token
