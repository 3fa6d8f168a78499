"""The real `dialogbot run` process, stopped and killed in the middle of dialogs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from bot.emulator import BotApiEmulator, EmulatedUser
from tests.harness import ROOT, TOKEN

pytestmark = pytest.mark.slow


@asynccontextmanager
async def bot_process(
    emulator: BotApiEmulator, database_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "DIALOGBOT_TOKEN": TOKEN,
        "DIALOGBOT_API_BASE": emulator.base_url,
        "DIALOGBOT_DATABASE_URL": database_url,
        "DIALOGBOT_SECRET": "process-test-secret",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--config",
        str(ROOT / "config.example.toml"),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def reply(emulator: BotApiEmulator, check: Callable[[], bool]) -> None:
    await emulator.wait_for(check, timeout=20)


def shows(user: EmulatedUser, text: str) -> Callable[[], bool]:
    return lambda: bool(user.messages) and text in user.last_message.text


async def test_sigterm_and_restart_mid_dialog(emulator: BotApiEmulator, database_url: str) -> None:
    user = emulator.user(8_000_000_123)
    async with bot_process(emulator, database_url) as process:
        user.send_text("/start")
        await reply(emulator, shows(user, "Datenschutz"))
        user.press("Mitmachen")
        await reply(emulator, shows(user, "Gewählt: 0 von 3"))
        user.press("Mobilität & ÖPNV")
        await reply(emulator, shows(user, "Gewählt: 1 von 3"))
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0

    async with bot_process(emulator, database_url):
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


async def test_sigkill_loses_no_update(emulator: BotApiEmulator, database_url: str) -> None:
    user = emulator.user(4711)
    async with bot_process(emulator, database_url) as process:
        user.send_text("/start")
        await reply(emulator, shows(user, "Datenschutz"))
        user.press("Mitmachen")
        await reply(emulator, shows(user, "Gewählt: 0 von 3"))
        process.kill()
        await process.wait()
    # Sent while no bot runs: Telegram keeps them until a bot fetches them.
    user.press("Lehrkräfte gewinnen")
    user.press("Gesundheit & Pflege")
    user.press("Weiter")
    async with bot_process(emulator, database_url):
        await reply(emulator, shows(user, "Schritt 2 von 3"))
        user.send_text("Mehr Studienplätze für das Lehramt an den Ruhr-Universitäten")
        await reply(emulator, shows(user, "Zu welchem"))
        user.press("Lehrkräfte gewinnen")
        await reply(emulator, shows(user, "Schritt 3 von 3"))
        user.press("Absenden")
        await reply(emulator, shows(user, "Danke!"))
        assert "Teilnehmende bisher: 1" in user.last_message.text
