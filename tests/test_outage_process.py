"""The real `dialogbot run` while PostgreSQL goes away: polling, three webhook instances,
start-up and SIGTERM, with the database behind tests/db_proxy.py."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bot.emulator import BotApiEmulator, EmulatedUser
from storage.db import Database
from storage.models import InboxPayload, InboxUpdate, Participant, Vote
from tests.db_proxy import DatabaseProxy
from tests.harness import fast_config
from tests.test_process import bot_process
from tests.test_scaling import instances

pytestmark = pytest.mark.slow

SORRY = "etwas schiefgegangen"
OUTAGE = 3.0  # seconds every connection is cut and new ones refused
# Short timeouts and pauses, so that each test takes seconds.
FAST = {"connect_timeout": 1, "command_timeout": 2, "retry_max_pause": 0.5}


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    if database_url.startswith("sqlite"):
        pytest.skip("a network path to cut: PostgreSQL")
    running = DatabaseProxy(database_url)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def shows(user: EmulatedUser, text: str) -> Callable[[], bool]:
    return lambda: bool(user.messages) and text in user.last_message.text


def showed(user: EmulatedUser, text: str) -> Callable[[], bool]:
    """In any message, not only the last: a step run again after the outage may send its
    prompt once more (as after a crash), before the taps made meanwhile edit the first one."""
    return lambda: any(text in m.text for m in user.messages)


def keyboard_with(user: EmulatedUser, text: str) -> int:
    return next(m.message_id for m in reversed(user.messages) if text in m.text)


async def logged(log: Path, text: str, timeout: float = 30) -> None:
    """Wait until the process's log has a line with `text`."""
    async with asyncio.timeout(timeout):
        while not log.exists() or text not in log.read_text():
            await asyncio.sleep(0.1)


async def counts(database_url: str) -> tuple[int, int, int]:
    """Participants, votes, and updates not done."""
    database = Database(database_url)
    try:
        async with database.reading() as session:
            people = await session.scalar(select(func.count()).select_from(Participant))
            votes = await session.scalar(select(func.count()).select_from(Vote))
            open_updates = await session.scalar(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status != "done")
            )
    finally:
        await database.dispose()
    return int(people or 0), int(votes or 0), int(open_updates or 0)


def edits(emulator: BotApiEmulator, user: EmulatedUser) -> list[str]:
    """The "Gewählt: n" counts of the user's topic keyboard, as edited, in order."""
    return [
        c.params["text"].split("Gewählt: ")[1][:1]
        for c in emulator.api_calls
        if c.chat_id == user.id
        and c.method == "editMessageText"
        and "Gewählt: " in c.params.get("text", "")
    ]


async def test_polling_stays_up_through_an_outage_and_applies_each_action_once(
    emulator: BotApiEmulator, proxy: DatabaseProxy, tmp_path: Path
) -> None:
    citizens = [emulator.user(8_300_000_000 + n) for n in range(3)]
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, **FAST)
    async with bot_process(emulator, proxy.url, log, config) as process:
        for user in citizens:
            user.send_text("/start")
            await emulator.wait_for(shows(user, "Datenschutz"), 30)
            user.press("Mitmachen")
            await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 30)
        proxy.refuse()
        for user in citizens:  # two taps each while the database is away
            keyboard = user.last_message.message_id
            user.press("Mobilität & ÖPNV", message_id=keyboard)
            user.press("Sport & Events", message_id=keyboard)
        await logged(log, "polling: the database is unreachable")
        await asyncio.sleep(OUTAGE)
        assert process.returncode is None
        await proxy.restore()
        for user in citizens:
            await emulator.wait_for(showed(user, "Gewählt: 2 von 3"), 30)
            user.press("Weiter", message_id=keyboard_with(user, "Gewählt: 2 von 3"))
            await emulator.wait_for(shows(user, "Schritt 2 von 3"), 30)
            user.press("Überspringen")
            await emulator.wait_for(shows(user, "Schritt 3 von 3"), 30)
            user.press("Absenden")
            await emulator.wait_for(shows(user, "Danke!"), 30)
        assert process.returncode is None
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    for user in citizens:
        assert edits(emulator, user) == ["1", "2"], edits(emulator, user)
        assert not any(SORRY in m.text for m in user.messages)
    assert await counts(proxy.url) == (3, 6, 0)
    text = log.read_text()
    assert text.count("polling: the database is unreachable") == 1, text[-3000:]
    assert text.count("polling: the database answers again") == 1, text[-3000:]
    assert text.count("handling updates: the database is unreachable") <= 1, text[-3000:]
    assert "Traceback" not in text and "INSERT" not in text, text[-3000:]
    assert not any(str(user.id) in text for user in citizens)


async def test_sigterm_during_an_outage_stops_and_the_next_start_finishes(
    emulator: BotApiEmulator, proxy: DatabaseProxy, tmp_path: Path
) -> None:
    user = emulator.user(8_300_000_100)
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, **FAST)
    async with bot_process(emulator, proxy.url, log, config) as process:
        user.send_text("/start")
        await emulator.wait_for(shows(user, "Datenschutz"), 30)
        proxy.refuse()
        user.press("Mitmachen")
        await logged(log, "polling: the database is unreachable")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    await proxy.restore()
    async with bot_process(emulator, proxy.url, log, config):
        await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 30)
    assert len([m for m in user.messages if "Gewählt: 0 von 3" in m.text]) == 1


async def test_start_up_waits_for_the_database_naming_it_without_its_password(
    emulator: BotApiEmulator, proxy: DatabaseProxy, tmp_path: Path
) -> None:
    user = emulator.user(8_300_000_200)
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, startup_wait=60, **FAST)
    secret = "pw-that-must-not-be-logged"
    url = make_url(proxy.url).set(password=secret).render_as_string(hide_password=False)
    proxy.refuse()
    async with bot_process(emulator, url, log, config) as process:
        await logged(log, "waiting for the database")
        assert process.returncode is None
        await proxy.restore()
        user.send_text("/start")
        await emulator.wait_for(shows(user, "Datenschutz"), 30)
    text = log.read_text()
    assert text.count("waiting for the database") == 1, text[-2000:]
    assert f"127.0.0.1:{proxy.port}" in text
    assert secret not in text


async def test_sigterm_ends_the_wait_for_the_database_at_start(
    emulator: BotApiEmulator, proxy: DatabaseProxy, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, startup_wait=600, **FAST)
    proxy.refuse()
    async with bot_process(emulator, proxy.url, log, config) as process:
        await logged(log, "waiting for the database")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_start_up_gives_up_after_the_configured_wait_and_says_why(
    emulator: BotApiEmulator, proxy: DatabaseProxy, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, startup_wait=1, **FAST)
    proxy.refuse()
    async with bot_process(emulator, proxy.url, log, config) as process:
        assert await asyncio.wait_for(process.wait(), 60) == 1
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith("dialogbot: the database postgresql+asyncpg://"), last
    assert "did not answer within 1 s" in last, last


def left_by_a_dead_instance(update_id: int, user: EmulatedUser) -> tuple[dict[str, object], str]:
    """A /start of `user` as an instance that died leaves it: pending, under its name."""
    payload = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": user.id, "type": "private", "first_name": "A"},
            "from": {"id": user.id, "is_bot": False, "first_name": "A"},
            "text": "/start",
        },
    }
    row = {
        "update_id": update_id,
        "status": "pending",
        "received_at": datetime.now(UTC),
        "ordering_key": user.id,
        "owner": "dead-host:1:000000000000",
    }
    return row, json.dumps(payload)


async def leave_orphans(database_url: str, users: list[EmulatedUser]) -> None:
    database = Database(database_url)
    try:
        left = [left_by_a_dead_instance(900_000_000 + n, u) for n, u in enumerate(users)]
        async with database.transaction() as session:
            await session.execute(insert(InboxUpdate), [row for row, _ in left])
            await session.execute(
                insert(InboxPayload),
                [{"update_id": row["update_id"], "payload": p} for row, p in left],
            )
    finally:
        await database.dispose()


async def test_three_webhook_instances_keep_their_locks_straight_through_an_outage(
    emulator: BotApiEmulator, proxy: DatabaseProxy, database_url: str, tmp_path: Path
) -> None:
    """Every connection of three instances is cut and refused for three seconds while
    citizens tap. Afterwards no update is handled twice, every tap is applied once, and the
    updates an instance that is really dead left behind are taken over (after the grace)."""
    citizens = [emulator.user(8_300_001_000 + n) for n in range(4)]
    orphans = [emulator.user(8_300_002_000 + n) for n in range(3)]
    log = tmp_path / "instances.log"
    config = fast_config(tmp_path, takeover_grace=2, **FAST)
    async with instances(emulator, proxy.url, 3, log, config=config):
        try:
            await emulator.wait_for(lambda: len(emulator.calls_to("setWebhook")) >= 3, 60)
            for user in citizens:
                user.send_text("/start")
                await emulator.wait_for(shows(user, "Datenschutz"), 60)
                user.press("Mitmachen")
                await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 60)
            proxy.refuse()
            # Meanwhile an instance dies (on the other side of the cut) and leaves pending
            # updates behind, under a name whose lock nobody holds.
            await leave_orphans(database_url, orphans)
            for user in citizens:
                keyboard = user.last_message.message_id
                user.press("Mobilität & ÖPNV", message_id=keyboard)
                user.press("Sport & Events", message_id=keyboard)
            await logged(log, "webhook: the database is unreachable")
            await asyncio.sleep(OUTAGE)
            await proxy.restore()
            for user in citizens:
                await emulator.wait_for(showed(user, "Gewählt: 2 von 3"), 60)
                user.press("Weiter", message_id=keyboard_with(user, "Gewählt: 2 von 3"))
                await emulator.wait_for(shows(user, "Schritt 2 von 3"), 60)
                user.press("Überspringen")
                await emulator.wait_for(shows(user, "Schritt 3 von 3"), 60)
                user.press("Absenden")
                await emulator.wait_for(shows(user, "Danke!"), 60)
            for user in orphans:
                await emulator.wait_for(shows(user, "Datenschutz"), 60)
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- log:\n{log.read_text()[-4000:]}") from exc

    for user in citizens:
        assert edits(emulator, user) == ["1", "2"], f"{user.id}: {edits(emulator, user)}"
        sent = Counter(c.method for c in emulator.api_calls if c.chat_id == user.id)
        # Welcome, topics, idea, review; and the topics once more if that step was run again.
        assert sent["sendMessage"] in (4, 5), f"{user.id}: {sent}"
        answered = [a.query_id for a in user.callback_answers]
        assert len(answered) == len(set(answered)) == 6, f"{user.id}: {answered}"
        assert not any(SORRY in m.text for m in user.messages)
    for user in orphans:
        assert len(user.messages) == 1, [m.text[:30] for m in user.messages]
    assert await counts(proxy.url) == (4, 8, 0)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    # One line per instance for the outage, however many calls it refused meanwhile.
    assert text.count("webhook: the database is unreachable") <= 3, text[-4000:]
