"""The official answer: a moderator picks a status, writes a short text, checks a preview, and
only then the author gets it.

The answer mode is a state of the moderator's chat: any command leaves it (the command is then
handled as usual), and it expires after `moderation.answer_minutes`, so a later note meant for
colleagues never reaches a citizen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n

from bot.domain.clock import Clock
from bot.domain.moderation import AnswerStatus, ModerationService, answer_mode_expired
from bot.domain.settings import Settings
from bot.telegram.moderator_language import ModeratorLanguages
from handlers.citizen.texts import notices
from handlers.moderation import cards, keyboards, texts
from handlers.moderation.callbacks import (
    AnswerCallback,
    AnswerDraftCallback,
    CardAction,
    CardCallback,
    DraftAction,
)
from handlers.moderation.review import tell_author
from handlers.moderation.states import ANSWER, IMPULSE, SINCE, STATUS, Answering

ANSWER_MAX = 1000

ANSWER_MODE = StateFilter(Answering.text, Answering.preview)


class Expired(Filter):
    """The answer mode has run out (moderation.answer_minutes since it began)."""

    async def __call__(
        self, event: TelegramObject, state: FSMContext, settings: Settings, clock: Clock
    ) -> bool:
        since = (await state.get_data()).get(SINCE)
        if not isinstance(since, str):
            return True
        limit = timedelta(minutes=settings.answer_minutes)
        return answer_mode_expired(datetime.fromisoformat(since), clock(), limit)


async def choose_status(callback: CallbackQuery, callback_data: CardCallback) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(
            texts.choose_answer_status(callback_data.impulse),
            reply_markup=keyboards.answer_keyboard(callback_data.impulse),
        )


async def ask_text(
    callback: CallbackQuery,
    callback_data: AnswerCallback,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    await state.set_state(Answering.text)
    await state.set_data(
        {
            IMPULSE: callback_data.impulse,
            STATUS: callback_data.status.value,
            SINCE: clock().isoformat(),
        }
    )
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(
            texts.write_answer(callback_data.impulse, callback_data.status, settings.answer_minutes)
        )


async def preview(message: Message, state: FSMContext, clock: Clock) -> None:
    """The text is not sent yet: the moderator sees exactly what the person would read."""
    answer = "" if message.text == "/ohne" else (message.text or "")
    if len(answer) > ANSWER_MAX:
        await message.answer(texts.answer_too_long())
        return
    data = await state.get_data()
    await state.set_state(Answering.preview)
    await state.update_data({ANSWER: answer, SINCE: clock().isoformat()})
    await message.answer(
        texts.answer_preview(int(data[IMPULSE]), AnswerStatus(data[STATUS]), answer),
        reply_markup=keyboards.answer_draft_keyboard(),
    )


async def send(
    callback: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    data = await state.get_data()
    impulse_id, status = int(data[IMPULSE]), AnswerStatus(data[STATUS])
    answer = str(data.get(ANSWER) or "")
    await state.clear()
    outcome = await moderation.answer(
        impulse_id, status, answer, moderator_id=moderator_id, now=clock()
    )
    impulse = await moderation.card(impulse_id)
    if not outcome.found or impulse is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    await callback.answer()
    author = outcome.author
    delivered = author is not None and await tell_author(
        bot,
        i18n,
        author.chat_id,
        author.locale,
        lambda: notices.author_answer(impulse_id, impulse.text, status, answer),
    )
    if isinstance(callback.message, Message):
        # The answer now stands on the card (which erasure reaches): no second copy of it here.
        await callback.message.edit_text(texts.answer_sent(delivered))
    await cards.refresh_cards(bot, settings, moderation, moderator_languages, impulse)


async def edit(
    callback: CallbackQuery, state: FSMContext, settings: Settings, clock: Clock
) -> None:
    data = await state.get_data()
    await state.set_state(Answering.text)
    await state.update_data({ANSWER: None, SINCE: clock().isoformat()})
    await callback.answer()
    await _close_preview(callback, texts.answer_again())
    if isinstance(callback.message, Message):
        await callback.message.answer(
            texts.write_answer(
                int(data[IMPULSE]), AnswerStatus(data[STATUS]), settings.answer_minutes
            )
        )


async def cancel(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await callback.answer()
    await _close_preview(callback, texts.answer_cancelled())


async def expired(event: Message | CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    if isinstance(event, CallbackQuery):
        await event.answer(texts.answer_expired(), show_alert=True)
        await _close_preview(event, texts.answer_cancelled())
    else:
        await event.answer(texts.answer_expired())


async def leave(message: Message, state: FSMContext) -> None:
    """Any command ends the answer mode, with nothing sent; the command itself then runs."""
    await state.clear()
    await message.answer(texts.answer_left())
    raise SkipHandler


async def stale_preview(callback: CallbackQuery) -> None:
    """A preview that was sent, dropped or left already."""
    await callback.answer(texts.answer_preview_gone(), show_alert=True)


async def _close_preview(callback: CallbackQuery, note: str) -> None:
    """The preview keeps its text, loses its buttons and says what became of it."""
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"{callback.message.html_text}\n\n<i>{note}</i>")


def router() -> Router:
    router = Router(name="moderation_answers")
    # Before every other moderator router: the answer mode sees commands first.
    command = F.text.startswith("/")
    router.message.register(expired, Answering.text, Command("ohne"), Expired())
    router.message.register(preview, Answering.text, Command("ohne"))
    router.message.register(leave, ANSWER_MODE, command)
    router.message.register(expired, ANSWER_MODE, ~command, Expired())
    # In the preview, a new text replaces the draft (and is shown again).
    router.message.register(preview, ANSWER_MODE, F.text, ~command)
    router.callback_query.register(
        expired, Answering.preview, AnswerDraftCallback.filter(), Expired()
    )
    router.callback_query.register(
        send, Answering.preview, AnswerDraftCallback.filter(F.action == DraftAction.SEND)
    )
    router.callback_query.register(
        edit, Answering.preview, AnswerDraftCallback.filter(F.action == DraftAction.EDIT)
    )
    router.callback_query.register(
        cancel, Answering.preview, AnswerDraftCallback.filter(F.action == DraftAction.CANCEL)
    )
    router.callback_query.register(stale_preview, AnswerDraftCallback.filter())
    router.callback_query.register(
        choose_status, CardCallback.filter(F.action == CardAction.ANSWER)
    )
    router.callback_query.register(ask_text, AnswerCallback.filter())
    return router
