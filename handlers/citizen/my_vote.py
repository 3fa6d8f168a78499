"""/meinvotum: the stored vote set, and changing it while the consultation is open."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.impulse import ImpulseStatus
from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from handlers.citizen import commands, flow
from handlers.citizen.callbacks import Step, on_step
from handlers.citizen.states import EARLIER_IDEAS
from handlers.citizen.texts import dialog

# Ideas still on their way or published; rejected, withdrawn and merged ones are not "kept".
KEPT_STATUSES = frozenset({ImpulseStatus.PENDING, ImpulseStatus.APPROVED})


async def my_vote(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> None:
    if await flow.ask_consent_again(message, state, settings, participation, citizen):
        return
    if not await flow.show_my_vote(message, settings, participation, citizen):
        await message.answer(dialog.no_vote_yet())


async def change_vote(
    callback: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> None:
    if not await participation.is_open():
        await callback.answer(dialog.consultation_closed(), show_alert=True)
        return
    vote = await participation.vote_set(citizen.pseudonym)
    if vote is None:
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
        await state.clear()
        # The ideas sent with the vote stay stored; the new review says so.
        kept = [i.text for i in vote.impulses if i.status in KEPT_STATUSES]
        await state.set_data({EARLIER_IDEAS: kept} if kept else {})
        selected = list(participation.clean_selection(vote.topics))
        await flow.start_topics(callback.message, state, settings, selected)


def router() -> Router:
    router = Router(name="my_vote")
    router.message.register(my_vote, Command(*commands.MY_VOTE.aliases))
    router.callback_query.register(change_vote, on_step(Step.CHANGE_VOTE))
    return router
