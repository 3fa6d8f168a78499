"""The Bot API client: keep what never changes, validate only what we read, commit before
replying.

aiogram validates every Bot API answer with `Response[<the method's return type>]`, a pydantic
generic that pydantic caches only weakly. Whenever the garbage collector has dropped one, the
next call of that method rebuilds its validation schema, about 5 ms of CPU: under load that was
a tenth of the bot's time (benchmarks/README.md). This request middleware keeps one strong
reference per method type, so each schema is built once per process.

How an answer is parsed is the session's business (bot/telegram/session.py): the lean session
reads a sent message's id without validating the rest and leaves everything else to aiogram's
validation, which these middlewares make cheaper (`KeepResponseModels`) and more forgiving.

`ReadWhatWasSent`: an `ok: true` answer whose result the models reject (a newer Bot API's
union value in the echoed message, say) still means the call succeeded. Sending it again would
send the citizen the same message twice, and an apology for a message that went out is wrong:
the result is read leniently (bot/telegram/lenient.py), and if even that fails the call carries on
as sent. It is told apart by the error's `original` (a pydantic ValidationError of a parsed
`ok: true` answer), never by a message text; a body that is not JSON is another matter
(aiogram's ClientDecodeError wrapping a JSONDecodeError) and passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from pydantic import BaseModel, ValidationError

from bot.telegram.lenient import problems_of, read_leniently

log = logging.getLogger(__name__)

_RESPONSE_MODELS: dict[type[Any], type[Any]] = {}


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


def succeeded_unreadably(error: ClientDecodeError) -> bool:
    """Whether `error` is a successful call whose result the models reject."""
    data = error.data
    return (
        isinstance(error.original, ValidationError)
        and isinstance(data, dict)
        and data.get("ok") is True
        and "result" in data
    )


def read_sent_result(method: TelegramMethod[Any], error: ClientDecodeError, bot: Bot) -> Any:
    """What can be read of a successful call's result (see the module's docstring)."""
    assert isinstance(error.original, ValidationError)
    model = _RESPONSE_MODELS.get(type(method)) or Response[method.__returning__]  # type: ignore[name-defined]
    name = method.__api_method__

    def validate(data: Any) -> Any:
        return model.model_validate(data, context={"bot": bot}).result

    reading = read_leniently(validate, error.data, keep=2)
    if reading.value is not None:
        log.warning(
            "%s succeeded; its answer read without: %s",
            name,
            "; ".join(str(p) for p in reading.repaired),
        )
        return reading.value
    log.warning(
        "%s succeeded, but its answer cannot be read (%s); carrying on as sent",
        name,
        "; ".join(str(p) for p in problems_of(error.original)),
    )
    raw = error.data["result"]
    returning = getattr(method, "__returning__", None)
    if isinstance(returning, type) and issubclass(returning, BaseModel) and isinstance(raw, dict):
        # Unvalidated, as it came; a required field it lacks is None (a handler that keeps a
        # sent message's id keeps None then, and carries on).
        values: dict[str, Any] = {}
        for name, info in returning.model_fields.items():
            key = info.alias or name
            if key in raw:
                values[name] = raw[key]
            elif info.is_required():
                values[name] = None
        return returning.model_construct(**values)
    return raw


class ReadWhatWasSent(BaseRequestMiddleware):
    """`ok: true` means done, whether or not its result reads (see the module's docstring)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except ClientDecodeError as exc:
            # getUpdates changes nothing: bot.telegram.polling simply asks again.
            if isinstance(method, GetUpdates) or not succeeded_unreadably(exc):
                raise
            # The session's chain passes the bare result on (aiogram's annotation says Response).
            return cast(Response[TelegramType], read_sent_result(method, exc, bot))
