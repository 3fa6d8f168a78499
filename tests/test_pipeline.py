"""One person's updates in order (bot/telegram/pipeline.py, storage/inbox.py), everybody else
alongside.

Each test sends updates whose order shows in the outcome: a topic tapped on and off again
before "Weiter" is pressed. Handled in order, the citizen moves on with exactly the topics
tapped on; handled out of order (or at once), "Weiter" finds no topic yet and is refused, or a
tap overwrites another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from aiogram.types import Update
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot.domain.clock import system_clock
from bot.emulator.server import BotApiEmulator, EmulatedUser, Fault
from bot.ops.export import snapshot
from bot.telegram.pipeline import ordering_key
from handlers.callbacks import TopicCallback
from storage.db import Database
from storage.inbox import Inbox
from storage.models import InboxUpdate
from tests.harness import Harness, RunningBot, make_settings

CHOOSE_ONE = "Bitte wählen Sie mindestens ein Thema."


def chosen_counts(emulator: BotApiEmulator, user: EmulatedUser, since: int = 0) -> list[str]:
    """The "Gewählt: N von 3" of every edit of the citizen's topic keyboard after the call
    numbered `since`, in order."""
    return [
        c.params["text"].split("Gewählt: ")[1][:1]
        for c in emulator.api_calls[since:]
        if c.chat_id == user.id
        and c.method == "editMessageText"
        and "Gewählt: " in c.params.get("text", "")
    ]


async def votes(harness: Harness) -> dict[str, int]:
    assert harness.bot.app is not None
    data = await snapshot(harness.settings, harness.bot.app.database, system_clock())
    return {t["id"]: t["votes"] for t in data["topics"] if t["votes"]}


async def test_one_persons_updates_run_in_order_and_others_alongside(harness: Harness) -> None:
    anna, ben = harness.citizen(9101), harness.citizen(9102)
    for citizen in (anna, ben):
        await citizen.send("/start")
        await citizen.press("Mitmachen")
    keyboard = anna.user.last_message.message_id
    before = len(harness.emulator.api_calls)
    # All in one getUpdates batch: Anna's four, then Ben's one. Her third tap is the one the
    # keyboard offers once Kunst is chosen: "unchoose Kunst".
    anna.user.press("Sport & Events")  # on
    anna.user.press("Kunst & Kreativität")  # on
    anna.user.press_data(keyboard, TopicCallback(topic="kunst", choose=False).pack())  # off
    anna.user.press("Weiter")
    ben.user.press("Mobilität & ÖPNV")
    await harness.settle()

    assert chosen_counts(harness.emulator, anna.user, before) == ["1", "2", "1"]
    assert "Schritt 2 von 3" in anna.last_text
    assert not [a for a in anna.user.callback_answers if a.text == CHOOSE_ONE]
    # Ben's tap did not queue behind Anna's four: it was answered before her last one.
    answers = [
        (c.chat_id, c.params.get("text", ""))
        for c in harness.emulator.api_calls[before:]
        if c.method in ("editMessageText", "sendMessage")
    ]
    bens = min(i for i, (chat, _) in enumerate(answers) if chat == ben.user.id)
    annas_last = max(i for i, (chat, _) in enumerate(answers) if chat == anna.user.id)
    assert bens < annas_last, answers

    await anna.press("Überspringen")
    await anna.press("Absenden")
    assert "Danke!" in anna.last_text
    assert await votes(harness) == {"sport": 1}


async def get_updates(emulator: BotApiEmulator, offset: int | None = None) -> list[dict[str, Any]]:
    """What a bot instance gets from Telegram, fetched by the test (the emulator over HTTP)."""
    params: dict[str, Any] = {"timeout": 0} if offset is None else {"timeout": 0, "offset": offset}
    async with (
        ClientSession() as http,
        http.post(f"{emulator.base_url}/bot{emulator.token}/getUpdates", json=params) as answer,
    ):
        body = await answer.json()
    assert body["ok"], body
    return list(body["result"])


async def test_an_earlier_update_on_another_instance_is_waited_for_and_taken_over_when_it_dies(
    emulator: BotApiEmulator, database_url: str
) -> None:
    """Several instances on one PostgreSQL inbox. Instance A records Anna's tap on a topic and
    dies before handling it; her "Weiter" reaches instance B. B must not handle "Weiter" while
    the tap is pending with a live owner, must take the tap over once A is gone (A's liveness
    lock is free), and must handle the older tap first although "Weiter" came to it first."""
    if database_url.startswith("sqlite"):
        pytest.skip("several instances share a PostgreSQL inbox; one SQLite file has one")
    settings = make_settings(emulator.base_url, database_url)
    harness = Harness(emulator, RunningBot(settings))
    await harness.bot.start()
    anna = harness.citizen(9201)
    await anna.send("/start")
    await anna.press("Mitmachen")
    await harness.bot.stop()
    since = len(emulator.api_calls)

    # Instance A: records the tap in the shared inbox (holding its liveness lock), then dies.
    a_database = Database(database_url)
    a_inbox = Inbox(a_database, owner="instance-a")
    await a_inbox.open()
    anna.user.press("Sport & Events")
    [tap] = await get_updates(emulator)
    await get_updates(emulator, offset=tap["update_id"] + 1)  # A confirmed it to Telegram
    key = ordering_key(Update.model_validate(tap))
    recorded = await a_inbox.record([(tap["update_id"], json.dumps(tap))], {tap["update_id"]: key})
    assert recorded == [tap["update_id"]]

    # Instance B starts and gets "Weiter", the newer update.
    answered = len(anna.user.callback_answers)
    anna.user.press("Weiter")
    await harness.bot.start()
    try:
        await emulator.wait_fetched(timeout=10)
        with contextlib.suppress(TimeoutError):  # give B every chance to run ahead
            await emulator.wait_for(lambda: len(anna.user.callback_answers) > answered, 1.0)
        assert len(anna.user.callback_answers) == answered, "Weiter ran before the earlier tap"
        assert "Gewählt: 0 von 3" in anna.last_text

        await a_inbox.close()  # A dies: its lock is free, B's sweep takes the tap over
        await a_database.dispose()
        await emulator.wait_for(lambda: len(anna.user.callback_answers) == answered + 2, 10)
        assert harness.bot.app is not None
        await asyncio.wait_for(harness.bot.app.pipeline.wait_idle(), 10)
        assert chosen_counts(emulator, anna.user, since) == ["1"]
        assert "Schritt 2 von 3" in anna.last_text
        assert not [a for a in anna.user.callback_answers if a.text == CHOOSE_ONE]
        await anna.press("Überspringen")
        await anna.press("Absenden")
        assert await votes(harness) == {"sport": 1}
    except BaseException:
        await harness.bot.crash()  # an update stuck waiting would keep `stop` waiting too
        raise
    else:
        await harness.bot.stop()
    finally:
        await a_inbox.close()
        await a_database.dispose()


async def wait_until(ready: Any, what: str) -> None:
    """Until `ready()`; a deadline only so that a broken bound fails instead of hanging."""
    for _ in range(2000):
        if ready():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


async def test_updates_in_flight_stay_within_the_bound(
    emulator: BotApiEmulator, database_url: str
) -> None:
    bound, people = 3, 12
    bot = RunningBot(make_settings(emulator.base_url, database_url, updates_in_flight=bound))
    await bot.start()
    harness = Harness(emulator, bot)
    assert bot.app is not None
    database = bot.app.database
    running: list[int] = []
    releases: dict[int, asyncio.Event] = {}
    held = [True]

    async def hold(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        """Each update waits here until the test lets it finish."""
        running.append(event.update_id)
        release = releases.setdefault(event.update_id, asyncio.Event())
        if held[0]:
            await release.wait()
        try:
            return await handler(event, data)
        finally:
            running.remove(event.update_id)

    bot.app.dispatcher.update.outer_middleware(hold)

    async def received_unfinished() -> int:
        """Updates recorded in the inbox and not yet handled: what the bound is about."""
        async with database.reading() as session:
            statement = (
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status == "pending")
            )
            return int(await session.scalar(statement) or 0)

    citizens = [harness.citizen(9300 + n) for n in range(people)]
    for citizen in citizens:  # all waiting at Telegram at once: one batch without the bound
        citizen.user.send_text("/hilfe")
    most = 0
    try:
        for finished in range(people):
            expected = min(bound, people - finished)
            await wait_until(lambda n=expected: len(running) >= n, f"{expected} handlers running")
            most = max(most, len(running), await received_unfinished())
            oldest = running[0]
            releases[oldest].set()
            await wait_until(lambda u=oldest: u not in running, "the released one finished")
    finally:
        held[0] = False  # a failure must not leave handlers waiting forever
        for release in releases.values():
            release.set()
    await harness.settle()
    assert most == bound  # never more received and unfinished than the bound, and it was used
    assert all("Hilfe" in c.last_text for c in citizens)  # every one answered in the end
    await bot.stop()


@pytest.mark.sqlite_only  # where every look for unfinished updates finds each pending one
async def test_an_update_handed_over_again_while_under_way_runs_once(harness: Harness) -> None:
    """An update given to the pipeline a second time while its first run is still under way
    (a look for unfinished updates, and a record retried after an outage, may both find it)
    runs once: the person gets one answer."""
    app = harness.bot.app
    assert app is not None
    user = harness.emulator.user(9301)
    start = {
        "update_id": 900_301,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": user.id, "type": "private", "first_name": "Test"},
            "from": {"id": user.id, "is_bot": False, "first_name": "Test", "language_code": "de"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    recorded = await Inbox(app.database).record([(900_301, json.dumps(start))], {900_301: user.id})
    assert recorded == [900_301]
    # Its answer is slow: the first run is still under way when it is handed over again.
    harness.emulator.faults.schedule("sendMessage", Fault(execute=True, delay=0.3, label="slow"))
    assert await app.pipeline.resume_pending() == 1
    assert await app.pipeline.resume_pending() == 1  # found pending again
    await app.pipeline.wait_idle()
    assert len(user.messages) == 1 and "Datenschutz" in user.last_message.text
