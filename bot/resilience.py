"""Bot API calls that survive Telegram's bad moments, for every call the bot makes.

Registered once on the bot's session (`bot.session.middleware`), so replies, edits, review cards
and channel posts all get the same treatment:

* 429 Too Many Requests: wait the `retry_after` Telegram asks for (capped), then try again;
* 5xx and dropped connections: exponential backoff, a bounded number of attempts;
* any other error (400, 403, ...) goes back at once: trying again would fail the same way;
* except two 400s that mean there is nothing left to do (`SettledCalls`): a button press that
  can no longer be answered, and an edit to what the message already shows.

Telegram answers 429 and 5xx without executing the method, so a retry does not send twice. A
dropped connection is ambiguous in principle (the request may have arrived); retrying it is
still the better failure for a citizen than a reply that never comes.

getUpdates is left alone: `bot.polling` has its own loop that must stay responsive to a stop.
The digest outbox retries on top of this, durably (its lease of minutes outlasts these waits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    Response,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

TRANSIENT = (TelegramRetryAfter, TelegramServerError, TelegramNetworkError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # in all, the first one included
    base_delay: float = 0.5  # after the first server or network error; doubles each time
    max_delay: float = 30.0  # cap on every wait, Telegram's retry_after included

    def delay(self, attempt: int, error: TelegramAPIError) -> float:
        """How long to wait after the `attempt`-th try failed with `error`."""
        if isinstance(error, TelegramRetryAfter):
            return float(min(error.retry_after, self.max_delay))
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))


DEFAULT_RETRY = RetryPolicy()


class RetryRequests(BaseRequestMiddleware):
    def __init__(self, policy: RetryPolicy = DEFAULT_RETRY) -> None:
        self._policy = policy

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempts = self._attempts(method)
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TRANSIENT as exc:
                if attempt >= attempts:
                    raise
                delay = self._policy.delay(attempt, exc)
                log.warning(
                    "%s failed (%s); attempt %d of %d in %.1f s",
                    method.__api_method__,
                    exc,
                    attempt + 1,
                    attempts,
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1

    def _attempts(self, method: TelegramMethod[Any]) -> int:
        if isinstance(method, GetUpdates):
            return 1
        return self._policy.attempts


class ForbiddenChats(BaseRequestMiddleware):
    """Telegram's 403 for a person's chat: they blocked the bot or deleted their account.

    Seen here, once for every call, so no handler has to remember it; `on_forbidden` marks the
    person unreachable. The error still reaches the caller, which decides what else to do.
    """

    def __init__(self, on_forbidden: Callable[[int], Awaitable[None]]) -> None:
        self._on_forbidden = on_forbidden

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramForbiddenError:
            chat_id = getattr(method, "chat_id", None)
            # Positive ids are people (private chats); groups and channels are negative.
            if isinstance(chat_id, int) and chat_id > 0:
                await self._mark(chat_id)
            raise

    async def _mark(self, chat_id: int) -> None:
        try:
            await self._on_forbidden(chat_id)
        except Exception:  # the 403 is what the caller must see, not a storage hiccup
            log.exception("could not mark a chat as unreachable")


# Telegram's descriptions of a 400 that leaves nothing to do, by the methods they settle.
_SETTLED: tuple[tuple[tuple[type[TelegramMethod[Any]], ...], tuple[str, ...]], ...] = (
    # Once answered, or after about 15 s, a button press can no longer be answered.
    ((AnswerCallbackQuery,), ("query is too old", "query id is invalid")),
    # The message already shows exactly this.
    ((EditMessageText, EditMessageReplyMarkup, EditMessageCaption), ("message is not modified",)),
)


def settled(method: TelegramMethod[Any], error: TelegramBadRequest) -> bool:
    """Whether `error` only says that `method` has nothing left to do."""
    description = error.message.lower()
    return any(
        isinstance(method, methods) and any(text in description for text in texts)
        for methods, texts in _SETTLED
    )


class SettledCalls(BaseRequestMiddleware):
    """Calls with nothing left to do count as done (True), so the handler carries on.

    An update is handled again when the process died after its replies went out but before its
    "done" mark (storage/inbox.py), and it makes the same calls again. Telegram refuses two of
    them although nothing is wrong: answering the button press again ("query is too old and
    response timeout expired or query ID is invalid"; also when a handler took too long), and
    an edit the message already shows ("message is not modified"). Raised, either would abort
    the handler before its next step and leave the person waiting for it.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as exc:
            if not settled(method, exc):
                raise
            log.debug("%s: nothing left to do (%s)", method.__api_method__, exc.message)
            # The session's chain passes the bare result on (aiogram's annotation says Response).
            return cast(Response[TelegramType], True)
