"""The official answer: a moderator picks a status, writes a short text, the author gets it."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.clock import Clock
from bot.config import Settings
from bot.domain.moderation import AnswerStatus, ModerationService
from handlers import notices
from handlers.moderation import cards, texts
from handlers.moderation.callbacks import AnswerCallback, CardAction, CardCallback
from handlers.moderation.review import tell_author

ANSWER_MAX = 1000


class Answering(StatesGroup):
    text = State()


async def choose_status(callback: CallbackQuery, callback_data: CardCallback) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(
            texts.choose_answer_status(callback_data.impulse),
            reply_markup=cards.answer_keyboard(callback_data.impulse),
        )


async def ask_text(
    callback: CallbackQuery, callback_data: AnswerCallback, state: FSMContext
) -> None:
    await state.set_state(Answering.text)
    await state.set_data({"impulse": callback_data.impulse, "status": callback_data.status.value})
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(
            texts.write_answer(callback_data.impulse, callback_data.status)
        )


async def receive_text(
    message: Message,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    answer = "" if message.text == "/ohne" else (message.text or "")
    if len(answer) > ANSWER_MAX:
        await message.answer(texts.answer_too_long())
        return
    data = await state.get_data()
    impulse_id, status = int(data["impulse"]), AnswerStatus(data["status"])
    await state.clear()
    outcome = await moderation.answer(
        impulse_id, status, answer, moderator_id=moderator_id, now=clock()
    )
    impulse = await moderation.card(impulse_id)
    if not outcome.found or impulse is None:
        await message.answer(texts.impulse_gone())
        return
    author = outcome.author
    delivered = author is not None and await tell_author(
        bot,
        i18n,
        author.chat_id,
        author.locale,
        lambda: notices.author_answer(impulse_id, impulse.text, status, answer),
    )
    await message.answer(texts.answer_sent(delivered))
    await cards.refresh_cards(bot, settings, moderation, impulse)


def router() -> Router:
    router = Router(name="moderation_answers")
    router.callback_query.register(
        choose_status, CardCallback.filter(F.action == CardAction.ANSWER)
    )
    router.callback_query.register(ask_text, AnswerCallback.filter())
    router.message.register(receive_text, Answering.text, Command("ohne"))
    router.message.register(receive_text, Answering.text, F.text, ~F.text.startswith("/"))
    return router
