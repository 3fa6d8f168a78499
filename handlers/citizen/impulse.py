"""Step 2: an optional impulse as free text, assigned to one of the chosen topics."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.impulse import is_skip
from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from bot.domain.similarity import SimilarImpulses
from handlers.citizen import flow, keyboards, similar_hint
from handlers.citizen.callbacks import ImpulseTopicCallback, Step, on_step
from handlers.citizen.states import IMPULSE_TEXT, IMPULSE_TOPIC, Dialog
from handlers.citizen.texts import dialog


async def impulse_text(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
    similar_impulses: SimilarImpulses,
) -> None:
    text = message.text or ""
    if is_skip(text):  # "ok", "nein danke", "keine Idee": no idea for moderation
        await skip_by_text(message, state, settings)
        return
    problem = await participation.check_new_impulse(citizen.pseudonym, text)
    if problem is not None:
        # Only the reason: the question above, with its button, still stands.
        await message.answer(dialog.impulse_problem(settings.consultation, problem, text))
        return
    if await similar_hint.offer(message, state, settings, similar_impulses, text):
        return
    await flow.retire_prompt(message, state)
    selected = flow.draft(await state.get_data())
    if len(selected) == 1:
        await state.update_data({IMPULSE_TEXT: text, IMPULSE_TOPIC: selected[0]})
        await flow.show_review(message, state, settings)
        return
    await state.update_data({IMPULSE_TEXT: text, IMPULSE_TOPIC: None})
    await flow.ask_impulse_topic(message, state, settings, selected)


async def skip_by_text(message: Message, state: FSMContext, settings: Settings) -> None:
    """A skip in words: on to the review without an idea, said in one line; while the draft
    has an idea, it stays (nothing is dropped unasked)."""
    await flow.retire_prompt(message, state)
    if (await state.get_data()).get(IMPULSE_TEXT):
        await flow.after_topics(message, state, settings, note=dialog.impulse_kept())
        return
    await state.update_data({IMPULSE_TEXT: None, IMPULSE_TOPIC: None})
    await flow.show_review(message, state, settings, note=dialog.impulse_skipped())


async def forwarded(message: Message) -> None:
    """Someone else's words are no idea of one's own; ask for the person's own text (only the
    reason: the question above still stands)."""
    await message.answer(dialog.impulse_not_forwarded())


async def not_text(message: Message) -> None:
    await message.answer(dialog.impulse_needs_text())


async def skip(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    """ "Überspringen", or "Idee entfernen" for an idea in the draft: on without one; the
    pressed question turns into the review."""
    await state.update_data({IMPULSE_TEXT: None, IMPULSE_TOPIC: None})
    await callback.answer(dialog.step_review())
    if isinstance(callback.message, Message):
        await flow.show_review(callback.message, state, settings, edit=True)


async def keep(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    """ "Idee behalten": the draft's idea, unchanged, and on to its topic or the review."""
    await callback.answer(flow.step_after_topics(await state.get_data(), settings))
    if isinstance(callback.message, Message):
        await flow.after_topics(callback.message, state, settings, edit=True)


async def other_topics(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    """An idea may belong to any topic, not only to one of the person's priorities."""
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(
            reply_markup=keyboards.impulse_topics(
                settings.consultation, flow.draft(await state.get_data()), every_topic=True
            )
        )


async def assign_topic(
    callback: CallbackQuery,
    callback_data: ImpulseTopicCallback,
    state: FSMContext,
    settings: Settings,
) -> None:
    if callback_data.topic not in settings.consultation.topic_ids:
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    await state.update_data({IMPULSE_TOPIC: callback_data.topic})
    await callback.answer(dialog.step_review())
    if isinstance(callback.message, Message):
        # The question turns into the review, which names the idea's topic.
        await flow.show_review(callback.message, state, settings, edit=True)


def router() -> Router:
    router = Router(name="impulse")
    router.message.register(forwarded, Dialog.impulse_text, F.forward_origin)
    router.message.register(impulse_text, Dialog.impulse_text, F.text, ~F.text.startswith("/"))
    router.message.register(not_text, Dialog.impulse_text, ~F.text)
    router.callback_query.register(skip, Dialog.impulse_text, on_step(Step.SKIP_IMPULSE))
    router.callback_query.register(skip, Dialog.impulse_text, on_step(Step.REMOVE_IMPULSE))
    router.callback_query.register(keep, Dialog.impulse_text, on_step(Step.KEEP_IMPULSE))
    router.callback_query.register(other_topics, Dialog.impulse_topic, on_step(Step.OTHER_TOPIC))
    router.callback_query.register(
        assign_topic, Dialog.impulse_topic, ImpulseTopicCallback.filter()
    )
    return router
