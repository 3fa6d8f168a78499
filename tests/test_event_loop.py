"""`dialogbot` runs on uvloop where it is installed, and on asyncio's loop where it is not."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from bot.app.event_loop import run


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_bot_runs_on_uvloop_when_it_is_installed() -> None:
    assert run(_loop_module()).startswith("uvloop")


def test_without_uvloop_the_standard_loop_runs_the_same_code() -> None:
    # A fresh interpreter in which `import uvloop` fails, as on Windows.
    code = (
        "import sys; sys.modules['uvloop'] = None\n"
        "import asyncio\n"
        "from bot.app.event_loop import run\n"
        "async def loop(): return type(asyncio.get_running_loop()).__module__\n"
        "print(run(loop()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "asyncio.unix_events"
