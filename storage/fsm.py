"""aiogram FSM storage in our own database, so a restart mid-dialog loses nothing.

Keys are keyed hashes of aiogram's storage key: the table holds no Telegram ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete

from storage.db import Database
from storage.models import ConversationState
from storage.repository import upsert_into

Change = Callable[[str | None, dict[str, Any]], tuple[str | None, dict[str, Any]]]


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class SqlStorage(BaseStorage):
    def __init__(self, database: Database, hash_key: Callable[[str], str]) -> None:
        self._db = database
        self._hash_key = hash_key

    def _key(self, key: StorageKey) -> str:
        raw = f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id}:{key.destiny}"
        return self._hash_key(raw)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = _state_name(state)
        await self._modify(key, lambda _state, data: (name, data))

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._read(key)
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._modify(key, lambda state, _data: (state, dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._read(key)
        return dict(json.loads(row.data)) if row else {}

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        return await self._modify(key, lambda state, old: (state, {**old, **data}))

    async def close(self) -> None:
        """The database is closed by its owner."""

    async def _read(self, key: StorageKey) -> ConversationState | None:
        async with self._db.reading() as session:
            return await session.get(ConversationState, self._key(key))

    async def _modify(self, key: StorageKey, change: Change) -> dict[str, Any]:
        """Read, change and write one row in a single transaction."""
        db_key = self._key(key)
        async with self._db.transaction() as session:
            row = await session.get(ConversationState, db_key)
            state, data = (row.state, json.loads(row.data)) if row else (None, {})
            new_state, new_data = change(state, data)
            if new_state is None and not new_data:
                # Nothing left to remember: keep no row at all.
                await session.execute(
                    delete(ConversationState).where(ConversationState.key == db_key)
                )
                return {}
            now = datetime.now(UTC)
            encoded = json.dumps(new_data, ensure_ascii=False, separators=(",", ":"))
            await session.execute(
                upsert_into(self._db, ConversationState)
                .values(key=db_key, state=new_state, data=encoded, updated_at=now)
                .on_conflict_do_update(
                    index_elements=["key"],
                    set_={"state": new_state, "data": encoded, "updated_at": now},
                )
            )
            return new_data
