"""Step 1: choose up to N priority topics. The keyboard is edited in place on every tap."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.selection import Toggle, toggle_topic
from bot.domain.settings import Settings
from handlers.citizen import flow, keyboards
from handlers.citizen.callbacks import Step, TopicCallback, on_step
from handlers.citizen.states import SELECTED, Dialog
from handlers.citizen.texts import dialog


async def toggle(
    callback: CallbackQuery,
    callback_data: TopicCallback,
    state: FSMContext,
    settings: Settings,
) -> None:
    consultation = settings.consultation
    data = await state.get_data()
    result = toggle_topic(
        flow.draft(data),
        callback_data.topic,
        choose=callback_data.choose,
        known=consultation.topic_ids,
        limit=consultation.max_topics,
    )
    if result.outcome is Toggle.LIMIT_REACHED:
        await callback.answer(dialog.topic_limit_reached(consultation), show_alert=True)
        return
    if result.outcome is Toggle.UNKNOWN_TOPIC:
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    if result.changed:
        await state.update_data({SELECTED: list(result.selected)})
    # Said in words, which a screen reader announces (the edited list it does not read out).
    await callback.answer(dialog.topic_toggled(consultation, callback_data.topic, result.selected))
    # Also when it was so already: the list then shows it (unchanged: nothing to edit).
    await flow.edit_or_send(
        callback,
        dialog.topics_prompt(consultation, result.selected),
        keyboards.topics(consultation, result.selected),
    )


async def done(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    data = await state.get_data()
    selected = flow.draft(data)
    if not selected:
        await callback.answer(dialog.choose_one_topic(), show_alert=True)
        return
    await callback.answer(flow.step_after_topics(data, settings))
    if isinstance(callback.message, Message):
        # The list turns into the next step (which names the chosen topics): no old keyboard
        # is left to invite wrong taps.
        await flow.after_topics(callback.message, state, settings, edit=True)


def router() -> Router:
    router = Router(name="topics")
    router.callback_query.register(toggle, Dialog.topics, TopicCallback.filter())
    router.callback_query.register(done, Dialog.topics, on_step(Step.TOPICS_DONE))
    return router
