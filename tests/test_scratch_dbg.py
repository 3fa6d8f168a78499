import asyncio
import faulthandler
import logging
import sys

import pytest

from tests.test_outage import Blackout, blackout, cut_off  # noqa


async def test_dbg(cut_off, caplog):
    harness, down = cut_off
    if down.proxy is None:
        pytest.skip()
    c = harness.citizen(7399)
    await c.send("/start")
    with caplog.at_level(logging.DEBUG):
        c.user.press("Mitmachen")
        await harness.emulator.wait_for(
            lambda: any("Gewählt" in m.text for m in c.user.messages), 10
        )
        down.begin()
        await asyncio.sleep(3)
        await down.end()
        faulthandler.dump_traceback_later(15, exit=False)
        try:
            await harness.settle()
        finally:
            for t in asyncio.all_tasks():
                t.print_stack(limit=8, file=sys.stderr)
