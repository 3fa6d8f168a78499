"""Long polling that confirms an update to Telegram only after the inbox recorded it.

aiogram's own polling confirms updates before their handlers ran; here the offset moves past an
update only once `UpdatePipeline.accept_raw` has committed it, so a crash loses nothing.

The batch is fetched as raw JSON and each update read on its own (`RawGetUpdates`): one update
the models reject must not make the whole batch unreadable, which would stop polling or fetch
the same batch forever. The offset comes from the raw batch, so it moves past an update that
was set aside as well.

If the database cannot be reached (storage/outage.py), nothing is confirmed: polling pauses
(backing off, with jitter, up to `db_backoff`'s maximum) and fetches from the same offset
again until the batch is recorded. One log line when the outage begins, one when it ends.
Any other failure to record is a bug, and ends polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.lenient import describe
from bot.periodic import pause
from bot.pipeline import UpdatePipeline
from storage.outage import Outage, is_unreachable

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
# Pauses while the database is unreachable: 0.5 s, then longer, at most 10 s, with jitter.
DB_BACKOFF = BackoffConfig(min_delay=0.5, max_delay=10.0, factor=1.6, jitter=0.2)


class RawGetUpdates(GetUpdates):
    """getUpdates whose answer is validated only as a list of JSON objects."""

    __returning__ = list[dict[str, Any]]


async def poll(
    bot: Bot,
    pipeline: UpdatePipeline,
    stop: asyncio.Event,
    *,
    poll_seconds: int = 25,
    first_backoff: float = 0.5,
    max_backoff: float = 30.0,
    db_backoff: BackoffConfig = DB_BACKOFF,
) -> None:
    offset: int | None = None
    backoff = first_backoff
    database = Outage("polling", log)
    db_pauses = Backoff(db_backoff)
    while not stop.is_set():
        try:
            updates = await _fetch(bot, offset, poll_seconds, stop)
        except TelegramRetryAfter as exc:
            await pause(stop, min(exc.retry_after, max_backoff))
            continue
        except (TelegramNetworkError, TelegramServerError) as exc:
            # The message says what failed; bot.logs masks the token some of them contain.
            log.warning("polling failed (%s); retrying in %.1f s", exc, backoff)
            await pause(stop, backoff)
            backoff = min(backoff * 2, max_backoff)
            continue
        except ClientDecodeError as exc:
            # Not even a list of objects (a proxy's error page, say): the batch waits at
            # Telegram. Never str(exc): it carries the whole answer.
            log.warning(
                "getUpdates answer unreadable (%s); retrying in %.1f s", describe(exc), backoff
            )
            await pause(stop, backoff)
            backoff = min(backoff * 2, max_backoff)
            continue
        backoff = first_backoff
        if updates:
            try:
                await pipeline.accept_raw(updates)
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                # Not confirmed: the same offset fetches the same updates once it answers.
                database.failed(exc)
                await pause(stop, next(db_pauses))
                continue
            database.answered()
            db_pauses.reset()
            offset = _next_offset(updates, offset)


def _next_offset(updates: list[dict[str, Any]], offset: int | None) -> int | None:
    """Past the raw batch's last update, also when that one could not be read at all."""
    ids = [u["update_id"] for u in updates if isinstance(u.get("update_id"), int)]
    return max(ids) + 1 if ids else offset


async def _fetch(
    bot: Bot, offset: int | None, poll_seconds: int, stop: asyncio.Event
) -> list[dict[str, Any]]:
    """One getUpdates call that a stop request interrupts (the updates stay unconfirmed)."""
    request = RawGetUpdates(offset=offset, timeout=poll_seconds, allowed_updates=ALLOWED_UPDATES)
    fetch = asyncio.ensure_future(bot(request, request_timeout=poll_seconds + 10))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if not fetch.done():
        fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fetch
        return []
    # Typed as GetUpdates' list[Update]; RawGetUpdates validates a list of objects only.
    return cast(list[dict[str, Any]], fetch.result())
