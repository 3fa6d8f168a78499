"""The dispatcher's last resort: a handler that failed still leaves the person an answer.

Whatever went wrong for good (a bug, a Telegram refusal that another try would not change) is
logged with its traceback, and the person gets the catalog's "something went wrong" in their
language instead of silence. The service call that failed rolled its transaction back, so
nothing is half-written and trying again is safe.

A failure that passes (the Bot API or the database away for a while; for the Bot API,
`bot.telegram.outcomes.is_transient`) is declined here (`FinalFailure`): it reaches
bot.telegram.pipeline, which
runs the step again later, with no apology for a fault that the next try cures; the person
then gets the step's answer, once. What any other Bot API error means comes from
`bot.telegram.outcomes` too: nobody is told about a failure when they are gone or when the token was
revoked (there is nobody to tell, or no way to).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import ErrorEvent, Update
from aiogram.utils.i18n import gettext as _

from bot.telegram import outcomes
from bot.telegram.lenient import carries_content, describe
from bot.telegram.outcomes import Outcome

log = logging.getLogger(__name__)


def something_went_wrong() -> str:
    return _(
        "Entschuldigung, da ist etwas schiefgegangen. Ihre bisherigen Eingaben sind nicht "
        "verloren. Bitte versuchen Sie es gleich noch einmal."
    )


class FinalFailure(Filter):
    """Errors that will not be tried again; the pipeline re-runs the others (`passing`)."""

    def __init__(self, passing: Callable[[BaseException], bool]) -> None:
        self._passing = passing

    async def __call__(self, event: ErrorEvent) -> bool:
        return not self._passing(event.exception)


async def answer_failure(event: ErrorEvent, bot: Bot) -> None:
    update = event.update
    outcome = outcomes.classify(event.exception)
    if outcome is Outcome.PERSON_GONE:
        # They blocked the bot (bot.telegram.resilience marked them unreachable): nobody to answer.
        log.info("update %d: %s", update.update_id, outcomes.describe(event.exception))
        return
    if outcome is Outcome.REVOKED:
        return  # the process is stopping (bot.app.lifecycle), with one line that says why
    if carries_content(event.exception):  # never its text: it holds what it failed to read
        log.error(
            "update %d failed: %s (%s)",
            update.update_id,
            type(event.exception).__name__,
            describe(event.exception),
        )
    else:
        log.error(
            "update %d failed: %s",
            update.update_id,
            outcomes.describe(event.exception),
            exc_info=event.exception,
        )
    if update.callback_query is not None:
        with contextlib.suppress(TelegramAPIError):  # it may have been answered already
            await update.callback_query.answer()
    chat_id = _chat_to_answer(update)
    if chat_id is None:
        return
    try:
        await bot.send_message(chat_id, something_went_wrong())
    except TelegramAPIError as exc:
        log.warning("could not tell the person about the failure: %s", exc)


def _chat_to_answer(update: Update) -> int | None:
    """Private chats and button presses; a group is not told about one member's failure."""
    if update.message is not None:
        return update.message.chat.id if update.message.chat.type == "private" else None
    query = update.callback_query
    if query is not None:
        return query.message.chat.id if query.message is not None else query.from_user.id
    return None
