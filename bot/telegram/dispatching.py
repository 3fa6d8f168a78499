"""Dispatcher tuning that changes no behaviour.

aiogram 3.31 awaits every filter that is not a coroutine function through `asyncio.to_thread`
(aiogram/dispatcher/event/handler.py, `CallableObject.call`). That includes every magic filter
(`F.text`, `F.chat.type == ...`): each check of one attribute became a trip to a worker thread
and back, with its GIL hand-over, a few times per update (benchmarks/README.md). Those filters
are pure and take microseconds, so they are run inline here instead (bot/app/runtime.py,
unless `[tuning] dispatcher = false`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject


def _inline(callback: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(callback)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return callback(*args, **kwargs)

    return run


def run_sync_filters_inline(root: Router) -> int:
    """Make every synchronous filter below `root` run on the loop; returns how many."""
    changed = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            handlers: list[HandlerObject] = [observer._handler, *observer.handlers]
            for handler in handlers:
                for event_filter in handler.filters or ():
                    if isinstance(event_filter, FilterObject) and not event_filter.awaitable:
                        event_filter.callback = _inline(event_filter.callback)
                        event_filter.awaitable = True
                        changed += 1
    return changed
