"""The update queue: updates wait here in order until the bot confirms them, by a newer
getUpdates offset or a webhook's 2xx answer; the notifier wakes everything that waits on a
change (long polls, webhook delivery, the tests' ``wait_for``).

Imports only the wire format.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator.wire import JSON, ApiError, Params, bad_request

_MAX_POLL_TIMEOUT = 50.0
# Telegram's default set: everything except these three must be requested explicitly.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class Update:
    update_id: int
    kind: str
    payload: JSON

    def to_json(self) -> JSON:
        return {"update_id": self.update_id, self.kind: self.payload}


class Notifier:
    """Wakes all waiters on any state change.

    Unlike asyncio.Condition it can be notified from synchronous code, which the
    in-process test API (``user.send_text``) needs to wake long polls.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(self, ready: Callable[[], bool], within: float | None) -> bool:
        """Wait until ``ready()`` holds (True) or ``within`` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while not ready():
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                self._waiters.discard(waiter)
                waiter.cancel()
        return True


class UpdateQueue:
    """Updates not yet confirmed, in order, and getUpdates' long poll on them."""

    def __init__(self, notifier: Notifier, webhook_active: Callable[[], bool]) -> None:
        self.notifier = notifier
        self.webhook_active = webhook_active  # getUpdates answers 409 while it is
        self.pending: list[Update] = []
        self.enqueued_at: dict[int, float] = {}  # time.monotonic() per update id
        self.next_update_id = 1
        self.allowed: frozenset[str] | None = None  # None: Telegram's default set
        self.poll_generation = 0
        self.closing = False  # the server stops: long polls answer at once

    def drop_pending(self) -> None:
        """``drop_pending_updates``: confirm everything enqueued so far."""
        self.confirm(self.next_update_id)

    def terminate_polls(self) -> None:
        """A running long poll answers 409 (a newer getUpdates, or a webhook was set)."""
        self.poll_generation += 1
        self.notifier.notify()

    def allows(self, kind: str) -> bool:
        return kind in self.allowed if self.allowed is not None else kind not in _OPT_IN_UPDATES

    def enqueue(self, kind: str, payload: JSON) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        self.enqueued_at[update_id] = time.monotonic()
        if self.allows(kind):  # Telegram never creates updates the bot did not ask for
            self.pending.append(Update(update_id, kind, payload))
        self.notifier.notify()
        return update_id

    def confirm(self, offset: int) -> None:
        before = len(self.pending)
        if offset < 0:  # Telegram: keep only the last -offset updates
            self.pending = self.pending[max(len(self.pending) + offset, 0) :]
        else:
            self.pending = [u for u in self.pending if u.update_id >= offset]
        if len(self.pending) != before:
            self.notifier.notify()

    def set_allowed(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("can't parse allowed_updates JSON object")
        self.allowed = frozenset(value) if value else None
        self.pending = [u for u in self.pending if self.allows(u.kind)]
        self.notifier.notify()

    async def get_updates(self, p: Params) -> list[JSON]:
        if self.webhook_active():
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset")
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = min(max(p.number("timeout") or 0.0, 0.0), _MAX_POLL_TIMEOUT)
        self.set_allowed(p.json("allowed_updates"))
        if offset is not None:
            self.confirm(offset)
        self.poll_generation += 1  # a newer getUpdates terminates an older long poll
        generation = self.poll_generation
        self.notifier.notify()

        def ready() -> bool:
            return bool(self.pending) or self.closing or generation != self.poll_generation

        await self.notifier.wait_until(ready, timeout)
        if generation != self.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return [u.to_json() for u in self.pending[:limit]]
