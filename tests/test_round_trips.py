"""What an update asks of the database: nothing it can do without (benchmarks/README.md,
"Fewer round trips to PostgreSQL")."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event

from storage.db import Database
from storage.fsm import SqlStorage
from tests.harness import Harness


def statements(database: Database, holding: str) -> list[str]:
    """The statements holding `holding` sent from now on, on any of the database's engines."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if holding in sql:
            seen.append(sql)

    engines = {database.write_engine, database.read_engine, database.lookup_engine}
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


def storage_of(harness: Harness) -> SqlStorage:
    assert harness.bot.app is not None
    storage = harness.bot.app.dispatcher.fsm.storage
    assert isinstance(storage, SqlStorage)
    return storage


async def test_a_conversation_row_left_as_it_was_is_not_written(harness: Harness) -> None:
    storage = storage_of(harness)
    key = StorageKey(bot_id=4242, chat_id=7401, user_id=7401)
    writes = statements(storage.database, "INTO conversation_states")
    with storage.update_scope():
        await storage.set_state(key, "Dialog:topics")
        await storage.set_data(key, {"topics": [1]})
        await storage.flush_current()
    assert writes

    writes.clear()
    with storage.update_scope():
        await storage.set_state(key, "Dialog:topics")  # the same again, as aiogram does
        await storage.set_data(key, await storage.get_data(key))
        await storage.flush_current()
    assert writes == []

    # Changed in place, in a list the row already held: still a change.
    with storage.update_scope():
        data = await storage.get_data(key)
        data["topics"].append(2)
        await storage.set_data(key, data)
        await storage.flush_current()
    assert writes
    assert await storage.get_data(key) == {"topics": [1, 2]}


async def test_an_update_with_no_earlier_one_pending_is_not_checked_again(
    harness: Harness,
) -> None:
    """PostgreSQL: the inbox's record says no earlier update of the person was pending, so
    the order check before handling asks nothing (SQLite: one process, no check at all)."""
    assert harness.bot.app is not None
    checks = statements(harness.bot.app.database, "inbox.ordering_key = ")
    c = harness.citizen(7402)
    await c.send("/start")
    await harness.settle()
    await c.press("Mitmachen")
    assert "Gewählt: 0 von 3" in c.last_text
    assert checks == []
