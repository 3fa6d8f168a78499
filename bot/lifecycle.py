"""`dialogbot run` until SIGTERM or SIGINT, then a graceful stop.

A signal only sets `stop`: polling ends (updates not yet fetched stay with Telegram), every
update already accepted runs to its reply (`Application.run_polling`), then the bot closes.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from bot.app import Application

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signalled(
    app: Application,
    stop: asyncio.Event | None = None,
    serve: Callable[[asyncio.Event], Awaitable[None]] | None = None,
) -> None:
    """`serve` runs the bot until `stop` (default: long polling; bot.webhook for webhooks)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await (serve or app.run_polling)(stop)
    finally:
        # Back to the default: a second signal after shutdown ends the process as usual.
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await app.close()
