"""Step 3: review and submit. The reply goes out only after the vote is committed."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.data_rights import Moderators
from bot.domain.participation import (
    Citizen,
    ConsultationClosed,
    ImpulseDraft,
    InvalidSubmission,
    ParticipationService,
    Submission,
)
from bot.domain.settings import Settings
from handlers.citizen import flow, keyboards
from handlers.citizen.callbacks import Step, on_step
from handlers.citizen.states import DRAFT_KEY, IMPULSE_TEXT, IMPULSE_TOPIC, Dialog
from handlers.citizen.texts import dialog
from storage.followup import SqlFollowUps


async def submit(
    callback: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
    clock: Clock,
    moderators: Moderators,
    followups: SqlFollowUps,
) -> None:
    data = await state.get_data()
    selected = flow.draft(data)
    text, topic = data.get(IMPULSE_TEXT), data.get(IMPULSE_TOPIC)
    impulse = ImpulseDraft(text=text, topic_id=topic) if text and topic else None
    submission = Submission(
        topics=tuple(selected), impulse=impulse, draft_key=str(data.get(DRAFT_KEY, ""))
    )
    try:
        impulse_id = await participation.submit(citizen, submission, now=clock())
    except ConsultationClosed:
        await callback.answer(dialog.consultation_closed(), show_alert=True)
        return
    except InvalidSubmission:
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    await callback.answer(dialog.step_thanks())
    standings = await participation.standings()
    # "Ergebnis später zuschicken" (or taking it back, for someone who asked already).
    subscribed = await followups.subscribed_since(citizen.pseudonym) is not None
    await flow.edit_or_send(
        callback,
        dialog.thanks(settings, selected, standings, with_impulse=impulse is not None),
        keyboards.with_followup_button(keyboards.browse_offer(), subscribed),
    )
    if impulse_id is not None:
        await moderators.new_impulse(impulse_id, missing_only=True)
    # Cleared last, so it is written with the update's "done" mark (storage/fsm.py). Cleared
    # first, it was committed before the thanks went out, and a press handled again after a
    # crash in between found no step and thanked nobody. Now it finds the review step and
    # thanks again; the submission is stored once (by its draft key).
    await state.clear()


async def edit_topics(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    """The review turns back into the topic list (and "Weiter" into the review again)."""
    await callback.answer(dialog.step_topics())
    if isinstance(callback.message, Message):
        data = await state.get_data()
        await flow.start_topics(callback.message, state, settings, flow.draft(data), edit=True)


async def edit_impulse(callback: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await callback.answer(dialog.step_impulse())
    if isinstance(callback.message, Message):
        await flow.ask_impulse(callback.message, state, settings, edit=True)


def router() -> Router:
    router = Router(name="review")
    router.callback_query.register(submit, Dialog.review, on_step(Step.SUBMIT))
    router.callback_query.register(edit_topics, Dialog.review, on_step(Step.EDIT_TOPICS))
    router.callback_query.register(edit_impulse, Dialog.review, on_step(Step.EDIT_IMPULSE))
    return router
