"""Updates the pinned aiogram's models reject: read what can be read, set the rest aside.

Every update of a getUpdates answer, a webhook call or the inbox is read on its own
(bot/telegram/lenient.py, bot/telegram/pipeline.py): a part that fails is repaired or dropped, an
update that still
cannot be read is recorded without its content (storage/set_aside.py) and the bot goes on. An
answer to our own call that says `ok: true` but does not read counts as sent
(bot/telegram/client.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import cli
from bot.emulator.server import BotApiEmulator, EmulatedUser
from storage.db import Database
from storage.models import Impulse, InboxPayload, InboxUpdate, SetAsideUpdate
from storage.set_aside import SetAside
from tests.harness import Citizen, Harness
from tests.test_scaling import webhook_bot

NAME = "Geheimname Mustermann"  # in the mangled payloads: must never reach a log or a table
IDEA = "Eine eigene Idee: Radwege zwischen allen Ruhrgebietsstädten durchgehend ausbauen."
FORWARDED = "Weitergeleitet: Mehr Parkplätze in allen Innenstädten des Reviers schaffen."
LATER_IDEA = "Meine Idee danach: Nachtbusse am Wochenende zwischen den Innenstädten."
HELP = "/meinvotum"  # in the answer to /hilfe
REFUSED = "Idee selbst"  # the idea step's answer to a forward
SORRY = "etwas schiefgegangen"


def hour_ago() -> int:
    return int(time.time()) - 3600


# What Telegram sends that aiogram 3.31's models reject, as a private message's content.
FORWARDS: dict[str, Callable[[], dict[str, Any]]] = {
    # Telegram breaks its own documentation (aiogram issue 1840): no sender_user_name.
    "hidden-user forward without a name": lambda: {
        "text": FORWARDED,
        "forward_origin": {"type": "hidden_user", "date": hour_ago()},
    },
    # A newer Bot API's kind of origin (union_tag_invalid).
    "forward of a new kind of origin": lambda: {
        "text": FORWARDED,
        "forward_origin": {"type": "business_bot", "date": hour_ago(), "bot_name": NAME},
    },
}
OWN_TEXT: dict[str, Callable[[], dict[str, Any]]] = {
    # aiogram issue 1587: a reply to a story, whose story is {}.
    "reply to an empty story": lambda: {
        "text": IDEA,
        "external_reply": {
            "origin": {"type": "hidden_user", "date": hour_ago(), "sender_user_name": NAME},
            "story": {},
        },
    },
    # A field the code does not name: a required origin of a new kind, so the whole
    # external_reply goes.
    "external reply with an origin of a new kind": lambda: {
        "text": IDEA,
        "external_reply": {"origin": {"type": "paid_post", "date": hour_ago(), "by": NAME}},
    },
    # The message replied to was a forward of a new kind.
    "reply to a forward of a new kind": lambda: {
        "text": IDEA,
        "reply_to_message": {
            "message_id": 1,
            "date": hour_ago(),
            "chat": {"id": 1, "type": "private", "first_name": NAME},
            "text": "älter",
            "forward_origin": {"type": "story_repost", "date": hour_ago(), "who": NAME},
        },
    },
}


async def at_the_idea_step(harness: Harness, user_id: int) -> Citizen:
    citizen = harness.citizen(user_id, first_name="Anna")
    await citizen.send("/start")
    await citizen.press("Mitmachen")
    await citizen.press("Mobilität & ÖPNV")
    await citizen.press("Weiter")
    assert "Schritt 2 von 3" in citizen.last_text
    return citizen


def sent_texts(emulator: BotApiEmulator, user: EmulatedUser) -> list[str]:
    """Every text sent to the user, in the order the bot sent them."""
    return [
        str(c.params.get("text", ""))
        for c in emulator.calls_to("sendMessage")
        if c.chat_id == user.id
    ]


async def set_aside_rows(harness: Harness) -> list[SetAsideUpdate]:
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        query = select(SetAsideUpdate).order_by(SetAsideUpdate.update_id)
        return list(await session.scalars(query))


async def stored_impulses(harness: Harness) -> list[str]:
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        return list(await session.scalars(select(Impulse.text)))


def assert_no_content_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text
    for secret in (NAME, IDEA, FORWARDED, "Anna"):
        assert secret not in logged


@pytest.mark.parametrize("case", sorted(FORWARDS))
async def test_a_forward_the_models_reject_is_read_as_a_forward_and_refused_as_an_idea(
    harness: Harness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.INFO)
    anna = await at_the_idea_step(harness, 7301)
    before = len(sent_texts(harness.emulator, anna.user))
    # One getUpdates answer: good, the forward the models reject, good.
    anna.user.send_text("/hilfe")
    anna.user.send_raw(FORWARDS[case]())
    anna.user.send_text("/hilfe")
    await harness.settle()

    texts = sent_texts(harness.emulator, anna.user)[before:]
    assert len(texts) == 3, texts
    assert HELP in texts[0]
    assert REFUSED in texts[1]  # refused (the question above still stands)
    assert HELP in texts[2]
    assert await set_aside_rows(harness) == []
    assert "read leniently" in caplog.text and "message.forward_origin" in caplog.text

    # A good update afterwards: the own idea is taken, the forwarded text never was.
    await anna.send(LATER_IDEA)
    assert "Schritt 3 von 3" in anna.last_text and LATER_IDEA in anna.last_text
    await anna.press("Absenden")
    assert "Danke!" in anna.last_text
    assert await stored_impulses(harness) == [LATER_IDEA]
    assert_no_content_logged(caplog)


@pytest.mark.parametrize("case", sorted(OWN_TEXT))
async def test_an_own_message_with_a_part_the_models_reject_is_answered_without_that_part(
    harness: Harness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.INFO)
    anna = await at_the_idea_step(harness, 7302)
    before = len(sent_texts(harness.emulator, anna.user))
    anna.user.send_text("/hilfe")
    anna.user.send_raw(OWN_TEXT[case]())
    anna.user.send_text("/hilfe")
    await harness.settle()

    texts = sent_texts(harness.emulator, anna.user)[before:]
    assert len(texts) == 3, texts
    assert HELP in texts[0]
    assert "Schritt 3 von 3" in texts[1] and IDEA in texts[1]  # the idea, for review
    assert HELP in texts[2]
    assert await set_aside_rows(harness) == []

    await anna.press("Absenden")  # on the review, which says thanks now
    assert [m for m in anna.user.messages if "Danke!" in m.text]
    assert await stored_impulses(harness) == [IDEA]
    assert "read leniently" in caplog.text
    assert NAME not in caplog.text and "Anna" not in caplog.text


async def test_an_update_that_cannot_be_read_is_set_aside_and_the_others_go_on(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    anna = await at_the_idea_step(harness, 7303)
    before = len(sent_texts(harness.emulator, anna.user))
    query_id = "4999000000000000001"
    anna.user.send_text("/hilfe")
    # A message whose date does not read: nothing to keep of it.
    broken = anna.user.send_raw({"text": IDEA, "date": "gestern", "caption": NAME})
    anna.user.send_text("/hilfe")
    # A button press whose chat_instance does not read: set aside, and still answered.
    press = harness.emulator.deliver_raw(
        "callback_query",
        {"id": query_id, "from": anna.user.to_json(), "chat_instance": 7, "data": "x"},
    )
    await harness.settle()  # also: the offset moved past the last one, which did not read

    texts = sent_texts(harness.emulator, anna.user)[before:]
    assert len(texts) == 2 and HELP in texts[0] and HELP in texts[1], texts
    assert [a for a in anna.user.callback_answers if a.query_id == query_id]
    rows = await set_aside_rows(harness)
    assert [(r.update_id, r.kind) for r in rows] == [(broken, "message"), (press, "callback_query")]
    assert "message.date: datetime_from_date_parsing" in rows[0].problems
    assert "callback_query.chat_instance: string_type" in rows[1].problems
    for row in rows:
        assert NAME not in row.problems and IDEA not in row.problems
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        inbox = set(await session.scalars(select(InboxUpdate.update_id)))
        payloads = list(await session.scalars(select(InboxPayload.payload)))
    assert broken not in inbox and press not in inbox
    assert not [p for p in payloads if IDEA in p]
    assert caplog.text.count(f"update {broken} (message) set aside") == 1
    assert_no_content_logged(caplog)

    # Still the idea step, and a good update afterwards is answered.
    await anna.send(LATER_IDEA)
    assert "Schritt 3 von 3" in anna.last_text and LATER_IDEA in anna.last_text


async def test_an_update_set_aside_twice_is_recorded_once(harness: Harness) -> None:
    app = harness.bot.app
    assert app is not None
    raw = {"update_id": 930_001, "message": {"message_id": 1, "date": "gestern", "text": IDEA}}
    assert await app.pipeline.accept_raw([raw]) == 1
    assert await app.pipeline.accept_raw([raw, raw]) == 0  # a re-fetch, a webhook resend
    assert [r.update_id for r in await set_aside_rows(harness)] == [930_001]


async def test_a_stored_update_that_no_longer_reads_does_not_stop_the_start(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Pending in the inbox (the bot died before handling them), stored by an aiogram that
    read them: one now needs a repair, one no longer reads at all, one is not even JSON."""
    caplog.set_level(logging.INFO)
    bert = harness.emulator.user(7304)
    repairable = {
        "update_id": 930_010,
        "message": {
            "message_id": 1,
            "date": hour_ago(),
            "chat": {"id": 7304, "type": "private", "first_name": "Bert"},
            "from": {"id": 7304, "is_bot": False, "first_name": "Bert", "language_code": "de"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            "external_reply": {"origin": {"type": "someday", "date": 1}},
        },
    }
    unreadable = {"update_id": 930_011, "message": {"message_id": 2, "text": IDEA}}
    stored = {
        930_010: json.dumps(repairable),
        930_011: json.dumps(unreadable),
        930_012: "{not json",
    }
    await harness.bot.stop()
    db = Database(harness.bot.settings.database_url)
    try:
        async with db.transaction() as session:
            now = datetime.now(UTC)
            session.add_all(
                InboxUpdate(update_id=i, status="pending", received_at=now) for i in stored
            )
            session.add_all(InboxPayload(update_id=i, payload=p) for i, p in stored.items())
    finally:
        await db.dispose()

    await harness.bot.start()  # resumes the inbox: must not stop at the two that do not read
    await harness.settle()
    assert "Datenschutz" in bert.last_text  # the repaired /start was answered
    rows = await set_aside_rows(harness)
    assert [(r.update_id, r.kind) for r in rows] == [(930_011, "message"), (930_012, "?")]
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        rows_now = await session.execute(select(InboxUpdate.update_id, InboxUpdate.status))
        statuses = {row.update_id: row.status for row in rows_now}
    assert statuses[930_011] == statuses[930_012] == "failed"
    assert statuses[930_010] == "done"
    assert_no_content_logged(caplog)

    carla = harness.citizen(7305)  # and the bot serves the next citizen
    await carla.send("/start")
    assert "Datenschutz" in carla.last_text


def origin_of_a_new_kind(body: dict[str, Any]) -> dict[str, Any]:
    body["result"]["forward_origin"] = {"type": "future_origin", "date": 1}
    return body


def message_id_unreadable(body: dict[str, Any]) -> dict[str, Any]:
    body["result"]["message_id"] = "kaputt"
    return body


@pytest.mark.both_sessions
@pytest.mark.parametrize("mangle", [origin_of_a_new_kind, message_id_unreadable])
async def test_a_sent_message_whose_answer_does_not_read_is_not_sent_again_nor_apologised_for(
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
    mangle: Callable[[Any], Any],
    session_kind: str,
) -> None:
    caplog.set_level(logging.INFO)
    dora = harness.citizen(7306)
    harness.emulator.answer_with("sendMessage", mangle)
    await dora.send("/start")
    texts = sent_texts(harness.emulator, dora.user)
    assert len(texts) == 1 and "Datenschutz" in texts[0]  # sent once, no apology
    assert [c.fault for c in harness.emulator.calls_to("sendMessage")] == ["raw answer"]
    # The lean session (bot/telegram/session.py) does not read the echoed message's origin at
    # all; what it reads (the id) or what the stock session validates is read leniently.
    if session_kind == "stock" or mangle is message_id_unreadable:
        assert "sendMessage succeeded" in caplog.text
    await dora.press("Mitmachen")  # and the dialog goes on
    assert "Gewählt: 0 von 3" in dora.last_text
    assert not [t for t in sent_texts(harness.emulator, dora.user) if SORRY in t]


async def test_the_webhook_answers_200_only_once_the_unreadable_update_is_recorded(
    emulator: BotApiEmulator, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_record = SetAside.record
    failures: list[int] = []

    async def fails_once(self: SetAside, updates: Any) -> list[int]:
        if not failures:
            failures.append(1)
            raise ConnectionError("the database is away for a moment")
        return await real_record(self, updates)

    monkeypatch.setattr(SetAside, "record", fails_once)
    erik = emulator.user(7307)
    async with webhook_bot(emulator, database_url):
        broken = erik.send_raw({"text": IDEA, "date": "gestern"})
        await emulator.wait_fetched(timeout=20)
        # Not recorded at the first call (the database away): Telegram was told 503 and sent
        # it again.
        assert failures == [1]
        assert emulator._webhook is not None
        assert "503" in str(emulator._webhook.last_error_message)
        db = Database(database_url)
        try:
            async with db.reading() as session:
                rows = list(await session.scalars(select(SetAsideUpdate.update_id)))
        finally:
            await db.dispose()
        assert rows == [broken]
        # Later citizens are served.
        erik.send_text("/start")
        await emulator.wait_for(lambda: "Datenschutz" in erik.last_text, 20)


async def test_set_aside_records_are_kept_their_days_and_shown_by_the_inbox_command(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = harness.bot.app
    assert app is not None
    days = harness.settings.privacy.set_aside_days
    now = datetime.now(UTC)
    async with app.database.transaction() as session:
        session.add_all(
            [
                SetAsideUpdate(
                    update_id=1,
                    kind="message",
                    problems="message.date: missing",
                    set_aside_at=now - timedelta(days=days, hours=1),
                ),
                SetAsideUpdate(
                    update_id=2,
                    kind="message",
                    problems="message.chat: missing",
                    set_aside_at=now - timedelta(days=days - 1),
                ),
                SetAsideUpdate(
                    update_id=3,
                    kind="callback_query",
                    problems="callback_query.from: missing",
                    set_aside_at=now - timedelta(hours=1),
                ),
            ]
        )
    await app.housekeeping.run_once()
    assert [r.update_id for r in await set_aside_rows(harness)] == [2, 3]

    monkeypatch.setattr(cli, "configure_logging", lambda **_: None)
    monkeypatch.setenv("DIALOGBOT_DATABASE_URL", harness.settings.database_url)
    monkeypatch.setenv("DIALOGBOT_SECRET", "test-secret-0123456789")
    assert await asyncio.to_thread(cli.main, ["inbox"]) == 0
    out = capsys.readouterr().out
    assert f"updates set aside as unreadable (kept {days} days): 2" in out
    assert "message" in out and "callback_query" in out
    assert "update 3 (callback_query): callback_query.from: missing" in out
    assert f"{now - timedelta(days=days - 1):%Y-%m-%d}" in out  # when


async def test_a_get_updates_answer_that_does_not_read_is_fetched_again(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Not even a list of updates (a proxy's page, say): polling goes on, and the updates of
    that call come with the next one; the answer's content is not logged."""
    caplog.set_level(logging.INFO)
    fritz = harness.citizen(7308)
    harness.emulator.answer_with("getUpdates", f'{{"ok": true, "result": "{NAME}"}}')
    harness.emulator.answer_with("getUpdates", f"<html>{NAME}</html>", status=200)
    await fritz.send("/start")
    assert "Datenschutz" in fritz.last_text
    assert [c.fault for c in harness.emulator.calls_to("getUpdates")].count("raw answer") == 2
    assert "getUpdates answer unreadable" in caplog.text
    assert NAME not in caplog.text
