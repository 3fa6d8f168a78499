"""`dialogbot run` until SIGTERM or SIGINT, then a graceful stop.

A signal only sets `stop`: polling ends (updates not yet fetched stay with Telegram), every
update already accepted runs to its reply (`Application.run_polling`), then the bot closes.
A revoked token (Telegram's 401 on any call) stops it the same way and then raises
`TokenRevoked`, which the CLI turns into one line and a non-zero status.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from bot.app.runtime import Application
from bot.telegram.outcomes import TokenRevoked, is_revoked

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signalled(
    app: Application,
    stop: asyncio.Event | None = None,
    serve: Callable[[asyncio.Event], Awaitable[None]] | None = None,
) -> None:
    """`serve` runs the bot until `stop` (default: long polling; bot.telegram.webhook for
    webhooks)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    app.revocation.watch(stop)
    try:
        await (serve or app.run_polling)(stop)
    except Exception as exc:
        if is_revoked(exc):  # at start: the command menus are the first calls
            raise TokenRevoked from None
        raise
    finally:
        # Back to the default: a second signal after shutdown ends the process as usual.
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await app.close()
    if app.revocation.revoked:
        raise TokenRevoked
