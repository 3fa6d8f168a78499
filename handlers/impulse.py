"""Step 2: an optional impulse as free text, assigned to one of the chosen topics."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.domain.participation import ParticipationService
from handlers import flow, keyboards, views
from handlers.callbacks import ImpulseTopicCallback, Step, on_step
from handlers.states import IMPULSE_TEXT, IMPULSE_TOPIC, Dialog


async def impulse_text(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
) -> None:
    text = message.text or ""
    problem = participation.check_impulse(text)
    if problem is not None:
        await message.answer(views.impulse_problem(settings.consultation, problem, text))
        await flow.ask_impulse(message, state, settings)
        return
    selected = flow.draft(await state.get_data())
    if len(selected) == 1:
        await state.update_data({IMPULSE_TEXT: text, IMPULSE_TOPIC: selected[0]})
        await flow.show_review(message, state, settings)
        return
    await state.update_data({IMPULSE_TEXT: text, IMPULSE_TOPIC: None})
    await state.set_state(Dialog.impulse_topic)
    await message.answer(
        views.impulse_topic_prompt(),
        reply_markup=keyboards.impulse_topics(settings.consultation, selected),
    )


async def not_text(message: Message, state: FSMContext, settings: Settings) -> None:
    await message.answer(views.impulse_needs_text())
    await flow.ask_impulse(message, state, settings)


async def skip(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await state.update_data({IMPULSE_TEXT: None, IMPULSE_TOPIC: None})
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
        await flow.show_review(callback.message, state, settings)


async def assign_topic(
    callback: CallbackQuery,
    callback_data: ImpulseTopicCallback,
    state: FSMContext,
    settings: Settings,
) -> None:
    if callback_data.topic not in flow.draft(await state.get_data()):
        await callback.answer(views.stale_button(), show_alert=True)
        return
    await state.update_data({IMPULSE_TOPIC: callback_data.topic})
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
        await flow.show_review(callback.message, state, settings)


def router() -> Router:
    router = Router(name="impulse")
    router.message.register(impulse_text, Dialog.impulse_text, F.text, ~F.text.startswith("/"))
    router.message.register(not_text, Dialog.impulse_text, ~F.text)
    router.callback_query.register(skip, Dialog.impulse_text, on_step(Step.SKIP_IMPULSE))
    router.callback_query.register(
        assign_topic, Dialog.impulse_topic, ImpulseTopicCallback.filter()
    )
    return router
