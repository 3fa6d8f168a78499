"""The inbox stores an update's JSON as it was received (bot/telegram/pipeline.py), not the
validated model dumped again."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.telegram.pipeline import UpdatePipeline
from bot.telegram.webhook import SECRET_HEADER, webhook_routes
from storage.inbox import Inbox
from tests.harness import Harness


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> dict[int, str]:
    """What the inbox is given to store, by update id."""
    rows: dict[int, str] = {}
    record = Inbox.record

    async def recording(
        self: Inbox, updates: Sequence[tuple[int, str]], keys: Mapping[int, int] | None = None
    ) -> list[int]:
        rows.update(updates)
        return await record(self, updates, keys)

    monkeypatch.setattr(Inbox, "record", recording)
    return rows


async def test_a_polled_update_is_stored_as_getupdates_delivered_it(
    harness: Harness, stored: dict[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []
    accept_raw = UpdatePipeline.accept_raw

    async def keeping(self: UpdatePipeline, raw: Sequence[Any], **kwargs: Any) -> int:
        received.extend(raw)
        return await accept_raw(self, raw, **kwargs)

    monkeypatch.setattr(UpdatePipeline, "accept_raw", keeping)
    update_id = harness.emulator.user(7401).send_text("/start quelle_1")
    await harness.settle()
    [raw] = [u for u in received if u["update_id"] == update_id]
    # The object as delivered, its keys in Telegram's order (the model's own order differs:
    # a dumped Message starts with message_id, date, chat).
    assert stored[update_id] == orjson.dumps(raw).decode()
    assert list(json.loads(stored[update_id])["message"]) == list(raw["message"])


async def test_a_webhook_update_is_stored_byte_for_byte(
    harness: Harness, stored: dict[int, str]
) -> None:
    app = harness.bot.app
    assert app is not None
    user = harness.emulator.user(7402)
    body = (
        '{ "update_id" : 990001, "message": {"text": "/start", "date": 1764800000,'
        ' "chat": {"type": "private", "id": USER}, "from": {"first_name": "Ida",'
        ' "is_bot": false, "id": USER}, "message_id": 1} }'
    ).replace("USER", str(user.id))
    routes = webhook_routes(app, "/hook", "s3cr3t")
    async with TestClient(TestServer(routes)) as client:
        answer = await client.post("/hook", data=body, headers={SECRET_HEADER: "s3cr3t"})
        assert answer.status == 200
    await harness.settle()
    assert stored[990001] == body
    assert "Datenschutz" in user.last_message.text  # and it was handled
