"""Long polling that confirms an update to Telegram only after the inbox recorded it.

aiogram's own polling confirms updates before their handlers ran; here the offset moves past an
update only once `UpdatePipeline.accept_raw` has committed it, so a crash loses nothing.

The batch is fetched as raw JSON and each update read on its own (`RawGetUpdates`): one update
the models reject must not make the whole batch unreadable, which would stop polling or fetch
the same batch forever. The offset comes from the raw batch, so it moves past an update that
was set aside as well.
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

from bot.lenient import describe
from bot.periodic import pause
from bot.pipeline import UpdatePipeline

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


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
) -> None:
    offset: int | None = None
    backoff = first_backoff
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
            await pipeline.accept_raw(updates)
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
