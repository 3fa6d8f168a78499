"""The Bot API session: calls sent as JSON, answers read only as far as the bot reads them.

`LeanSession` is an `AiohttpSession` subclass, aiogram's own extension point for how a call
goes over the wire; the request middlewares (retries, 403s, settled calls: bot.telegram.
resilience and bot.telegram.client) run around it as around the stock session.

* **Requests**: one JSON body encoded with orjson (`Content-Type: application/json`), where
  aiogram sends a URL-encoded form whose nested objects (a keyboard, entities, link preview
  options) are JSON strings of their own. The fields and values are the ones aiogram sends
  (tests/test_session.py compares them for every method the bot uses): fields that are None or
  empty text left out, defaults (`parse_mode`) taken from the bot, enums by value, dates and
  durations as Unix seconds. A call that uploads a file (the digest's chart, `/meinedaten`)
  stays multipart: aiogram's own form.
* **Answers**: parsed with orjson. What the bot reads of a sent or edited message is its id
  (the dialog keeps the message that shows a step, the digest its post), so such a message is
  built from its id, date and chat without validating the rest (the echoed text, entities and
  the keyboard's buttons, each a pydantic model: benchmarks/README.md). `true` and getUpdates'
  raw list (bot.telegram.polling) are taken as they are. Everything else, error answers
  included, and a message whose answer lacks those fields, is read by aiogram's own
  `check_response`: the same exceptions as the stock session, so a successful call whose
  result the models reject still raises the ClientDecodeError that
  `bot.telegram.client.ReadWhatWasSent` reads leniently.

`bot_api_session(settings)` is the one place a Bot's session is built (the composition root,
bot/app/composition.py, and `dialogbot doctor`). `[tuning] lean_session = false` makes it
aiogram's stock `AiohttpSession`, unchanged: form-encoded requests, every answer validated
whole.
"""

from __future__ import annotations

import copy
import datetime
import types
from enum import Enum
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union, cast, get_args, get_origin

import orjson
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, InputFile, Message, TelegramObject
from aiohttp import ClientError, ClientTimeout

from bot.domain.settings import Settings

if TYPE_CHECKING:
    from aiogram import Bot

JSON_HEADERS: Final = {"Content-Type": "application/json"}
T = TypeVar("T", bound=TelegramObject)


class _Upload(Exception):
    """Raised while encoding: the call carries a file, so it goes as aiogram's multipart."""


class _NotLean:
    """The answer is read by aiogram's own validation."""


NOT_LEAN: Final = _NotLean()


_PLAIN: Final = frozenset({str, int, bool, float, type(None)})


def _json_value(value: Any, bot: Bot) -> Any:
    """A field's value as aiogram's `prepare_value` sends it, as JSON instead of form text."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:  # most of a keyboard: first the values that need nothing done
        return {
            key: prepared
            for key, item in value.items()
            if (prepared := item if type(item) in _PLAIN else _json_value(item, bot)) is not None
        }
    if kind is list:
        return [
            prepared
            for item in value
            if (prepared := item if type(item) in _PLAIN else _json_value(item, bot)) is not None
        ]
    if isinstance(value, Enum):
        return _json_value(value.value, bot)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Default):
        return _json_value(bot.default[value.name], bot)
    if isinstance(value, dict):
        return {
            key: prepared
            for key, item in value.items()
            if (prepared := _json_value(item, bot)) is not None
        }
    if isinstance(value, list | tuple):
        return [prepared for item in value if (prepared := _json_value(item, bot)) is not None]
    if isinstance(value, InputFile):
        raise _Upload
    if isinstance(value, datetime.timedelta):
        now = datetime.datetime.now()  # as aiogram: the local time's timestamp
        return round((now + value).timestamp())
    if isinstance(value, datetime.datetime):
        return round(value.timestamp())
    if isinstance(value, TelegramObject):
        return _json_value(value.model_dump(warnings=False), bot)
    return value


class _Walk(Exception):
    """Raised while encoding: a value orjson cannot take as it is (a default of the bot's
    nested in an object, say); the call is prepared value by value (`_json_value`)."""


def _unknown(value: Any) -> Any:
    """orjson's hook for the values it does not encode itself."""
    if isinstance(value, InputFile):
        raise _Upload
    if isinstance(value, datetime.datetime | datetime.timedelta):
        return _json_value(value, cast("Bot", None))  # needs no bot
    raise _Walk


def json_body(bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
    """The call's fields as one JSON object; None if it uploads a file (then multipart)."""
    fields: dict[str, Any] = {}
    # exclude_none: what aiogram leaves out anyway.
    for key, value in method.model_dump(warnings=False, exclude_none=True).items():
        if isinstance(value, Default):
            value = bot.default[value.name]
        # aiogram leaves out what prepares to nothing: None and empty text.
        if value is None or value == "":
            continue
        fields[key] = value
    try:
        try:
            return orjson.dumps(fields, default=_unknown, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except orjson.JSONEncodeError as e:
            if not isinstance(e.__cause__, _Walk):
                raise
        return orjson.dumps(_json_value(fields, bot))
    except (_Upload, orjson.JSONEncodeError) as e:
        if isinstance(e, _Upload) or isinstance(e.__cause__, _Upload):
            return None
        raise


def _read_bool(result: Any, bot: Bot) -> Any:
    return result if isinstance(result, bool) else NOT_LEAN


def _read_message(result: Any, bot: Bot) -> Any:
    """A sent or edited message with what the bot reads of it; NOT_LEAN if that is missing."""
    if not isinstance(result, dict):
        return NOT_LEAN
    message_id, date, chat = result.get("message_id"), result.get("date"), result.get("chat")
    if not (
        isinstance(message_id, int)
        and isinstance(date, int)
        and isinstance(chat, dict)
        and isinstance(chat.get("id"), int)
        and isinstance(chat.get("type"), str)
    ):
        return NOT_LEAN
    return _unvalidated(
        Message,
        bot,
        message_id=message_id,
        date=datetime.datetime.fromtimestamp(date, tz=datetime.UTC),
        chat=_unvalidated(Chat, bot, id=chat["id"], type=chat["type"]),
    )


_BLANKS: dict[type[TelegramObject], TelegramObject] = {}


def _unvalidated(kind: type[T], bot: Bot, **values: Any) -> T:
    """`kind` with these values and every other field at its default, not validated.

    pydantic's `model_construct` fills the defaults one by one, 160 µs for a Message's hundred
    and more fields: here that is done once per type, and each message is a copy of that blank
    one (a dict copy) with its own values set."""
    blank = _BLANKS.get(kind)
    if blank is None:
        blank = _BLANKS[kind] = kind.model_construct()
    made = copy.copy(blank)
    made.__dict__.update(values)
    made.__pydantic_fields_set__ = set(values)
    return cast(T, made.as_(bot))


def _read_message_or_bool(result: Any, bot: Bot) -> Any:
    return result if isinstance(result, bool) else _read_message(result, bot)


def _read_objects(result: Any, bot: Bot) -> Any:
    """getUpdates as raw JSON objects (bot.telegram.polling.RawGetUpdates)."""
    if isinstance(result, list) and all(isinstance(item, dict) for item in result):
        return result
    return NOT_LEAN


def _reader(returning: Any) -> Any:
    """How a method's result is read without validation, or None: validated as stock."""
    if returning is bool:
        return _read_bool
    if returning is Message:
        return _read_message
    if get_origin(returning) in (Union, types.UnionType) and set(get_args(returning)) == {
        Message,
        bool,
    }:
        return _read_message_or_bool
    if get_origin(returning) is list and get_args(returning) in ((dict[str, Any],), (dict,)):
        return _read_objects
    return None


_READERS: dict[type[Any], Any] = {}


def lean_result(bot: Bot, method: TelegramMethod[Any], answer: Any) -> Any:
    """The result of a successful answer read without validation, or NOT_LEAN."""
    if not (isinstance(answer, dict) and answer.get("ok") is True and "result" in answer):
        return NOT_LEAN
    kind = type(method)
    if kind not in _READERS:
        _READERS[kind] = _reader(getattr(kind, "__returning__", None))
    reader = _READERS[kind]
    return NOT_LEAN if reader is None else reader(answer["result"], bot)


class LeanSession(AiohttpSession):
    """Requests as orjson bodies, answers read as far as the bot reads them (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        # aiogram's own reading (error answers, other results) parses with orjson too.
        kwargs.setdefault("json_loads", orjson.loads)
        super().__init__(**kwargs)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        body = json_body(bot, method)
        data: Any = body if body is not None else self.build_form_data(bot=bot, method=method)
        headers = JSON_HEADERS if body is not None else None
        try:
            async with session.post(
                url,
                data=data,
                headers=headers,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        return cast(TelegramType, self.read_answer(bot, method, status, raw))

    def read_answer(
        self, bot: Bot, method: TelegramMethod[TelegramType], status: int, raw: bytes
    ) -> Any:
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError as e:  # a json.JSONDecodeError, as the stock session's
            text = raw.decode("utf-8", errors="replace")
            raise ClientDecodeError("Failed to decode object", e, text) from e
        if HTTPStatus.OK <= status <= HTTPStatus.IM_USED:
            result = lean_result(bot, method, answer)
            if result is not NOT_LEAN:
                return result
        content = raw.decode("utf-8", errors="replace")
        return self.check_response(bot, method, status, content).result


def bot_api_session(settings: Settings, *, timeout: float | None = None) -> AiohttpSession:
    """The session every Bot of this process uses ([tuning] lean_session: lean or stock);
    `timeout`: seconds per call, [bot] request_timeout unless given."""
    options: dict[str, Any] = {
        "api": TelegramAPIServer.from_base(settings.api_base),
        "timeout": settings.request_timeout if timeout is None else timeout,
    }
    if settings.tuning.lean_session:
        return LeanSession(**options)
    return AiohttpSession(**options)
