"""SIGTERM while twenty slow handlers are in flight: each of them finishes and replies."""

from __future__ import annotations

import asyncio
import os
import signal

from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select

from bot.app.lifecycle import run_until_signalled
from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator
from storage.models import InboxUpdate
from tests.harness import make_settings

IN_FLIGHT = 20


class SlowWork:
    """A test-only handler that holds its update until the test lets it go."""

    def __init__(self) -> None:
        self.started = 0
        self.all_started = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, message: Message) -> None:
        self.started += 1
        if self.started == IN_FLIGHT:
            self.all_started.set()
        await self.release.wait()
        await message.answer("fertig")


async def test_sigterm_lets_every_update_in_flight_finish(
    emulator: BotApiEmulator, database_url: str
) -> None:
    app = Application.build(make_settings(emulator.base_url, database_url))
    work = SlowWork()
    # The dispatcher's own handlers run before its routers (and their catch-all fallback).
    app.dispatcher.message.register(work.handle, Command("langsam"))
    stop = asyncio.Event()
    running = asyncio.create_task(run_until_signalled(app, stop))
    users = [emulator.user(7300 + n) for n in range(IN_FLIGHT)]
    for user in users:
        user.send_text("/langsam")
    await asyncio.wait_for(work.all_started.wait(), timeout=20)

    os.kill(os.getpid(), signal.SIGTERM)  # the handler of `dialogbot run`, not a shortcut
    await asyncio.wait_for(stop.wait(), timeout=5)
    # The shutdown waits for the twenty: while they are held, it does not end (a shutdown that
    # does not wait ends at once). No duration is asserted: a waiting shutdown never ends here.
    await asyncio.wait({running}, timeout=3)
    assert not running.done()
    work.release.set()  # only now can the twenty answer: after the stop was requested
    await asyncio.wait_for(running, timeout=20)

    assert app.pipeline.in_flight == 0
    assert [u.last_text for u in users] == ["fertig"] * IN_FLIGHT
    await assert_inbox_finished(app)


async def assert_inbox_finished(app: Application) -> None:
    database = type(app.database)(app.settings.database_url)  # the app's own is closed
    try:
        async with database.reading() as session:
            statuses = await session.execute(
                select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
            )
            assert {status: n for status, n in statuses} == {"done": IN_FLIGHT}
    finally:
        await database.dispose()
