"""From a received update to its handler: inbox first, then one citizen's updates in order.

Polling (or a webhook) hands updates to `UpdatePipeline.accept`, which records them in the inbox
and only then lets the caller confirm them to Telegram. Each update then runs through the
dispatcher; updates of the same person wait for each other, everybody else runs concurrently.

A step that fails for a reason that passes (`retry_when`: the Bot API or the database is away
for a while) is neither marked done nor apologised for: the same task runs it again after a
backoff, with that person's later updates still waiting behind it, until it goes through. At
shutdown (`stop_retrying`) such an update, and the person's later ones, stay pending in the
inbox, and the next start resumes them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from storage.inbox import Inbox

log = logging.getLogger(__name__)


# Between two runs of a step that failed for a passing reason: 0.5 s, doubling, up to 30 s.
DEFAULT_RETRY_BACKOFF = BackoffConfig(min_delay=0.5, max_delay=30.0, factor=2.0, jitter=0.1)


def never(_: BaseException) -> bool:
    return False


class PendingWrites(Protocol):
    """What an update scope leaves to write when the update ends."""

    def write_in(self, connection: Any) -> None: ...


def ordering_key(update: Update) -> int:
    """Who an update belongs to: its user, else its chat, else itself."""
    event: Any = update.event
    user = getattr(event, "from_user", None)
    if user is not None:
        return int(user.id)
    chat = getattr(event, "chat", None) or getattr(getattr(event, "message", None), "chat", None)
    if chat is not None:
        return int(chat.id)
    return -update.update_id


class UpdatePipeline:
    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        inbox: Inbox,
        *,
        max_in_flight: int = 200,
        context: dict[str, Any] | None = None,
        scopes: Callable[[], AbstractContextManager[PendingWrites]] | None = None,
        retry_when: Callable[[BaseException], bool] = never,
        retry_backoff: BackoffConfig = DEFAULT_RETRY_BACKOFF,
    ) -> None:
        self._dp = dispatcher
        self._bot = bot
        self._inbox = inbox
        # Opened around each update: storage.fsm.SqlStorage.update_scope.
        self._scopes = scopes
        self._slots = asyncio.Semaphore(max_in_flight)
        self._context = context or {}
        # Last scheduled task per person: the next update of that person waits for it.
        # The task says whether it finished its update (False: left pending at shutdown).
        self._tails: dict[int, tuple[asyncio.Task[bool], int]] = {}  # task, its update id
        self._tasks: set[asyncio.Task[bool]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sweeper: asyncio.Task[None] | None = None
        self._retry_when = retry_when
        self._retry_backoff = retry_backoff
        self._stopping = asyncio.Event()

    async def accept(self, updates: Iterable[Update]) -> int:
        """Record then schedule; returns how many were new. Safe to confirm afterwards."""
        batch = list(updates)
        payloads = [(u.update_id, u.model_dump_json(exclude_unset=True)) for u in batch]
        fresh = await self._inbox.record(payloads, {u.update_id: ordering_key(u) for u in batch})
        unscheduled = set(fresh)
        for update in batch:
            if update.update_id in unscheduled:
                unscheduled.discard(update.update_id)  # twice in one batch: still once
                self._schedule(update)
        return len(fresh)

    async def resume_pending(self, *, sweep_every: float = 1.0) -> int:
        """Finish what an earlier run recorded but did not complete.

        With an inbox shared by several instances, keep looking (every `sweep_every` s) for
        updates of instances that died, and finish those too (storage/inbox.py).
        """
        count = await self._resume()
        if self._inbox.shared and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(sweep_every))
        return count

    def stop_retrying(self) -> None:
        """From now on a step that fails for a passing reason stays pending for the next start
        (and so do the later updates of that person), instead of being tried again here."""
        self._stopping.set()

    async def close(self) -> None:
        """Stop looking for orphaned updates and give up this instance's claim on its own."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
        await self._inbox.close()

    async def _resume(self) -> int:
        pending = await self._inbox.pending()
        for _, payload in pending:
            update = Update.model_validate_json(payload, context={"bot": self._bot})
            self._schedule(update, replayed=True)
        if pending:
            log.info("resuming %d unfinished updates from the inbox", len(pending))
        return len(pending)

    async def _sweep(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self._resume()
            except Exception:
                log.exception("looking for orphaned updates failed; trying again")

    async def wait_idle(self) -> None:
        """Return once every scheduled update has been handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def _schedule(self, update: Update, *, replayed: bool = False) -> None:
        key = ordering_key(update)
        tail = self._tails.get(key)
        # An update taken over from a dead instance can be older than one already waiting
        # here: it must not wait for that one (which waits for it in the inbox).
        newest = tail is None or tail[1] < update.update_id
        previous = tail[0] if tail is not None and newest else None
        task = asyncio.create_task(self._run_after(previous, key, update, replayed))
        if newest:
            self._tails[key] = (task, update.update_id)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: int, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        tail = self._tails.get(key)
        if tail is not None and tail[0] is task:
            del self._tails[key]

    async def _run_after(
        self, previous: asyncio.Task[bool] | None, key: int, update: Update, replayed: bool
    ) -> bool:
        if previous is not None:
            await asyncio.wait({previous})
            if not previous.cancelled() and previous.exception() is None and not previous.result():
                # The earlier update stays pending for the next start: so does this one, or
                # the person's steps would run out of order.
                return False
        try:
            # Another instance may hold an earlier update of this person (shared inbox).
            await self._inbox.wait_turn(key, update.update_id)
        except Exception:
            log.exception("could not check the order of update %d", update.update_id)
        return await self._handle(update, replayed)

    async def _handle(self, update: Update, replayed: bool) -> bool:
        """Run the update until it is done; False if it was left pending at shutdown."""
        backoff = Backoff(self._retry_backoff)
        while True:
            try:
                async with self._slots:
                    await self._attempt(update, replayed)
                return True
            except Exception as exc:
                if not self._retry_when(exc):
                    raise
                if self._stopping.is_set():
                    log.warning(
                        "update %d left pending for the next start (%s)",
                        update.update_id,
                        type(exc).__name__,
                    )
                    return False
                delay = next(backoff)
                log.warning(
                    "update %d could not be handled now (%s); again in %.1f s",
                    update.update_id,
                    type(exc).__name__,
                    delay,
                )
            # Its replies may or may not have gone out: the next run is a replay.
            replayed = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(delay, 0.0))

    async def _attempt(self, update: Update, replayed: bool) -> None:
        """One run of the update: its handlers, then its state changes and "done" mark in one
        transaction. A failure that `retry_when` accepts leaves the update pending."""
        with self._scopes() if self._scopes is not None else nullcontext() as scope:
            failed = False
            try:
                # `replayed`: recorded before a crash or by a dead instance, or tried before
                # and failed for a passing reason, and handled again now; its replies may or
                # may not have gone out the first time.
                context = {**self._context, "replayed": replayed}
                await self._dp.feed_update(self._bot, update, **context)
            except Exception as exc:
                if self._retry_when(exc):
                    raise
                failed = True
                log.exception("update %d failed", update.update_id)
            # The update's last state changes and its "done" mark: one transaction.
            also = scope.write_in if scope is not None else None
            await self._inbox.finish(update.update_id, failed=failed, also=also)
