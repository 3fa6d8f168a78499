"""Group commit: the small writes that arrive together share one transaction.

Under load many updates reach the same point in the same turn of the event loop: each wants to
write its conversation state before its reply, or mark itself done. Each such write is a few
statements; BEGIN, COMMIT and handing the writer connection around cost as much again. Here the
writes handed in during one turn of the loop are collected and, on the next turn, run one after
the other inside one transaction. Every caller is answered only after that COMMIT, so a reply
that waits for its write still follows the commit that holds it.

If one of them fails, the whole transaction is rolled back and each write runs again in its own
transaction, so one bad write only fails its own caller. If the database could not be reached
(storage/outage.py), every write of the group fails at once: trying each alone would only wait
for one timeout after another. Writes therefore must be plain
functions of the connection, safe to run again after a rollback (they are: a few Core
statements each).

A write of one statement that finds no other write to share with (`one_statement`) runs on
its own without BEGIN and COMMIT where the database allows it (`alone`: PostgreSQL's autocommit,
one round trip instead of three); one statement is atomic and durable by itself.

`[tuning] group_commit = false`: storage.db.Database gives each write its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.util import greenlet_spawn

from storage.outage import is_unreachable

T = TypeVar("T")
Work = Callable[[Connection], Any]
Queued = tuple[Work, "asyncio.Future[Any]", bool]  # the write, its caller, one statement
log = logging.getLogger(__name__)

MAX_GROUP = 500  # writes per transaction; more wait for the next one


class GroupCommit:
    def __init__(
        self, engine: Callable[[], Engine], alone: Callable[[], Engine] | None = None
    ) -> None:
        self._engine = engine
        self._alone_engine = alone
        self._queue: list[Queued] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((work, future, one_statement))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._scheduled = False
        batch, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        if self._queue:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)
        live = [queued for queued in batch if not queued[1].cancelled()]
        if len(live) == 1 and live[0][2] and self._alone_engine is not None:
            work, future, _ = live[0]
            task = asyncio.create_task(self._alone(work, future, self._alone_engine))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif live:
            task = asyncio.create_task(self._commit(live))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit(self, batch: list[Queued]) -> None:
        try:
            results = await greenlet_spawn(_together, self._engine(), [w for w, _, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or is_unreachable(exc):
                for _, future, _ in batch:
                    _fail(future, exc)
                return
            log.debug("a grouped write failed; running the %d writes one by one", len(batch))
            for work, future, _ in batch:
                await self._alone(work, future, self._engine)
            return
        except BaseException as exc:  # cancelled at shutdown: nobody may wait forever
            for _, future, _ in batch:
                _fail(future, exc)
            raise
        for (_, future, _), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _alone(
        self, work: Work, future: asyncio.Future[Any], engine: Callable[[], Engine]
    ) -> None:
        try:
            result = await greenlet_spawn(_together, engine(), [work])
        except BaseException as exc:
            _fail(future, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not future.done():
                future.set_result(result[0])


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _together(engine: Engine, works: list[Work]) -> list[Any]:
    with engine.begin() as connection:
        return [work(connection) for work in works]
