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

Backpressure: while the pipeline has `updates_in_flight` updates received but not handled,
nothing is fetched; then at most as many as there is room for (getUpdates' `limit`). What is
not fetched waits at Telegram, unconfirmed, for as long as Telegram keeps updates (24 hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

from aiogram import Bot
from aiogram.methods import GetUpdates
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.telegram import outcomes
from bot.telegram.outcomes import Outcome, TokenRevoked
from bot.telegram.periodic import pause
from bot.telegram.pipeline import UpdatePipeline
from storage.outage import Outage, is_unreachable

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
DEFAULT_POLL_SECONDS = 25
DEFAULT_REQUEST_TIMEOUT = 60.0
MAX_BATCH = 100  # the most getUpdates returns at once
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
    poll_seconds: int = DEFAULT_POLL_SECONDS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    first_backoff: float = 0.5,
    max_backoff: float = 30.0,
    db_backoff: BackoffConfig = DB_BACKOFF,
) -> None:
    """Fetch and hand over updates until `stop`. A transient error (bot.telegram.outcomes: a proxy's
    HTML page, a cut-off answer, a timeout, a 5xx, a dropped connection, 429) is one log line
    and a pause with backoff and jitter; a revoked token raises `TokenRevoked`; every other
    Bot API error also pauses, so polling ends only when asked to."""
    offset: int | None = None
    backoff = Backoff(
        BackoffConfig(
            min_delay=first_backoff,
            max_delay=max(max_backoff, first_backoff * 2),
            factor=2.0,
            jitter=first_backoff / 4,
        )
    )
    database = Outage("polling", log)
    db_pauses = Backoff(db_backoff)
    while not stop.is_set():
        room = await pipeline.wait_for_room(stop)
        if room < 1:
            break  # stopped while waiting for room
        try:
            updates = await _fetch(
                bot, offset, poll_seconds, request_timeout, stop, limit=min(room, MAX_BATCH)
            )
        except Exception as exc:
            outcome = outcomes.classify(exc)
            if outcome is Outcome.REVOKED:
                raise TokenRevoked from None
            asked = outcomes.retry_after(exc)
            delay = asked if asked is not None else min(max(next(backoff), 0.0), max_backoff)
            # Never the answer's body (an HTML page, or updates with people's messages); the
            # token some network errors name is masked by bot.app.logs.
            what = outcomes.describe(exc)
            if outcome is Outcome.UNREADABLE:
                # `ok: true`, but not a list of objects: nothing was confirmed, so the same
                # updates come with the next call.
                log.warning("getUpdates answer unreadable (%s); retrying in %.1f s", what, delay)
            else:
                level = logging.WARNING if outcome is Outcome.TRANSIENT else logging.ERROR
                log.log(level, "polling failed (%s); retrying in %.1f s", what, delay)
            await pause(stop, min(delay, max_backoff))
            continue
        backoff.reset()
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
    bot: Bot,
    offset: int | None,
    poll_seconds: int,
    request_timeout: float,
    stop: asyncio.Event,
    *,
    limit: int = MAX_BATCH,
) -> list[dict[str, Any]]:
    """One getUpdates call that a stop request interrupts (the updates stay unconfirmed)."""
    request = RawGetUpdates(
        offset=offset, limit=limit, timeout=poll_seconds, allowed_updates=ALLOWED_UPDATES
    )
    # aiogram annotates the timeout as int; aiohttp takes any number of seconds.
    timeout: int = poll_seconds + request_timeout  # type: ignore[assignment]
    fetch = asyncio.ensure_future(bot(request, request_timeout=timeout))
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
