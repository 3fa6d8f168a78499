"""The update inbox: every update recorded once by its id, before Telegram is told we have it.

An update is `pending` until its handler finished, then `done` with its payload dropped (the raw
update holds Telegram ids and names; it is kept no longer than needed to finish handling it).
The payload is the update's JSON as it was received (`record` takes it as text): no model
validates the update and dumps it again for the inbox (bot/telegram/pipeline.py).
Payloads live in their own table and are deleted, not blanked: SQLite reuses the pages of
deleted rows, where blanked ones left the file growing by kilobytes per update (migration 0006).

Several instances on one PostgreSQL database (webhooks behind a load balancer) share the inbox:

* order: each row carries its ordering key (whose update it is, bot.telegram.pipeline.ordering_key),
and
  an instance handles an update only once no earlier update of the same person is pending
  (`wait_turn`). Telegram sends the next update only after the previous one was answered, and
  we answer only after recording, so an earlier update is always recorded by then. For the
  same reason the record itself can tell: an update recorded when no earlier one of its
  person was pending needs no check later (on PostgreSQL the record says so, one statement);
* exactly once: the instance that recorded an update handles it (RETURNING tells it);
* no orphans: each row names its instance (`owner`), and each instance holds a session-level
  advisory lock on its name for as long as it lives. An update whose owner's lock is free
  belongs to a dead instance, and whoever sees that first takes it over (`pending`);
* outages: a lost connection ends the session and with it the lock, for a live instance too.
  An instance therefore takes its lock again on a new connection before it handles or adopts
  anything (`hold_lock`), and another instance's updates are taken over only once its lock has
  been seen free for `takeover_grace` seconds: a live one has taken its lock again by then.
  Updates this instance recorded while its lock was gone are handled only if they are still
  its own (`still_mine`). A record whose COMMIT went through but whose answer was lost leaves
  this instance's rows behind that the retry's insert does not return: they count as new all
  the same (`record`), or, if Telegram sent them to another instance instead, this one picks
  them up on its next look for unfinished updates (`pending`). Whichever of the two finds them
  first hands them out, once: an id handed out and not finished yet, or being looked up by
  the other, is not taken for unsure again when a later record of it fails.

SQLite has one instance by construction (one writer process): there the checks are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from storage.db import Database
from storage.models import InboxPayload, InboxUpdate, UTCDateTime
from storage.outage import is_unreachable
from storage.repository import dialect_insert

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"
# The partial index's own predicate, as a literal (PostgreSQL's generic plans need that).
_IS_PENDING = InboxUpdate.status == literal_column(f"'{PENDING}'")
TURN_POLL = (0.005, 0.1)  # first and longest pause between checks of an earlier update
FORGET_BATCH = 2_000  # finished rows deleted per transaction
TAKEOVER_GRACE = 30.0  # seconds another instance's lock must stay free before a takeover

# Built once, as every update ends with them (storage/fsm.py's _SELECT says why).
_FINISH = (
    update(InboxUpdate)
    .where(InboxUpdate.update_id == bindparam("id"))
    .values(status=bindparam("status"), handled_at=bindparam("at"), ordering_key=None, owner=None)
)
_DROP_PAYLOAD = delete(InboxPayload).where(InboxPayload.update_id == bindparam("id"))
_ADD_PAYLOAD = insert(InboxPayload)

# PostgreSQL: each of these one statement, so one round trip instead of one per statement
# (benchmarks/README.md, "Round trips to PostgreSQL"). The record takes its rows as arrays, so
# its text, and with it the prepared statement, is the same however many updates come at once.
# It also says for each new update whether an earlier one of the same person was pending then
# (`wait_turn` need not ask again when none was).
_RECORD_PG = text(
    "WITH arrived AS (SELECT * FROM unnest(:ids, :keys, :payloads)"
    " AS g(update_id, ordering_key, payload)),"
    " added AS (INSERT INTO inbox (update_id, status, received_at, ordering_key, owner)"
    " SELECT update_id, 'pending', :now, ordering_key, :owner FROM arrived"
    " ON CONFLICT (update_id) DO NOTHING RETURNING update_id, ordering_key)"
    " INSERT INTO inbox_payloads (update_id, payload)"
    " SELECT arrived.update_id, arrived.payload FROM arrived JOIN added USING (update_id)"
    " RETURNING update_id, EXISTS (SELECT 1 FROM inbox AS earlier"
    " WHERE earlier.status = 'pending' AND earlier.ordering_key = ("
    "SELECT g.ordering_key FROM arrived AS g WHERE g.update_id = inbox_payloads.update_id)"
    " AND earlier.update_id < inbox_payloads.update_id)"
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("keys", type_=ARRAY(BigInteger)),
    bindparam("payloads", type_=ARRAY(Text)),
    bindparam("now", type_=UTCDateTime()),
)
_FINISH_PG = text(
    "WITH dropped AS (DELETE FROM inbox_payloads WHERE update_id = :id)"
    " UPDATE inbox SET status = :status, handled_at = :at, ordering_key = NULL, owner = NULL"
    " WHERE update_id = :id"
).bindparams(bindparam("id", type_=BigInteger()), bindparam("at", type_=UTCDateTime()))


@cache
def _record_new(sqlite: bool) -> Any:
    """Insert the updates not seen before; RETURNING says which (one statement for many rows:
    SQLAlchemy's "insertmanyvalues")."""
    return (
        dialect_insert(sqlite, InboxUpdate)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(InboxUpdate.update_id)
    )


def instance_name() -> str:
    """Names this process in the inbox and in the digest outbox's lease: readable in the
    database, and unique per start."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _owned_by(owner: str | None) -> ColumnElement[bool]:
    return InboxUpdate.owner.is_(None) if owner is None else InboxUpdate.owner == owner


def _lock_id(owner: str) -> int:
    digest = hashlib.blake2b(owner.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _key_parts(lock_id: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as two 32-bit halves (classid, objid)."""
    unsigned = lock_id & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


async def _connection_lost(lease: AsyncConnection) -> bool:
    """Without a round trip: did the driver or SQLAlchemy see this connection end?"""
    if lease.closed or lease.invalidated:
        return True
    raw = await lease.get_raw_connection()
    driver = raw.driver_connection
    is_closed = getattr(driver, "is_closed", None)
    return driver is None or (callable(is_closed) and bool(is_closed()))


class Inbox:
    def __init__(
        self,
        database: Database,
        owner: str | None = None,
        *,
        takeover_grace: float = TAKEOVER_GRACE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = database
        self.owner = owner or instance_name()
        # Shared by several instances: PostgreSQL. One SQLite file has one bot process.
        self.shared = not database.is_sqlite
        self._lease: AsyncConnection | None = None
        self._taking_lock = asyncio.Lock()
        self._grace = takeover_grace
        self._monotonic = monotonic
        # Other instances' names whose lock was seen free, and since when (monotonic).
        self._free_since: dict[str, float] = {}
        # How often the lock was taken again after its connection was lost, and this
        # instance's pending updates at the last time (the others were taken over meanwhile).
        self.generation = 0
        self._mine: set[int] = set()
        # Ids whose record failed: the COMMIT may have gone through all the same. While a
        # record or the look for unfinished updates finds out, they are `_resolving` (taken
        # by that one alone); once handed out to be handled, `_handed` until `finish`.
        self._unsure: set[int] = set()
        self._resolving: set[int] = set()
        self._handed: set[int] = set()
        self._held_before = False
        # Updates recorded when no earlier one of the same person was pending, with the lock's
        # generation then: their order check is done (`wait_turn`).
        self._clear: dict[int, int] = {}

    async def open(self) -> None:
        """Hold this instance's liveness lock (shared inbox only) until `close`."""
        await self.hold_lock()

    async def hold_lock(self) -> None:
        """Make sure this instance holds its liveness lock, on a new connection if the old one
        was lost (shared inbox only). Cheap while it holds: no round trip."""
        if not self.shared:
            return
        if self._lease is not None and not await _connection_lost(self._lease):
            return
        async with self._taking_lock:
            if self._lease is not None:
                if not await _connection_lost(self._lease):
                    return  # taken by another caller meanwhile
                await self._drop_lease()
            again = self._held_before
            lease = await self._db.write_engine.connect()
            try:
                lease = await lease.execution_options(isolation_level="AUTOCOMMIT")
                await self._take_lock(lease)
                if again:
                    mine = await lease.scalars(
                        select(InboxUpdate.update_id).where(
                            _IS_PENDING, InboxUpdate.owner == self.owner
                        )
                    )
                    self._mine = set(mine)
                    self.generation += 1
            except BaseException:
                with contextlib.suppress(Exception):
                    await lease.invalidate()
                with contextlib.suppress(Exception):
                    await lease.close()
                raise
            self._lease, self._held_before = lease, True
            if again:
                log.warning("liveness lock taken again on a new connection")

    async def _take_lock(self, lease: AsyncConnection) -> None:
        lock_id = _lock_id(self.owner)
        if await lease.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}):
            return
        # Still held by this instance's old session, which the server has not noticed is gone
        # (a connection that hung rather than closed): end that session, then wait for it.
        high, low = _key_parts(lock_id)
        await lease.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = :high AND objid = :low AND objsubid = 1"
                " AND pid <> pg_backend_pid()"
            ),
            {"high": high, "low": low},
        )
        await lease.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})

    async def _drop_lease(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(Exception):
                await lease.invalidate()  # the driver's connection is closed, not reused
            with contextlib.suppress(Exception):
                await lease.close()

    def still_mine(self, update_id: int, generation: int) -> bool:
        """Whether an update scheduled at `generation` is still this instance's: always, unless
        the lock was lost and taken again since, and another instance took the update over."""
        return generation == self.generation or update_id in self._mine

    async def close(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                await lease.close()  # the session ends, and with it the lock
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                with contextlib.suppress(Exception):
                    await lease.invalidate()

    async def record(
        self, updates: Sequence[tuple[int, str]], keys: Mapping[int, int] | None = None
    ) -> list[int]:
        """Store new updates; returns the ids that were not seen before, in order.

        The insert itself says which rows are new (RETURNING): a second process or a webhook
        retry racing with this one cannot make an update count as new twice. `keys` are the
        ordering keys by update id (whose update it is).
        """
        unique = dict(updates)  # an id twice in one batch is one update
        if not unique:
            return []
        now = datetime.now(UTC)
        keys = keys or {}
        rows = [
            {
                "update_id": i,
                "status": PENDING,
                "received_at": now,
                "ordering_key": keys.get(i),
                "owner": self.owner,
            }
            for i in unique
        ]
        record_new = _record_new(self._db.is_sqlite)
        ids = list(unique)
        arrays = {
            "ids": ids,
            "keys": [keys.get(i) for i in ids],
            "payloads": [unique[i] for i in ids],
            "now": now,
            "owner": self.owner,
        }

        def work(connection: Connection) -> set[int]:
            if self.shared:  # PostgreSQL: one statement
                clear.clear()  # from a run rolled back before this one
                found = {int(i): bool(e) for i, e in connection.execute(_RECORD_PG, arrays)}
                clear.update(i for i, earlier in found.items() if not earlier)
                return set(found)
            new = set(connection.scalars(record_new, rows))
            if new:
                connection.execute(
                    _ADD_PAYLOAD, [{"update_id": i, "payload": unique[i]} for i in new]
                )
            return new

        # New updates with no earlier one of the same person pending when they were recorded
        # (shared inbox), as the run of `work` that committed found them.
        clear: set[int] = set()
        generation = self.generation

        try:
            inserted = await self._db.run_write_grouped(work)
        except BaseException:
            self._mark_unsure(unique)
            raise
        # Taken out of `_unsure` before the next await: only this record resolves them. Not
        # those handed out meanwhile (SQLite's `pending` at start leaves `_unsure` as it is).
        unsure = [
            i for i in unique if i in self._unsure and i not in inserted and i not in self._handed
        ]
        self._unsure.difference_update(unique)
        if unsure:
            inserted |= await self._resolve(unsure, self._own_pending)
        new = [i for i in unique if i in inserted]
        self._handed.update(new)
        for i in clear & inserted:
            self._clear[i] = generation
        return new

    def _mark_unsure(self, update_ids: Iterable[int]) -> None:
        """After a failed record: its ids may be in the inbox all the same. Not those already
        handed out to be handled (an earlier delivery's record went through, and this one is
        Telegram's retry) or being resolved meanwhile: they would be handed out twice."""
        self._unsure.update(
            i for i in update_ids if i not in self._handed and i not in self._resolving
        )

    async def _resolve(
        self, update_ids: list[int], find: Callable[[list[int]], Awaitable[set[int]]]
    ) -> set[int]:
        """Which of `update_ids` (taken out of `_unsure` by the caller) are this instance's
        to handle; if that cannot be found out now, they go back to `_unsure`."""
        self._resolving.update(update_ids)
        try:
            found = await find(update_ids)
        except BaseException:
            self._resolving.difference_update(update_ids)
            self._mark_unsure(update_ids)
            raise
        self._resolving.difference_update(update_ids)
        return found

    async def _reclaim_unsure(self) -> list[tuple[int, str]]:
        """This instance's rows of records that failed but committed: Telegram, told they were
        not recorded, may have sent them again to another instance, which found them there
        already and left them to this one (shared inbox)."""
        if not self._unsure:
            return []
        ids, self._unsure = sorted(self._unsure), set()
        query = (
            select(InboxUpdate.update_id, InboxPayload.payload)
            .join(InboxPayload, InboxPayload.update_id == InboxUpdate.update_id)
            .where(InboxUpdate.update_id.in_(ids), _IS_PENDING, _owned_by(self.owner))
        )
        found: list[tuple[int, str]] = []

        async def rows(update_ids: list[int]) -> set[int]:
            found.extend(await self._db.run_read(lambda c: list(c.execute(query))))
            return {update_id for update_id, _ in found}

        await self._resolve(ids, rows)
        return [(update_id, payload) for update_id, payload in found]

    async def _own_pending(self, update_ids: list[int]) -> set[int]:
        """Those of `update_ids` this instance recorded and nobody handled yet: the COMMIT of
        a record whose answer was lost (they were never scheduled)."""
        query = select(InboxUpdate.update_id).where(
            InboxUpdate.update_id.in_(update_ids), _IS_PENDING, _owned_by(self.owner)
        )
        return set(await self._db.run_read(lambda c: list(c.scalars(query))))

    async def finish(
        self,
        update_id: int,
        *,
        failed: bool = False,
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """Mark the update handled; `also` writes in the same transaction (the update's last
        conversation-state changes, storage.fsm.UpdateScope.write_in)."""
        done = {"id": update_id, "status": FAILED if failed else DONE, "at": datetime.now(UTC)}

        shared = self.shared

        def work(connection: Connection) -> None:
            if also is not None:
                also(connection)
            if shared:  # PostgreSQL: one statement
                connection.execute(_FINISH_PG, done)
                return
            connection.execute(_FINISH, done)
            connection.execute(_DROP_PAYLOAD, {"id": update_id})

        await self._db.run_write_grouped(work, one_statement=shared and also is None)
        self._handed.discard(update_id)
        self._clear.pop(update_id, None)

    async def wait_turn(self, key: int, update_id: int, stop: asyncio.Event | None = None) -> bool:
        """Return once no earlier update of the same person is pending (shared inbox only;
        in one process the pipeline's own ordering is enough). False if `stop` was set first."""
        if not self.shared:
            return True
        # Recorded when none was pending: none can be now. Telegram sends a person's next update
        # only once the one before was confirmed, that is recorded, so an earlier update of the
        # person pending anywhere was in the inbox by then. Not after the lock was lost since:
        # another instance may have taken over updates of this one meanwhile.
        if self._clear.pop(update_id, None) == self.generation:
            return True
        earlier = (
            select(InboxUpdate.update_id)
            .where(_IS_PENDING, InboxUpdate.ordering_key == key, InboxUpdate.update_id < update_id)
            .limit(1)
        )
        pause = TURN_POLL[0]
        while await self._db.run_read(lambda c: c.scalar(earlier)) is not None:
            if stop is not None and stop.is_set():
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, TURN_POLL[1])
        return True

    async def pending(self) -> list[tuple[int, str]]:
        """Updates recorded but never finished (the process stopped or died mid-way).

        Shared inbox: only those of instances that are gone (their liveness lock is free, or
        they were recorded before instances had names), which this instance now takes over.
        """
        if self.shared:
            await self.hold_lock()
            adopted = await self._adopt_orphans()
            found = sorted(adopted + await self._reclaim_unsure())
        else:
            async with self._db.reading() as session:
                rows = await session.execute(
                    select(InboxUpdate.update_id, InboxPayload.payload)
                    .join(InboxPayload, InboxPayload.update_id == InboxUpdate.update_id)
                    .where(InboxUpdate.status == PENDING)
                    .order_by(InboxUpdate.update_id)
                )
                found = [(row.update_id, row.payload) for row in rows]
        self._handed.update(update_id for update_id, _ in found)
        return found

    async def _adopt_orphans(self) -> list[tuple[int, str]]:
        lease = self._lease
        if lease is None:  # dropped meanwhile: taken again, on a new connection, next time
            return []
        try:
            return await self._adopt_orphans_on(lease)
        except Exception as exc:
            if is_unreachable(exc):
                await self._drop_lease()  # taken again, on a new connection, next time
            raise

    async def _adopt_orphans_on(self, lease: AsyncConnection) -> list[tuple[int, str]]:
        owners = await lease.scalars(
            select(InboxUpdate.owner)
            .where(_IS_PENDING)
            .where((InboxUpdate.owner != self.owner) | InboxUpdate.owner.is_(None))
            .distinct()
        )
        adopted: list[tuple[int, str]] = []
        now = self._monotonic()
        candidates = list(owners)
        for gone in set(self._free_since) - {o for o in candidates if o is not None}:
            del self._free_since[gone]  # nothing of theirs is pending any more
        for owner in candidates:
            if owner is not None:
                probe = text("SELECT pg_try_advisory_lock(:id)")
                if not await lease.scalar(probe, {"id": _lock_id(owner)}):
                    self._free_since.pop(owner, None)
                    continue  # alive: its updates are its own
                free_since = self._free_since.setdefault(owner, now)
                if now - free_since < self._grace:
                    # Free, but maybe only for the moment of an outage: wait and see.
                    unlock = text("SELECT pg_advisory_unlock(:id)")
                    await lease.execute(unlock, {"id": _lock_id(owner)})
                    continue
                del self._free_since[owner]
            try:
                taken = await lease.scalars(
                    update(InboxUpdate)
                    .where(_IS_PENDING, _owned_by(owner))
                    .values(owner=self.owner)
                    .returning(InboxUpdate.update_id)
                )
                adopted += await _payloads(lease, list(taken))
            finally:
                if owner is not None:
                    unlock = text("SELECT pg_advisory_unlock(:id)")
                    await lease.execute(unlock, {"id": _lock_id(owner)})
        return sorted(adopted)

    async def forget_older_than(
        self, age: timedelta, *, now: datetime | None = None, batch: int = FORGET_BATCH
    ) -> int:
        """Drop finished rows; their ids only matter while Telegram might deliver them again.

        In batches, each its own short transaction, so that on SQLite the one writer is never
        held long: the updates handled meanwhile wait for one batch at most. A batch finds its
        rows at the start of the primary key (update ids grow with time), without an index on
        the time of arrival that every recorded update would have to maintain.
        """
        cutoff = (now or datetime.now(UTC)) - age
        oldest = (
            select(InboxUpdate.update_id)
            .where(InboxUpdate.status != PENDING, InboxUpdate.received_at < cutoff)
            .order_by(InboxUpdate.update_id)
            .limit(batch)
        )
        forget = delete(InboxUpdate).where(InboxUpdate.update_id.in_(oldest))
        forgotten = 0
        while True:
            count = await self._db.run_write(lambda c: c.execute(forget).rowcount)
            forgotten += count
            if count < batch:
                return forgotten
            await asyncio.sleep(0)  # let the updates waiting for the writer in


async def _payloads(lease: AsyncConnection, update_ids: list[int]) -> list[tuple[int, str]]:
    if not update_ids:
        return []
    rows = await lease.execute(
        select(InboxPayload.update_id, InboxPayload.payload).where(
            InboxPayload.update_id.in_(update_ids)
        )
    )
    return [(row.update_id, row.payload) for row in rows]
