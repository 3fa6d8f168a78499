"""Bot API calls that survive Telegram's bad moments, for every call the bot makes.

Registered once on the bot's session (`bot.session.middleware`), so replies, edits, review cards
and channel posts all get the same treatment, decided by `bot.telegram.outcomes.classify`:

* transient (429, 5xx, timeouts, dropped connections, an answer that is not JSON or is cut
  off): tried again after a backoff with jitter (aiogram's `Backoff`), 429 after the
  `retry_after` Telegram asks for (capped), within a budget of attempts and of waiting time.
  When the budget runs out the error goes up: the pipeline re-runs the whole update later
  (bot/telegram/pipeline.py), so nothing is lost and nobody gets an apology for it;
* harmless and recoverable 400s (`SettledCalls`): an edit the message already shows, a button
  press that can no longer be answered (done), an edit of a message that is gone (sent anew);
* a person who is gone (`ForbiddenChats`): marked unreachable, the error goes on;
* a revoked token (`RevokedToken`): the process is told to stop;
* anything else goes back at once: trying again would fail the same way.

Telegram answers 429 and 5xx without executing the method, so a retry does not send twice. A
timeout or a dropped connection is ambiguous (the request may have been executed); sending it
again is still the better failure for a citizen than a reply that never comes, and the storage
never depends on it (what an update stores is committed before its first reply).

getUpdates is left alone: `bot.telegram.polling` has its own loop that must stay responsive to a
stop. The digest outbox retries on top of this, durably (its lease of minutes outlasts these waits).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    Response,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.telegram import outcomes
from bot.telegram.outcomes import Outcome

if TYPE_CHECKING:
    from bot.telegram.metrics import Metrics  # prometheus-client: only with --metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # in all, the first one included
    base_delay: float = 0.5  # after the first transient error; doubles each time, with jitter
    max_delay: float = 30.0  # cap on every wait, Telegram's retry_after included
    jitter: float = 0.1  # the standard deviation of each wait's random part, in base delays
    budget: float = 60.0  # at most this long waiting between the tries of one call

    def backoff(self) -> Backoff:
        """The waits after each failed try: base, 2 x base, 4 x base, ... each jittered (the
        first one too: clients that failed together do not all come back together)."""
        spread = self.jitter * self.base_delay
        first = max(random.normalvariate(self.base_delay, spread), self.base_delay / 2)
        return Backoff(
            BackoffConfig(
                min_delay=first,
                max_delay=max(self.max_delay, first * 2),
                factor=2.0,
                jitter=spread,
            )
        )

    def delay(self, backoff: Backoff, error: BaseException) -> float:
        """How long to wait after a try failed with `error`; 429: as long as Telegram asks."""
        asked = outcomes.retry_after(error)
        if asked is not None:
            return min(asked, self.max_delay)
        return min(max(next(backoff), 0.0), self.max_delay)


DEFAULT_RETRY = RetryPolicy()


class RetryRequests(BaseRequestMiddleware):
    """Also where every call's outcome is counted (`metrics`): once per call, after its tries."""

    def __init__(self, policy: RetryPolicy = DEFAULT_RETRY, metrics: Metrics | None = None) -> None:
        self._policy = policy
        self._metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempts = self._attempts(method)
        backoff = self._policy.backoff()
        waited = 0.0
        attempt = 1
        metrics, name = self._metrics, method.__api_method__
        while True:
            try:
                answer = await make_request(bot, method)
            except Exception as exc:
                if metrics is not None:
                    metrics.api_try_failed(name, exc)
                delay = self._policy.delay(backoff, exc)
                if (
                    attempt >= attempts
                    or not outcomes.is_transient(exc)
                    or waited + delay > self._policy.budget
                ):
                    if metrics is not None:
                        metrics.api_call(name, attempt, exc)
                    raise
                if metrics is not None:
                    metrics.api_wait(exc, delay)
                log.warning(
                    "%s failed (%s); attempt %d of %d in %.2f s",
                    method.__api_method__,
                    outcomes.describe(exc),
                    attempt + 1,
                    attempts,
                    delay,
                )
                await asyncio.sleep(delay)
                waited += delay
                attempt += 1
            else:
                if metrics is not None:
                    metrics.api_call(name, attempt, None)
                return answer

    def _attempts(self, method: TelegramMethod[Any]) -> int:
        if isinstance(method, GetUpdates):
            return 1
        return self._policy.attempts


class Revocation:
    """Whether Telegram refused the token, and the stop events to set when it does."""

    def __init__(self) -> None:
        self.revoked = False
        self._stops: list[asyncio.Event] = []

    def watch(self, stop: asyncio.Event) -> None:
        self._stops.append(stop)
        if self.revoked:
            stop.set()

    def __call__(self) -> None:
        self.revoked = True
        for stop in self._stops:
            stop.set()


class RevokedToken(BaseRequestMiddleware):
    """Telegram's 401 on any call: the token was revoked. `on_revoked` stops the process (it
    ends with one line, bot/app/cli.py); the error still reaches the caller."""

    def __init__(self, on_revoked: Callable[[], None]) -> None:
        self._on_revoked = on_revoked

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramAPIError as exc:
            if outcomes.is_revoked(exc):
                self._on_revoked()
            raise


class ForbiddenChats(BaseRequestMiddleware):
    """A person is gone: Telegram's 403 for their chat (they blocked the bot or deleted their
    account), or a 400 "chat not found" for it.

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
        except TelegramAPIError as exc:
            chat_id = getattr(method, "chat_id", None)
            # Only people: positive ids are private chats (groups and channels are negative).
            if outcomes.classify(exc) is Outcome.PERSON_GONE and isinstance(chat_id, int):
                await self._mark(chat_id)
            raise

    async def _mark(self, chat_id: int) -> None:
        try:
            await self._on_forbidden(chat_id)
        except Exception:  # the 403 is what the caller must see, not a storage hiccup
            log.exception("could not mark a chat as unreachable")


_EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)


def settled(method: TelegramMethod[Any], error: TelegramAPIError) -> bool:
    """Whether `error` only says that `method` has nothing left to do: an edit the message
    already shows, a button press that can no longer be answered, a keyboard or caption on a
    message that is gone."""
    outcome = outcomes.classify(error)
    if outcome is Outcome.HARMLESS:
        return isinstance(method, _EDITS)
    if outcome is not Outcome.RECOVERABLE:
        return False
    if isinstance(method, AnswerCallbackQuery):
        return True
    return isinstance(method, EditMessageReplyMarkup | EditMessageCaption)


def sent_anew(method: TelegramMethod[Any], error: TelegramAPIError) -> SendMessage | None:
    """The message to send instead of an edit of a message that is gone or can no longer be
    edited (the person deleted it, or it is too old): the same text and keyboard, anew."""
    if not isinstance(method, EditMessageText) or method.chat_id is None or method.text is None:
        return None
    if outcomes.classify(error) is not Outcome.RECOVERABLE:
        return None
    return SendMessage(
        chat_id=method.chat_id,
        text=method.text,
        parse_mode=method.parse_mode,
        entities=method.entities,
        link_preview_options=method.link_preview_options,
        reply_markup=method.reply_markup,
    )


class SettledCalls(BaseRequestMiddleware):
    """Calls with nothing left to do count as done (True), so the handler carries on; an edit
    of a message that is gone is sent as a new message.

    An update is handled again when the process died after its replies went out but before its
    "done" mark (storage/inbox.py), or when a reply failed for good and the pipeline re-runs it,
    and it makes the same calls again. Telegram refuses some of them although nothing is wrong:
    answering the button press again ("query is too old and response timeout expired or query
    ID is invalid"; also when a handler took too long), and an edit the message already shows
    ("message is not modified"). Raised, either would abort the handler before its next step
    and leave the person waiting for it. An edit of a message that is gone ("message to edit
    not found", "message can't be edited") would leave them without the step's answer.
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
            instead = sent_anew(method, exc)
            if instead is not None:
                log.info("%s: %s; sending it anew", method.__api_method__, exc.message)
                # Through the whole chain again (retries included); the Message it returns is
                # what editMessageText returns too.
                return cast(Response[TelegramType], await bot(instead))
            if not settled(method, exc):
                raise
            log.debug("%s: nothing left to do (%s)", method.__api_method__, exc.message)
            # The session's chain passes the bare result on (aiogram's annotation says Response).
            return cast(Response[TelegramType], True)
