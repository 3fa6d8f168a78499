"""The real `dialogbot run` process, stopped and killed in the middle of dialogs."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.emulator.server import BotApiEmulator, EmulatedUser, Fault
from tests.harness import ROOT, TOKEN, fast_config

pytestmark = pytest.mark.slow


@asynccontextmanager
async def bot_process(
    emulator: BotApiEmulator,
    database_url: str,
    log: Path | None = None,
    config: Path = ROOT / "config.example.toml",
    args: Sequence[str] = (),
    env_extra: Mapping[str, str] | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "DIALOGBOT_TOKEN": TOKEN,
        "DIALOGBOT_API_BASE": emulator.base_url,
        "DIALOGBOT_DATABASE_URL": database_url,
        "DIALOGBOT_SECRET": "process-test-secret-with-256-bits-0123456789ab",
        **(env_extra or {}),
    }
    log_file = log.open("ab") if log else None  # closed in the finally below
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.app.cli",
        "run",
        "--config",
        str(config),
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        # A file, not a pipe nobody reads: a full pipe would block the bot's logging.
        stderr=log_file if log_file else asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if log_file:
            log_file.close()


async def reply(emulator: BotApiEmulator, check: Callable[[], bool]) -> None:
    await emulator.wait_for(check, timeout=20)


def shows(user: EmulatedUser, text: str) -> Callable[[], bool]:
    return lambda: bool(user.messages) and text in user.last_message.text


async def test_sigterm_and_restart_mid_dialog(
    emulator: BotApiEmulator, database_url: str, tmp_path: Path
) -> None:
    user = emulator.user(8_000_000_123)
    config = fast_config(tmp_path)  # PostgreSQL: the stopped process's updates at once
    async with bot_process(emulator, database_url, config=config) as process:
        user.send_text("/start")
        await reply(emulator, shows(user, "Datenschutz"))
        user.press("Mitmachen")
        await reply(emulator, shows(user, "Gewählt: 0 von 3"))
        user.press("Mobilität & ÖPNV")
        await reply(emulator, shows(user, "Gewählt: 1 von 3"))
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0

    async with bot_process(emulator, database_url, config=config):
        user.press("Sport & Events")  # a keyboard from before the restart
        await reply(emulator, shows(user, "Gewählt: 2 von 3"))
        user.press("Weiter")
        await reply(emulator, shows(user, "Schritt 2 von 3"))
        user.press("Überspringen")
        await reply(emulator, shows(user, "Schritt 3 von 3"))
        user.press("Absenden")
        await reply(emulator, shows(user, "Danke!"))
        assert "Mobilität & ÖPNV: 100 %" in user.last_message.text
        assert "Sport & Events: 100 %" in user.last_message.text


async def test_sigkill_loses_no_update(
    emulator: BotApiEmulator, database_url: str, tmp_path: Path
) -> None:
    user = emulator.user(4711)
    config = fast_config(tmp_path)  # PostgreSQL: the killed process's updates at once
    async with bot_process(emulator, database_url, config=config) as process:
        user.send_text("/start")
        await reply(emulator, shows(user, "Datenschutz"))
        user.press("Mitmachen")
        await reply(emulator, shows(user, "Gewählt: 0 von 3"))
        # In flight: the bot has fetched the tap and is inside its handler, waiting for
        # Telegram to answer the button, when it is killed.
        stuck = Fault(delay=120, label="stuck")
        emulator.faults.schedule("answerCallbackQuery", stuck)
        user.press("Lehrkräfte gewinnen")
        await emulator.wait_for(lambda: emulator.faults.injected, 30)
        process.kill()
        await process.wait()
    assert not any("Gewählt: 1 von 3" in m.text for m in user.messages)  # not answered yet
    emulator.faults.clear()
    async with bot_process(emulator, database_url, config=config) as process:
        # The next start finishes the killed process's tap from its inbox.
        await reply(emulator, shows(user, "Gewählt: 1 von 3"))
        process.kill()
        await process.wait()
    # Sent while no bot runs: Telegram keeps them until a bot fetches them.
    user.press("Gesundheit & Pflege")
    user.press("Weiter")
    async with bot_process(emulator, database_url, config=config):
        await reply(emulator, shows(user, "Schritt 2 von 3"))
        user.send_text("Mehr Studienplätze für das Lehramt an den Ruhr-Universitäten")
        await reply(emulator, shows(user, "Zu welchem"))
        user.press("Lehrkräfte gewinnen")
        await reply(emulator, shows(user, "Schritt 3 von 3"))
        user.press("Absenden")
        await reply(emulator, shows(user, "Danke!"))
        assert "Teilnehmende bisher: 1" in user.last_message.text


async def test_sigkill_at_random_points_with_many_citizens_mid_dialog(
    emulator: BotApiEmulator, database_url: str, tmp_path: Path
) -> None:
    """Eight citizens walk through the dialog while the bot is killed (SIGKILL) three times at
    random moments. Everyone gets through, and every confirmed answer is stored exactly once."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)  # printed on failure, so a failing run can be repeated
    citizens = [emulator.user(60_000 + i) for i in range(8)]
    log = tmp_path / "bot.log"
    config = fast_config(tmp_path)  # PostgreSQL: a killed process's updates at once

    async def see(user: EmulatedUser, text: str) -> int:
        """Wait for the bot to show `text`, long enough to span a kill and a restart; a failure
        says who waited for what, and what they saw.

        In any message, not only the last: after a crash a step's prompt may come twice
        (handlers/citizen/fallback.py), and a press on the earlier copy updates that copy. The walk
        goes forward only, so a text shows up only once its step is reached. Steps are edited in
        place, so a prompt sent again after a crash (a second welcome) can be newer than the
        step itself: the id of the newest message showing `text` is returned, and the next
        press goes to that message, as a person presses the buttons of the step they read."""

        def check() -> bool:
            return any(text in m.text for m in user.messages)

        try:
            await emulator.wait_for(check, timeout=60)
        except TimeoutError as exc:
            seen = [m.text[-40:] for m in user.messages[-3:]]
            raise AssertionError(f"{user.id} waits for {text!r}, last seen: {seen}") from exc
        return [m.message_id for m in user.messages if text in m.text][-1]

    async def walk(user: EmulatedUser) -> None:
        user.send_text("/start")
        shown = await see(user, "Datenschutz")
        user.press("Mitmachen", message_id=shown)
        shown = await see(user, "Gewählt: 0 von 3")
        for count, title in enumerate(["Mobilität & ÖPNV", "Sport & Events"], 1):
            user.press(title, message_id=shown)
            shown = await see(user, f"Gewählt: {count} von 3")
        user.press("Weiter", message_id=shown)
        await see(user, "Schritt 2 von 3")
        user.send_text(f"Idee von Person {user.id}: mehr Busse am Abend")
        shown = await see(user, "Zu welchem")
        user.press("Mobilität & ÖPNV", message_id=shown)
        shown = await see(user, "Schritt 3 von 3")
        user.press("Absenden", message_id=shown)
        await see(user, "Danke!")

    def polling(menus: int) -> Callable[[], bool]:
        """The command menu is set once more: a new process is about to poll."""
        return lambda: len(emulator.calls_to("setMyCommands")) > menus

    async def killer() -> None:
        for _ in range(3):
            menus = len(emulator.calls_to("setMyCommands"))
            async with bot_process(emulator, database_url, log, config) as process:
                # Start-up takes seconds, more on a busy machine: then a random moment while
                # the citizens are at it.
                await emulator.wait_for(polling(menus), timeout=60)
                await asyncio.sleep(rng.uniform(0.1, 2.0))
                process.kill()
                await process.wait()

    walking = asyncio.gather(*(walk(u) for u in citizens))
    await killer()
    async with bot_process(emulator, database_url, log, config):
        try:
            await asyncio.wait_for(walking, timeout=120)
        except Exception as exc:
            raise AssertionError(f"seed {seed}: {exc}") from exc

    from storage.db import Database

    database = Database(database_url)
    try:
        async with database.reading() as session:
            votes = (await session.execute(text("SELECT count(*) FROM votes"))).scalar_one()
            ideas = (await session.execute(text("SELECT text FROM impulses"))).scalars().all()
            people = (await session.execute(text("SELECT count(*) FROM participants"))).scalar_one()
    finally:
        await database.dispose()
    assert (people, votes) == (8, 16), f"seed {seed}"
    assert sorted(ideas) == sorted(f"Idee von Person {u.id}: mehr Busse am Abend" for u in citizens)
