"""Every way a Bot API call can end, sorted once, for everything that calls the Bot API.

Polling (bot/telegram/polling.py), the request retry (bot/telegram/resilience.py), the pipeline's
re-run of an
update (`is_transient`, bot/app/runtime.py), the dispatcher's last resort (bot/telegram/errors.py),
review cards,
announcements and digests all ask `classify` what an error means, instead of each deciding
from exception classes or message texts of its own:

* TRANSIENT: the Bot API or the way to it had a bad moment: a connection refused, reset or
  dropped, a timeout, any 5xx (with or without a JSON body), a body that is not JSON or is cut
  off (a proxy's HTML error page), 429. Trying again later cures it: retried with backoff and
  jitter, then the update is re-run, never apologised for.
* HARMLESS: "message is not modified": the message already shows it; done.
* RECOVERABLE: the message to edit is gone or can no longer be edited (send it anew), or the
  button press can no longer be answered (carry on without the answer).
* PERSON_GONE: a citizen blocked the bot, deleted their account or their chat is unknown;
  they are marked unreachable and nothing is retried.
* OPERATOR: the bot lacks a right in a channel or group (not an administrator, not a member,
  the chat does not exist): only an operator can fix it. The process stays up.
* REVOKED: the token is no longer valid (401): the process ends with one line.
* UNREADABLE: Telegram answered `ok: true` but its result does not validate (a newer Bot API
  than our aiogram, or a bug). Not transient: the same answer would come again. The call did
  succeed: bot.telegram.client.ReadWhatWasSent reads such an answer leniently and carries on as
  sent, so only getUpdates (asked again by bot.telegram.polling) ever meets this class.
* BUG: anything else, e.g. a 400 for a malformed request: a mistake to log, not to retry.

Only the exception is looked at (its type, Telegram's description, the method it failed on and,
for an answer that could not be decoded, the error behind it): never the call site.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Any

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiohttp import ClientError
from pydantic import ValidationError

from bot.telegram import lenient


class Outcome(StrEnum):
    TRANSIENT = "transient"
    HARMLESS = "harmless"
    RECOVERABLE = "recoverable"
    PERSON_GONE = "person gone"
    OPERATOR = "operator must act"
    REVOKED = "revoked token"
    UNREADABLE = "unreadable answer"
    BUG = "bug"


# Telegram's descriptions (lower case), as its Bot API server words them.
NOT_MODIFIED = ("message is not modified",)
EDIT_GONE = ("message to edit not found", "message can't be edited")
QUERY_GONE = ("query is too old", "query id is invalid")
CHAT_NOT_FOUND = ("chat not found",)
# A 400 or 403 about the bot's rights in a channel or group: only the operator can fix these.
NO_RIGHTS = (
    "not enough rights",
    "need administrator rights",
    "have no rights to send",
    "chat_admin_required",
    "chat_write_forbidden",
    "is not a member of the channel",
    "is not a member of the supergroup",
    "is not a member of the group",
    "bot was kicked",
)


def classify(exc: BaseException) -> Outcome:
    """What a failed Bot API call means (see the module's docstring)."""
    if isinstance(exc, TelegramEntityTooLarge):  # 413, a "network error" in aiogram's tree
        return Outcome.BUG
    if isinstance(exc, TelegramRetryAfter | TelegramServerError | TelegramNetworkError):
        return Outcome.TRANSIENT
    if isinstance(exc, ClientDecodeError):
        return _undecodable(exc)
    if isinstance(exc, UnicodeDecodeError | asyncio.TimeoutError | ClientError | ConnectionError):
        # Below aiogram: a body that is not even text, or the network, reached us unwrapped.
        return Outcome.TRANSIENT
    if isinstance(exc, TelegramUnauthorizedError):
        return Outcome.REVOKED
    if not isinstance(exc, TelegramAPIError):
        return Outcome.BUG
    description = exc.message.lower()
    if isinstance(exc, TelegramForbiddenError):
        if _has(description, NO_RIGHTS) or not _is_person(exc):
            return Outcome.OPERATOR
        return Outcome.PERSON_GONE
    if isinstance(exc, TelegramBadRequest):
        return _bad_request(exc, description)
    return Outcome.BUG


def is_transient(exc: BaseException) -> bool:
    """Whether trying the same again later can succeed: the pipeline's `retry_when`."""
    return classify(exc) is Outcome.TRANSIENT


def is_revoked(exc: BaseException) -> bool:
    return classify(exc) is Outcome.REVOKED


def retry_after(exc: BaseException) -> float | None:
    """The wait Telegram asked for (429), if it asked."""
    return float(exc.retry_after) if isinstance(exc, TelegramRetryAfter) else None


def describe(exc: BaseException) -> str:
    """One short line for a log: what failed, never the body of an answer (an HTML page, or a
    result with people's messages in it)."""
    if isinstance(exc, ClientDecodeError):
        if isinstance(exc.original, ValidationError):
            # Where the answer failed to validate, and how (bot.telegram.lenient): never its
            # content.
            return f"an answer that does not read ({lenient.describe(exc)})"
        return f"an answer that is not JSON or is cut off ({type(exc.original).__name__})"
    if isinstance(exc, TelegramRetryAfter):
        return f"429 Too Many Requests, retry after {exc.retry_after} s"
    if isinstance(exc, TelegramAPIError):
        return f"{type(exc).__name__}: {exc.message.splitlines()[0][:200]}"
    if isinstance(exc, UnicodeDecodeError):
        return "an answer that is not text (UnicodeDecodeError)"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def operator_problem(exc: BaseException) -> str | None:
    """For an error only the operator can fix: "no_rights" (the bot is no administrator of the
    channel, or may not post there) or "chat_missing" (no such channel, or the bot is not in
    it); None for every other outcome."""
    if classify(exc) is not Outcome.OPERATOR or not isinstance(exc, TelegramAPIError):
        return None
    description = exc.message.lower()
    if _has(description, CHAT_NOT_FOUND) or "is not a member" in description:
        return "chat_missing"
    return "no_rights"


class TokenRevoked(Exception):
    """Telegram no longer accepts the bot's token: the process must end (bot/app/cli.py)."""

    def __str__(self) -> str:
        return (
            "Telegram refused the bot token (401 Unauthorized): it was revoked or is wrong; "
            "set DIALOGBOT_TOKEN to the token @BotFather shows and start again"
        )


def _undecodable(exc: ClientDecodeError) -> Outcome:
    if not isinstance(exc.original, ValidationError):
        # json.loads failed (JSONDecodeError, a ValueError): an HTML error page from a proxy in
        # front of the Bot API, or a body cut off on the way. A later try gets a whole answer.
        return Outcome.TRANSIENT
    if _is_ok_answer(exc.data):
        # Telegram accepted the call and answered with a result we cannot read: not transient
        # (bot.telegram.client.ReadWhatWasSent takes such an answer as sent).
        return Outcome.UNREADABLE
    # JSON, but no Bot API answer at all ({"error": ...} from a gateway): like an HTML page.
    return Outcome.TRANSIENT


def _is_ok_answer(data: Any) -> bool:
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return False
    return isinstance(data, dict) and data.get("ok") is True


def _bad_request(exc: TelegramBadRequest, description: str) -> Outcome:
    if _has(description, NOT_MODIFIED):
        return Outcome.HARMLESS
    if _has(description, EDIT_GONE) or _has(description, QUERY_GONE):
        return Outcome.RECOVERABLE
    if _has(description, NO_RIGHTS):
        return Outcome.OPERATOR
    if _has(description, CHAT_NOT_FOUND):
        return Outcome.PERSON_GONE if _is_person(exc) else Outcome.OPERATOR
    return Outcome.BUG


def _is_person(exc: TelegramAPIError) -> bool:
    """Private chats have the person's (positive) id; groups and channels are negative ids or
    @usernames."""
    chat_id = getattr(exc.method, "chat_id", None)
    return isinstance(chat_id, int) and chat_id > 0


def _has(description: str, texts: tuple[str, ...]) -> bool:
    return any(text in description for text in texts)
