"""The real `dialogbot run` while PostgreSQL goes away: polling, three webhook instances,
start-up and SIGTERM, with the database behind tests/db_proxy.py."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.emulator.server import BotApiEmulator, EmulatedUser, Fault
from storage.db import Database
from storage.models import InboxUpdate, Participant, Vote
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


async def sent_again(proxy: DatabaseProxy) -> None:
    """Wait until the bot sends the database something (after a quiet moment)."""
    await asyncio.sleep(0.1)
    seen = proxy.sent_at
    async with asyncio.timeout(30):
        while proxy.sent_at == seen:
            await asyncio.sleep(0.005)


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


def taps_once(counts: list[str]) -> bool:
    """The list shown after consent ("0", twice if the consent step ran again), then each of
    the two taps applied exactly once, in order ("1", "2")."""
    return counts[-2:] == ["1", "2"] and counts[:-2] in (["0"], ["0", "0"])


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
        # Consent turns the welcome into the list (0; once more if that step is run again
        # after the outage, as it may be), then one edit per tap, each once.
        assert taps_once(edits(emulator, user)), edits(emulator, user)
        assert not any(SORRY in m.text for m in user.messages)
    assert await counts(proxy.url) == (3, 6, 0)
    text = log.read_text()
    assert text.count("polling: the database is unreachable") == 1, text[-3000:]
    assert text.count("polling: the database answers again") == 1, text[-3000:]
    assert text.count("handling updates: the database is unreachable") <= 1, text[-3000:]
    assert "Traceback" not in text and "INSERT" not in text, text[-3000:]
    assert not any(str(user.id) in text for user in citizens)


async def test_sigterm_during_an_outage_stops_and_the_next_start_finishes(
    emulator: BotApiEmulator, proxy: DatabaseProxy, database_url: str, tmp_path: Path
) -> None:
    """The database goes away while a step is under way (its edit is slow, so the step ends
    after the cut) and a second one waits behind it, both recorded; a third tap comes during
    the outage and is not recorded. SIGTERM then stops the process cleanly, without an
    apology; the next start finishes all three, each once."""
    user = emulator.user(8_300_000_100)
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, **FAST)
    async with bot_process(emulator, proxy.url, log, config) as process:
        user.send_text("/start")
        await emulator.wait_for(shows(user, "Datenschutz"), 30)
        user.press("Mitmachen")
        await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 30)
        keyboard = user.last_message.message_id
        emulator.faults.schedule("editMessageText", Fault(execute=True, delay=0.3, label="slow"))
        edited = len(emulator.calls_to("editMessageText"))
        # Just after the periodic look for orphaned updates (once a second): the first to
        # find its connection cut is the step, not that look (which would make the pool
        # throw away every connection, and the step would find the database refusing).
        await sent_again(proxy)
        user.press("Mobilität & ÖPNV", message_id=keyboard)
        user.press("Sport & Events", message_id=keyboard)
        async with asyncio.timeout(30):  # the first one's edit under way
            while len(emulator.calls_to("editMessageText")) == edited:
                await asyncio.sleep(0.005)
        proxy.refuse()
        await logged(log, "handling updates: the database is unreachable")
        user.press("Gesundheit & Pflege", message_id=keyboard)
        await logged(log, "polling: the database is unreachable")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    await proxy.restore()
    async with bot_process(emulator, proxy.url, log, config) as process:
        await emulator.wait_for(showed(user, "Gewählt: 3 von 3"), 30)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    # The step under way at the cut may run once more (an edit "not modified", as after a
    # crash); every tap counts once.
    assert edits(emulator, user)[-1] == "3", edits(emulator, user)
    assert not any(SORRY in m.text for m in user.messages), [m.text[:40] for m in user.messages]
    assert await counts(proxy.url) == (1, 0, 0)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    assert "left pending for the next start" in text, text[-4000:]


async def test_a_step_cut_off_mid_way_is_run_again_without_an_apology(
    emulator: BotApiEmulator, proxy: DatabaseProxy, tmp_path: Path
) -> None:
    """The submission is stored, then the database goes away before the step reads the
    standings (its answer to the button is slow, and the cut comes meanwhile): the step fails
    on a lost connection. It gets no apology and is not marked done; SIGTERM leaves it pending,
    and the next start runs it again, storing nothing twice."""
    user = emulator.user(8_300_000_150)
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path, **FAST)
    async with bot_process(emulator, proxy.url, log, config) as process:
        user.send_text("/start")
        await emulator.wait_for(shows(user, "Datenschutz"), 30)
        user.press("Mitmachen")
        await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 30)
        user.press("Mobilität & ÖPNV")
        await emulator.wait_for(shows(user, "Gewählt: 1 von 3"), 30)
        user.press("Weiter")
        await emulator.wait_for(shows(user, "Schritt 2 von 3"), 30)
        user.press("Überspringen")
        await emulator.wait_for(shows(user, "Schritt 3 von 3"), 30)
        slow = Fault(execute=True, delay=0.3, label="slow")
        emulator.faults.schedule("answerCallbackQuery", slow)
        answered = len(emulator.calls_to("answerCallbackQuery"))
        await sent_again(proxy)  # (see the SIGTERM test above)
        user.press("Absenden")
        async with asyncio.timeout(30):
            while len(emulator.calls_to("answerCallbackQuery")) == answered:
                await asyncio.sleep(0.005)
        proxy.refuse()
        await logged(log, "handling updates: the database is unreachable")
        await asyncio.sleep(1)  # tried again meanwhile
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert not any(SORRY in m.text for m in user.messages), [m.text[:40] for m in user.messages]
    assert not any("Danke!" in m.text for m in user.messages)
    await proxy.restore()
    async with bot_process(emulator, proxy.url, log, config) as process:
        await emulator.wait_for(showed(user, "Danke!"), 30)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert not any(SORRY in m.text for m in user.messages), [m.text[:40] for m in user.messages]
    assert await counts(proxy.url) == (1, 1, 0)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    assert "(InterfaceError" in text, text[-4000:]  # the step's own connection was cut


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


async def pending_owners(
    database_url: str, keys: list[int], *, every: bool = False
) -> dict[int, str]:
    """The owner of each pending update of these people, by their id (the ordering key);
    `every`: by update id instead, for people with several."""
    database = Database(database_url)
    try:
        async with database.reading() as session:
            rows = await session.execute(
                select(InboxUpdate.update_id, InboxUpdate.ordering_key, InboxUpdate.owner).where(
                    InboxUpdate.status == "pending", InboxUpdate.ordering_key.in_(keys)
                )
            )
            return {
                int(row.update_id if every else row.ordering_key): str(row.owner) for row in rows
            }
    finally:
        await database.dispose()


def answered_at(emulator: BotApiEmulator, user: EmulatedUser) -> list[float]:
    """When each message the bot sent the user went out (emulator time, monotonic)."""
    return [
        c.time
        for c in emulator.api_calls
        if c.chat_id == user.id and c.method == "sendMessage" and c.fault is None
    ]


async def test_three_webhook_instances_keep_their_locks_straight_through_an_outage(
    emulator: BotApiEmulator, proxy: DatabaseProxy, database_url: str, tmp_path: Path
) -> None:
    """Every connection of three instances is cut and refused for three seconds while
    citizens tap, and each instance holds recorded updates it cannot answer yet (the Bot API
    fails every sendMessage). Afterwards one instance is killed (SIGKILL) with its updates
    still pending. No update is handled twice, every tap is applied once, and the updates of
    the dead instance are taken over, but not before the grace since its death."""
    grace = 2.0
    citizens = [emulator.user(8_300_001_000 + n) for n in range(4)]
    held = [emulator.user(8_300_002_000 + n) for n in range(6)]
    log = tmp_path / "instances.log"
    config = fast_config(tmp_path, takeover_grace=grace, **FAST)
    async with instances(emulator, proxy.url, 3, log, config=config) as processes:
        try:
            await emulator.wait_for(lambda: len(emulator.calls_to("setWebhook")) >= 3, 60)
            for user in citizens:
                user.send_text("/start")
                await emulator.wait_for(shows(user, "Datenschutz"), 60)
                user.press("Mitmachen")
                await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 60)
            # From now on every sendMessage fails: the /starts of `held` are recorded, spread
            # over the instances, and stay pending (each instance tries again and again).
            emulator.faults.at_random(0, rate=1.0, pool={"sendMessage": [Fault.html_page(502)]})
            for user in held:
                user.send_text("/start")
            keys = [user.id for user in held]
            async with asyncio.timeout(60):
                while len(await pending_owners(database_url, keys)) < len(held):
                    await asyncio.sleep(0.1)
            proxy.refuse()
            for user in citizens:
                keyboard = user.last_message.message_id
                user.press("Mobilität & ÖPNV", message_id=keyboard)
                user.press("Sport & Events", message_id=keyboard)
            await logged(log, "webhook: the database is unreachable")
            await asyncio.sleep(OUTAGE)
            await proxy.restore()
            # Every lock was free during the cut: longer than the grace, the live instances
            # (which took theirs again) keep their pending updates all the same.
            await asyncio.sleep(grace + 2)
            owners = await pending_owners(database_url, keys)
            by_pid = {p.pid: p for p in processes}
            victim = next(by_pid[int(o.split(":")[1])] for o in owners.values())
            victim_name = next(o for o in owners.values() if int(o.split(":")[1]) == victim.pid)
            orphans = [u for u in held if owners.get(u.id) == victim_name]
            killed = time.monotonic()  # (emulator times are time.monotonic() too)
            victim.kill()
            await victim.wait()
            emulator.faults.calm()
            for user in held:
                await emulator.wait_for(shows(user, "Datenschutz"), 60)
            for user in citizens:
                await emulator.wait_for(showed(user, "Gewählt: 2 von 3"), 60)
                user.press("Weiter", message_id=keyboard_with(user, "Gewählt: 2 von 3"))
                await emulator.wait_for(shows(user, "Schritt 2 von 3"), 60)
                user.press("Überspringen")
                await emulator.wait_for(shows(user, "Schritt 3 von 3"), 60)
                user.press("Absenden")
                await emulator.wait_for(shows(user, "Danke!"), 60)
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- log:\n{log.read_text()[-4000:]}") from exc

    assert orphans, owners
    for user in orphans:  # taken over, not before the grace since the instance died
        assert min(answered_at(emulator, user)) >= killed + grace, (
            answered_at(emulator, user),
            killed,
        )
    for user in held:  # each answered exactly once, the dead instance's too
        assert len(answered_at(emulator, user)) == 1, (user.id, answered_at(emulator, user))
        assert len(user.messages) == 1, [m.text[:30] for m in user.messages]
    for user in citizens:
        assert taps_once(edits(emulator, user)), f"{user.id}: {edits(emulator, user)}"
        sent = Counter(c.method for c in emulator.api_calls if c.chat_id == user.id)
        # The welcome; every later step edits it (the welcome once more if /start ran again).
        assert sent["sendMessage"] in (1, 2), f"{user.id}: {sent}"
        answered = [a.query_id for a in user.callback_answers]
        assert len(answered) == len(set(answered)) == 6, f"{user.id}: {answered}"
        assert not any(SORRY in m.text for m in user.messages)
    assert await counts(proxy.url) == (4, 8, 0)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    # One line per instance for the outage, however many calls it refused meanwhile.
    assert text.count("webhook: the database is unreachable") <= 3, text[-4000:]
