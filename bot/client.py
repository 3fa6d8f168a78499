"""The Bot API client: keep what never changes, validate only what we read, commit before
replying.

aiogram validates every Bot API answer with `Response[<the method's return type>]`, a pydantic
generic that pydantic caches only weakly. Whenever the garbage collector has dropped one, the
next call of that method rebuilds its validation schema, about 5 ms of CPU: under load that was
a tenth of the bot's time (benchmarks/README.md). This request middleware keeps one strong
reference per method type, so each schema is built once per process.

Telegram answers every sent or edited message with the whole message, keyboard included, and
aiogram validates all of it: the topics keyboard's twenty buttons are twenty more pydantic
models, each with its own before-validator and private attributes, for an answer nobody reads
(174 against 51 µs per call without them; benchmarks/README.md). `loads_answer` drops the echoed
keyboard before validation: a `Message` returned by a call has `reply_markup=None`. Updates are
not touched (their result is a list), so a pressed button's message keeps its keyboard.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

_RESPONSE_MODELS: dict[type[Any], type[Any]] = {}


def loads_answer(content: str) -> Any:
    """The session's JSON decoder: a Bot API answer, without the keyboard a message echoes."""
    answer = json.loads(content)
    result = answer.get("result") if isinstance(answer, dict) else None
    if isinstance(result, dict):
        result.pop("reply_markup", None)
    return answer


def keep_response_model(method: type[TelegramMethod[Any]]) -> None:
    if method not in _RESPONSE_MODELS:
        _RESPONSE_MODELS[method] = Response[method.__returning__]  # type: ignore[name-defined]


class KeepResponseModels(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        keep_response_model(type(method))
        return await make_request(bot, method)


class CommitBeforeSending(BaseRequestMiddleware):
    """Nothing goes out to Telegram while the current update has uncommitted changes: the
    conversation state an update changed is written before its first reply (storage.fsm)."""

    def __init__(self, commit: Callable[[], Awaitable[None]]) -> None:
        self._commit = commit

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        await self._commit()
        return await make_request(bot, method)
