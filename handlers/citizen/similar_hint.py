"""Before the review: published ideas that say nearly the same, to support instead.

"Support #12" counts as agreeing with #12 and drops the person's own text from the draft;
"send mine anyway" goes on as if no hint had been shown.
"""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.participation import Citizen
from bot.domain.ratings import Opinion, RatingService
from bot.domain.settings import Settings
from bot.domain.similarity import SimilarImpulses
from handlers.citizen import callbacks, flow, keyboards
from handlers.citizen.states import IMPULSE_TEXT, IMPULSE_TOPIC, Dialog
from handlers.citizen.texts import dialog
from handlers.citizen.texts import ratings as rating_texts


async def offer(
    message: Message,
    state: FSMContext,
    settings: Settings,
    similar_impulses: SimilarImpulses,
    text: str,
) -> bool:
    """Show the hint if there are similar published ideas; False when there are none."""
    similar = await similar_impulses.similar(text)
    if not similar:
        return False
    await flow.retire_prompt(message, state)
    await state.update_data({IMPULSE_TEXT: text, IMPULSE_TOPIC: None})
    await state.set_state(Dialog.similar)
    await message.answer(
        rating_texts.similar_hint(settings.consultation, similar),
        reply_markup=keyboards.hint_keyboard(similar),
    )
    return True


async def go_on(message: Message, state: FSMContext, settings: Settings) -> None:
    """With the person's own idea: its topic (if several were chosen), then the review."""
    selected = flow.draft(await state.get_data())
    if len(selected) == 1:
        await state.update_data({IMPULSE_TOPIC: selected[0]})
        await flow.show_review(message, state, settings)
    else:
        await flow.ask_impulse_topic(message, state, settings, selected)


async def choose(
    callback: CallbackQuery,
    callback_data: callbacks.HintCallback,
    state: FSMContext,
    settings: Settings,
    ratings: RatingService,
    citizen: Citizen,
    clock: Clock,
) -> None:
    if not isinstance(callback.message, Message):
        await callback.answer()
        return
    supported = callback_data.impulse
    if supported and not await ratings.rate(citizen.pseudonym, supported, Opinion.AGREE, clock()):
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    await callback.answer()
    with contextlib.suppress(TelegramBadRequest):
        await callback.message.edit_reply_markup(reply_markup=None)
    if not supported:
        await go_on(callback.message, state, settings)
        return
    await state.update_data({IMPULSE_TEXT: None, IMPULSE_TOPIC: None})
    await callback.message.answer(rating_texts.supported(supported))
    await flow.show_review(callback.message, state, settings)


def router() -> Router:
    router = Router(name="similar_hint")
    router.callback_query.register(choose, Dialog.similar, callbacks.HintCallback.filter())
    return router
