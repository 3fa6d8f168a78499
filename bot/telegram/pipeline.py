"""From a received update to its handler: inbox first, then one citizen's updates in order.

Polling (or a webhook) hands updates to `UpdatePipeline.accept`, which records them in the inbox
and only then lets the caller confirm them to Telegram. Each update then runs through the
dispatcher; updates of the same person wait for each other, everybody else runs concurrently.

A step that fails for a reason that passes (`retry_when`: the Bot API or the database is away
for a while) is neither marked done nor apologised for: the same task runs it again after a
backoff, with that person's later updates still waiting behind it, until it goes through. At
shutdown (`stop_retrying`) such an update, and the person's later ones, stay pending in the
inbox, and the next start resumes them in order.

Backpressure: at most `max_in_flight` updates are received but not yet handled. Polling asks
for no more than there is room for (`wait_for_room`, getUpdates' limit) and a webhook call
waits for room (`admitted`) before its update is recorded. A flood of one person's button
presses is dropped before the inbox (`gate`, bot.telegram.throttling.FloodGate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.telegram.lenient import Problem, Reading, read_update, update_kind
from bot.telegram.throttling import FloodGate
from bot.telegram.update_context import about_update
from storage.inbox import Inbox
from storage.outage import Outage, is_unreachable
from storage.set_aside import SetAside, Unreadable

if TYPE_CHECKING:
    from bot.telegram.metrics import Metrics  # prometheus-client: only with --metrics

log = logging.getLogger(__name__)


# Between two runs of a step that failed for a passing reason: 0.5 s, doubling, up to 30 s.
DEFAULT_RETRY_BACKOFF = BackoffConfig(min_delay=0.5, max_delay=30.0, factor=2.0, jitter=0.1)


def never(_: BaseException) -> bool:
    return False


class PendingWrites(Protocol):
    """What an update scope leaves to write when the update ends."""

    def has_writes(self) -> bool: ...

    def write_in(self, connection: Any) -> None: ...


def kind_of(update: Update) -> str:
    """The update's kind ("message", "callback_query", ...), a metrics label."""
    try:
        return str(update.event_type)
    except Exception:  # a kind this aiogram does not know
        return "unknown"


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
        scopes: Callable[[], AbstractContextManager[PendingWrites]] | None = None,
        retry_when: Callable[[BaseException], bool] = never,
        retry_backoff: BackoffConfig = DEFAULT_RETRY_BACKOFF,
        set_aside: SetAside | None = None,
        gate: FloodGate | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._dp = dispatcher
        self.metrics = metrics
        self._bot = bot
        self._inbox = inbox
        # Where updates that cannot be read are recorded (None: only logged; tests without a
        # database).
        self._set_aside = set_aside
        # Opened around each update: storage.fsm.SqlStorage.update_scope.
        self._scopes = scopes
        self._slots = asyncio.Semaphore(max_in_flight)
        # Backpressure: scheduled updates (`_tasks`) plus room promised to callers of
        # `admitted` stay at most `max_in_flight`; `_freed` wakes those who wait for room.
        self._max_in_flight = max_in_flight
        self._reserved = 0
        self._freed = asyncio.Event()
        # Drops a button-press flood before the inbox (None: every update is recorded).
        self._gate = gate
        # Last scheduled task per person: the next update of that person waits for it.
        # The task says whether it finished its update (False: left pending at shutdown).
        self._tails: dict[int, tuple[asyncio.Task[bool], int]] = {}  # task, its update id
        self._tasks: set[asyncio.Task[bool]] = set()
        # The update ids scheduled and not yet through: one given again meanwhile (the inbox's
        # look for unfinished updates and a retried record after an outage) runs only once.
        self._scheduled: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sweeper: asyncio.Task[None] | None = None
        self._retry_when = retry_when
        self._retry_backoff = retry_backoff
        self._stopping = asyncio.Event()
        self._database = Outage("handling updates", log)

    async def accept(self, updates: Iterable[Update]) -> int:
        """Record then schedule; returns how many were new. Safe to confirm afterwards.
        For updates built in code (tests, tools): their JSON is the model's."""
        batch = list(updates)
        payloads = {u.update_id: u.model_dump_json(exclude_unset=True) for u in batch}
        return len(await self._accept(batch, payloads))

    async def accept_raw(
        self, raw_updates: Sequence[Any], *, received: Sequence[str] | None = None
    ) -> int:
        """Updates as Telegram sent them (JSON objects), each read on its own.

        What the models reject in part is read leniently (bot/telegram/lenient.py); what still
        cannot be read is set aside (recorded without its content) and, a button press,
        answered so the button stops spinning. The rest is accepted in order. Once this
        returns, everything given is recorded one way or the other: safe to confirm. Returns
        how many were new.

        The inbox stores each update's JSON as it came: `received`, the body a webhook call
        carried (one per update), or else the object re-encoded with orjson (a getUpdates
        batch arrives as one array). Never the model dumped again after validation.
        """
        readable: list[Update] = []
        payloads: dict[int, str] = {}
        repaired: dict[int, Reading[Update]] = {}
        unreadable: list[tuple[Any, tuple[Problem, ...]]] = []
        for index, raw in enumerate(raw_updates):
            reading = read_update(raw, context={"bot": self._bot})
            if reading.value is None:
                unreadable.append((raw, reading.problems))
                continue
            readable.append(reading.value)
            payloads[reading.value.update_id] = (
                received[index] if received is not None else orjson.dumps(raw).decode()
            )
            if reading.repaired:
                repaired[reading.value.update_id] = reading
        new = await self._put_aside(unreadable) if unreadable else 0
        fresh = await self._accept(readable, payloads)
        for update_id in fresh:
            if update_id in repaired:
                with about_update(update_id):
                    log.warning(
                        "update %d read leniently, without: %s",
                        update_id,
                        "; ".join(str(p) for p in repaired[update_id].repaired),
                    )
        return new + len(fresh)

    async def _accept(self, batch: list[Update], payloads: Mapping[int, str]) -> list[int]:
        """`payloads`: each update's JSON, the text the inbox stores, by update id."""
        if self._gate is not None:
            # Before the inbox write: a dropped press costs neither a row nor a handler.
            batch = [update for update in batch if await self._gate.admits(update)]
        rows = [(u.update_id, payloads[u.update_id]) for u in batch]
        fresh = await self._inbox.record(rows, {u.update_id: ordering_key(u) for u in batch})
        unscheduled = set(fresh)
        for update in batch:
            if update.update_id in unscheduled:
                unscheduled.discard(update.update_id)  # twice in one batch: still once
                if self.metrics is not None:
                    self.metrics.updates_received.labels(kind_of(update)).inc()
                self._schedule(update)
        return fresh

    async def _put_aside(self, unreadable: list[tuple[Any, tuple[Problem, ...]]]) -> int:
        """Record the updates that cannot be read; log each once; answer set-aside presses."""
        records: list[Unreadable] = []
        raws: dict[int, Any] = {}
        for raw, problems in unreadable:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                log.error("an update without an id ignored: %s", "; ".join(map(str, problems)))
                continue
            summary = "; ".join(str(p) for p in problems)
            records.append(Unreadable(update_id, update_kind(raw), summary))
            raws[update_id] = raw
        if self._set_aside is not None:
            fresh = await self._set_aside.record(records)
        else:
            fresh = [r.update_id for r in records]
        for record in records:
            if record.update_id in fresh:
                if self.metrics is not None:
                    self.metrics.updates_received.labels("unreadable").inc()
                with about_update(record.update_id):
                    log.warning(
                        "update %d (%s) set aside, it cannot be read: %s",
                        record.update_id,
                        record.kind,
                        record.problems,
                    )
                self._answer_press(raws[record.update_id])
        return len(fresh)

    def _answer_press(self, raw: Any) -> None:
        """A set-aside button press is still answered (from its raw id): the spinner stops."""
        query = raw.get("callback_query")
        query_id = query.get("id") if isinstance(query, dict) else None
        if not isinstance(query_id, str):
            return

        async def answer() -> bool:
            with contextlib.suppress(TelegramAPIError):  # too old by now: nothing to stop
                await self._bot.answer_callback_query(query_id)
            return True

        task = asyncio.create_task(answer())
        self._tasks.add(task)
        task.add_done_callback(self._finished)

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
        for update_id, payload in pending:
            update = await self._read_stored(update_id, payload)
            if update is not None:
                self._schedule(update, replayed=True)
        if pending:
            log.info("resuming %d unfinished updates from the inbox", len(pending))
        return len(pending)

    async def _read_stored(self, update_id: int, payload: str) -> Update | None:
        """A pending update's stored payload, read as leniently as a new one; one that no longer
        reads (another aiogram since it was stored) is set aside and marked finished, so that
        neither start-up nor the sweeper stops at it."""
        try:
            raw = json.loads(payload)
        except ValueError:
            reading: Reading[Update] = Reading(None, problems=(Problem("(top)", "json_invalid"),))
            raw = {"update_id": update_id}
        else:
            reading = read_update(raw, context={"bot": self._bot})
        if reading.value is not None:
            if reading.repaired:
                log.warning(
                    "stored update %d read leniently, without: %s",
                    update_id,
                    "; ".join(str(p) for p in reading.repaired),
                )
            return reading.value
        if not isinstance(raw, dict) or raw.get("update_id") != update_id:
            raw = {"update_id": update_id}
        await self._put_aside([(raw, reading.problems)])
        await self._inbox.finish(update_id, failed=True)
        return None

    async def _sweep(self, every: float) -> None:
        """Every `every` s; while the database is unreachable one log line per outage, and
        after a failure that is a bug its traceback, then a longer pause each time."""
        outage = Outage("looking for orphaned updates", log)
        # Twice `every` after the first such failure, doubling up to a minute.
        after_bug = Backoff(
            BackoffConfig(
                min_delay=every * 2, max_delay=max(60.0, every * 4), factor=2.0, jitter=0.0
            )
        )
        pause = every
        while True:
            await asyncio.sleep(pause)
            try:
                await self._resume()
            except Exception as exc:
                if is_unreachable(exc):
                    outage.failed(exc)
                else:
                    log.exception("looking for orphaned updates failed; trying again")
                    pause = next(after_bug)
                continue
            outage.answered()
            after_bug.reset()
            pause = every

    async def wait_idle(self) -> None:
        """Return once every scheduled update has been handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def room(self) -> int:
        """How many more updates may be received now (may be below 0 after a resume)."""
        return self._max_in_flight - len(self._tasks) - self._reserved

    async def wait_for_room(
        self, stop: asyncio.Event | None = None, *, within: float | None = None
    ) -> int:
        """Wait until at least one more update may be received; returns the room then, or 0 if
        `stop` was set or `within` seconds passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self.room < 1:
            if stop is not None and stop.is_set():
                return 0
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return 0
            self._freed.clear()
            waits = {asyncio.ensure_future(self._freed.wait())}
            if stop is not None:
                waits.add(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
        return self.room

    @asynccontextmanager
    async def admitted(self, *, within: float | None = None) -> AsyncIterator[bool]:
        """Room for one update, held until the block ends (by then it is scheduled and counts
        itself); False if there was none within `within` seconds. For callers that receive
        updates concurrently (webhook calls): each waits for room of its own."""
        if await self.wait_for_room(within=within) < 1:
            yield False
            return
        # No await between the check above and this: no other caller can take the same room.
        self._reserved += 1
        try:
            yield True
        finally:
            self._reserved -= 1
            self._freed.set()

    def _schedule(self, update: Update, *, replayed: bool = False) -> None:
        if update.update_id in self._scheduled:
            log.debug("update %d is under way already", update.update_id)
            return
        self._scheduled.add(update.update_id)
        key = ordering_key(update)
        tail = self._tails.get(key)
        # An update taken over from a dead instance can be older than one already waiting
        # here: it must not wait for that one (which waits for it in the inbox).
        newest = tail is None or tail[1] < update.update_id
        previous = tail[0] if tail is not None and newest else None
        task = asyncio.create_task(
            self._run_after(previous, key, update, replayed, self._inbox.generation)
        )
        if newest:
            self._tails[key] = (task, update.update_id)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(key, update.update_id, done))

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._freed.set()

    def _forget(self, key: int, update_id: int, task: asyncio.Task[bool]) -> None:
        self._scheduled.discard(update_id)
        self._finished(task)
        tail = self._tails.get(key)
        if tail is not None and tail[0] is task:
            del self._tails[key]

    async def _run_after(
        self,
        previous: asyncio.Task[bool] | None,
        key: int,
        update: Update,
        replayed: bool,
        generation: int,
    ) -> bool:
        if previous is not None:
            await asyncio.wait({previous})
            if not previous.cancelled() and previous.exception() is None and not previous.result():
                # The earlier update stays pending for the next start: so does this one, or
                # the person's steps would run out of order.
                return False
        with about_update(update.update_id):  # in this task only: its own log lines
            return await self._handle(update, replayed, key, generation)

    async def _handle(self, update: Update, replayed: bool, key: int, generation: int) -> bool:
        """Run the update until it is done; False if it was left pending at shutdown."""
        backoff = Backoff(self._retry_backoff)
        while True:
            try:
                if not await self._wait_turn(key, update.update_id):
                    return self._left_pending(update, "an earlier update of the person waits")
                # Shared inbox: this instance's liveness lock first (taken again on a new
                # connection after an outage), and only updates that are still its own.
                await self._inbox.hold_lock()
                if not self._inbox.still_mine(update.update_id, generation):
                    log.info("update %d was taken over by another instance", update.update_id)
                    return True
                async with self._slots:
                    await self._attempt(update, replayed)
                self._database.answered()
                return True
            except Exception as exc:
                if not self._retry_when(exc):
                    raise
                if self._stopping.is_set():
                    return self._left_pending(update, type(exc).__name__)
                delay = next(backoff)
                unreachable = is_unreachable(exc)
                if unreachable:
                    # One line per outage for all updates, not one per update and attempt.
                    self._database.failed(exc)
                log.log(
                    logging.DEBUG if unreachable else logging.WARNING,
                    "update %d could not be handled now (%s); again in %.1f s",
                    update.update_id,
                    type(exc).__name__,
                    delay,
                )
            # Its replies may or may not have gone out: the next run is a replay.
            replayed = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(delay, 0.0))

    async def _wait_turn(self, key: int, update_id: int) -> bool:
        """Another instance may hold an earlier update of this person (shared inbox). False
        if the pipeline stopped retrying meanwhile."""
        try:
            return await self._inbox.wait_turn(key, update_id, self._stopping)
        except Exception as exc:
            if self._retry_when(exc):
                raise
            log.exception("could not check the order of update %d", update_id)
            return True

    @staticmethod
    def _left_pending(update: Update, why: str) -> bool:
        log.warning("update %d left pending for the next start (%s)", update.update_id, why)
        return False

    async def _attempt(self, update: Update, replayed: bool) -> None:
        """One run of the update: its handlers, then its state changes and "done" mark in one
        transaction. A failure that `retry_when` accepts leaves the update pending."""
        started = time.monotonic()
        with self._scopes() if self._scopes is not None else nullcontext() as scope:
            failed = False
            try:
                # `replayed`: recorded before a crash or by a dead instance, or tried before
                # and failed for a passing reason, and handled again now; its replies may or
                # may not have gone out the first time.
                await self._dp.feed_update(self._bot, update, replayed=replayed)
            except Exception as exc:
                if self._retry_when(exc):
                    raise
                failed = True
                log.exception("update %d failed", update.update_id)
            # The update's last state changes and its "done" mark: one transaction.
            # Nothing left to write: the done mark alone (on PostgreSQL one statement, no BEGIN).
            also = scope.write_in if scope is not None and scope.has_writes() else None
            await self._inbox.finish(update.update_id, failed=failed, also=also)
        if self.metrics is not None:
            kind = kind_of(update)
            self.metrics.updates_handled.labels(kind, "failed" if failed else "ok").inc()
            self.metrics.handling_seconds.labels(kind).observe(time.monotonic() - started)
