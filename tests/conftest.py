from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from tests.harness import TOKEN, Harness, RunningBot, make_settings


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dialogbot.sqlite3'}"


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emu = BotApiEmulator(token=TOKEN)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def harness(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    bot = RunningBot(make_settings(emulator.base_url, database_url))
    await bot.start()
    try:
        yield Harness(emulator, bot)
    finally:
        await bot.stop()
