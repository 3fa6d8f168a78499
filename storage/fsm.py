"""aiogram FSM storage in our own database, so a restart mid-dialog loses nothing.

Keys are keyed hashes of aiogram's storage key: the table holds no Telegram ids.

Within one update (an `UpdateScope`, opened by the pipeline around each update) a row is read at
most once, and the person's other rows (`prefetch` destinies, e.g. the language choice) come
along in the same query. Changes stay in the scope and are written together in one transaction:
before the update's first Bot API call (bot.telegram.client.CommitBeforeSending, so a reply never
shows a state that is not committed) and with the inbox's "done" mark when the update ends. This is
safe because one person's updates are handled one after the other (bot.telegram.pipeline). Outside a
scope (the CLI, tests that call the storage directly) every change is written at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DEFAULT_DESTINY, BaseStorage, StateType, StorageKey
from sqlalchemy import Connection, Table, bindparam, delete, select

from storage.db import Database
from storage.models import ConversationState
from storage.repository import dialect_insert

Row = tuple[str | None, dict[str, Any]]  # state, data
Change = Callable[[Row], Row]
EMPTY: Row = (None, {})
_TABLE = cast(Table, ConversationState.__table__)

# Built once: building a small Core statement costs more than running it on SQLite (about
# 110 of 180 µs for the select; benchmarks/README.md). Every update reads and writes here.
_SELECT = select(_TABLE.c.key, _TABLE.c.state, _TABLE.c.data).where(
    _TABLE.c.key.in_(bindparam("keys", expanding=True))
)
_DELETE = delete(_TABLE).where(_TABLE.c.key.in_(bindparam("keys", expanding=True)))


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class UpdateScope:
    """The rows one update has read, and its changes not yet written."""

    def __init__(self, storage: SqlStorage) -> None:
        self._storage = storage
        self.rows: dict[str, Row] = {}
        self.dirty: set[str] = set()
        # Each row as the database holds it (state, data as stored; absent: no row): a change
        # that leaves a row as it was is not written (aiogram sets the same state again).
        self.stored: dict[str, tuple[str | None, str] | None] = {}
        self.keys: dict[StorageKey, str] = {}  # aiogram's key -> ours (a keyed hash)

    def _changed(self) -> list[tuple[str, tuple[str | None, str] | None]]:
        """The dirty rows as they would be stored, those that differ from the database."""
        changed = []
        for key in self.dirty:
            stored = stored_row(self.rows[key])
            if stored != self.stored.get(key):
                changed.append((key, stored))
        return changed

    async def flush(self) -> None:
        if self.dirty:
            keys, rows = set(self.dirty), self._changed()
            if rows:
                kinds = {stored is None for _, stored in rows}  # deleted, upserted, or both
                await self._storage.database.run_write_grouped(
                    partial(write_rows, self._storage.database, rows=rows),
                    one_statement=len(kinds) == 1,
                )
                self.stored.update(rows)
            self.dirty.difference_update(keys)

    def has_writes(self) -> bool:
        """Whether `write_in` would write anything."""
        return bool(self.dirty) and bool(self._changed())

    def write_in(self, connection: Connection) -> None:
        """Write the pending changes within the caller's transaction (which may run this
        again after a rollback: it changes nothing here)."""
        if self.dirty:
            rows = self._changed()
            if rows:
                write_rows(self._storage.database, connection, rows)


_SCOPE: ContextVar[UpdateScope | None] = ContextVar("dialogbot_fsm_scope", default=None)


def _select_stored(
    keys: Sequence[str], connection: Connection
) -> dict[str, tuple[str | None, str]]:
    rows = connection.execute(_SELECT, {"keys": list(keys)})
    return {key: (state, data) for key, state, data in rows}


def read_rows(keys: Sequence[str], connection: Connection) -> dict[str, Row]:
    return {
        key: (state, json.loads(data))
        for key, (state, data) in _select_stored(keys, connection).items()
    }


def stored_row(row: Row) -> tuple[str | None, str] | None:
    """A row as the table holds it; None: nothing left to remember, no row."""
    state, data = row
    if state is None and not data:
        return None
    return state, json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write_rows(
    database: Database,
    connection: Connection,
    rows: Sequence[tuple[str, tuple[str | None, str] | None]],
) -> None:
    """Upsert the rows that hold something (as `stored_row` gives them); a row with nothing
    left to remember is deleted."""
    now = datetime.now(UTC)
    empty = [key for key, stored in rows if stored is None]
    if empty:
        connection.execute(_DELETE, {"keys": empty})
    values = [
        {"key": key, "state": stored[0], "data": stored[1], "updated_at": now}
        for key, stored in rows
        if stored is not None
    ]
    if values:
        connection.execute(_upsert(database.is_sqlite), values)


@cache
def _upsert(sqlite: bool) -> Any:
    """The upsert for one dialect, built once (see _SELECT)."""
    insert = dialect_insert(sqlite, _TABLE)
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "state": insert.excluded.state,
            "data": insert.excluded.data,
            "updated_at": insert.excluded.updated_at,
        },
    )


class SqlStorage(BaseStorage):
    def __init__(
        self,
        database: Database,
        hash_key: Callable[[str], str],
        *,
        prefetch: Sequence[str] = (DEFAULT_DESTINY,),
    ) -> None:
        self.database = database
        self._hash_key = hash_key
        self._prefetch = tuple(prefetch)

    def _key(self, key: StorageKey) -> str:
        scope = _SCOPE.get()
        known = scope.keys if scope is not None else {}
        db_key = known.get(key)
        if db_key is None:  # an HMAC each time, five times per update: once is enough
            raw = f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id}:{key.destiny}"
            db_key = known[key] = self._hash_key(raw)
        return db_key

    @contextmanager
    def update_scope(self) -> Iterator[UpdateScope]:
        """Read once and write together while one update is handled (see the module)."""
        scope = UpdateScope(self)
        token = _SCOPE.set(scope)
        try:
            yield scope
        finally:
            _SCOPE.reset(token)

    @staticmethod
    async def flush_current() -> None:
        """Write the current update's pending changes now (before anything is sent)."""
        scope = _SCOPE.get()
        if scope is not None:
            await scope.flush()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = _state_name(state)
        await self._change(key, lambda row: (name, row[1]))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._row(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._change(key, lambda row: (row[0], dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._row(key))[1])

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        return dict((await self._change(key, lambda row: (row[0], {**row[1], **data})))[1])

    async def close(self) -> None:
        """The database is closed by its owner."""

    async def _row(self, key: StorageKey) -> Row:
        db_key = self._key(key)
        scope = _SCOPE.get()
        if scope is None:
            return (await self.database.run_read(partial(read_rows, [db_key]))).get(db_key, EMPTY)
        if db_key not in scope.rows:
            siblings = {
                self._key(replace(key, destiny=destiny)): destiny
                for destiny in self._prefetch
                if destiny != key.destiny
            }
            wanted = [db_key, *(k for k in siblings if k not in scope.rows)]
            found = await self.database.run_read(partial(_select_stored, wanted))
            for wanted_key in wanted:
                if wanted_key in scope.rows:
                    continue
                stored = found.get(wanted_key)
                scope.stored[wanted_key] = stored
                scope.rows[wanted_key] = (
                    EMPTY if stored is None else (stored[0], json.loads(stored[1]))
                )
        return scope.rows[db_key]

    async def _change(self, key: StorageKey, change: Change) -> Row:
        scope = _SCOPE.get()
        if scope is None:
            return await self.database.run_write(partial(self._change_now, self._key(key), change))
        new = change(await self._row(key))
        db_key = self._key(key)
        scope.rows[db_key] = new
        scope.dirty.add(db_key)
        return new

    def _change_now(self, db_key: str, change: Change, connection: Connection) -> Row:
        """Read, change and write one row in a single transaction."""
        new = change(read_rows([db_key], connection).get(db_key, EMPTY))
        write_rows(self.database, connection, [(db_key, stored_row(new))])
        return new
