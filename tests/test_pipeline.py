"""One person's updates in order (bot/pipeline.py), also when an older one is taken over late."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiogram.types import Update

from bot.pipeline import UpdatePipeline


def message(update_id: int, user_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "A"},
                "text": f"update {update_id}",
            },
        }
    )


class SharedInbox:
    """The shared inbox's rules in memory: an update waits until every earlier pending update
    of the same person is done (storage/inbox.py `wait_turn`)."""

    shared = True
    generation = 0

    def __init__(self) -> None:
        self.keys: dict[int, int] = {}
        self.done: set[int] = set()
        self.orphans: list[tuple[int, str]] = []
        self.changed = asyncio.Condition()

    async def record(
        self, payloads: Sequence[tuple[int, str]], keys: Mapping[int, int]
    ) -> list[int]:
        self.keys.update(keys)
        return [update_id for update_id, _ in payloads]

    async def pending(self) -> list[tuple[int, str]]:
        orphans, self.orphans = self.orphans, []
        return orphans

    async def wait_turn(self, key: int, update_id: int, stop: Any = None) -> bool:
        async with self.changed:
            await self.changed.wait_for(
                lambda: all(
                    u in self.done for u, k in self.keys.items() if k == key and u < update_id
                )
            )
        return True

    async def hold_lock(self) -> None:
        pass

    def still_mine(self, update_id: int, generation: int) -> bool:
        return True

    async def finish(self, update_id: int, *, failed: bool, also: Any = None) -> None:
        async with self.changed:
            self.done.add(update_id)
            self.changed.notify_all()

    async def close(self) -> None:
        pass


class Recorder:
    def __init__(self) -> None:
        self.handled: list[int] = []

    async def feed_update(self, bot: Any, update: Update, **context: Any) -> None:
        await asyncio.sleep(0)
        self.handled.append(update.update_id)


async def test_an_older_update_taken_over_from_a_dead_instance_does_not_wait_for_a_newer_one() -> (
    None
):
    inbox, dispatcher = SharedInbox(), Recorder()
    pipeline = UpdatePipeline(dispatcher, bot=None, inbox=inbox)  # type: ignore[arg-type]
    older = message(3, user_id=42)
    inbox.keys[3] = 42  # recorded by an instance that then died
    await pipeline.accept([message(5, user_id=42)])  # waits in the inbox for update 3
    inbox.orphans.append((3, older.model_dump_json(exclude_unset=True)))
    await pipeline.resume_pending(sweep_every=0.01)
    try:
        await asyncio.wait_for(pipeline.wait_idle(), timeout=5)
    finally:
        await pipeline.close()
    assert dispatcher.handled == [3, 5]


async def test_updates_of_one_person_run_in_order_and_others_alongside() -> None:
    inbox, dispatcher = SharedInbox(), Recorder()
    pipeline = UpdatePipeline(dispatcher, bot=None, inbox=inbox)  # type: ignore[arg-type]
    await pipeline.accept([message(i, user_id=1 + i % 2) for i in range(1, 11)])
    await asyncio.wait_for(pipeline.wait_idle(), timeout=5)
    first = [u for u in dispatcher.handled if u % 2]
    assert first == sorted(first) and len(dispatcher.handled) == 10
