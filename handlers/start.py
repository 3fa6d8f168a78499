"""/start: welcome and consent for newcomers, the stored vote for returning citizens."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.app.config import Settings
from bot.domain.clock import Clock
from bot.domain.participation import Citizen, ParticipationService
from handlers import flow, views
from handlers.callbacks import Step, on_step
from handlers.states import SOURCE, Dialog


async def start(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> None:
    if await flow.ask_consent_again(message, state, settings, participation, citizen):
        return
    if await flow.show_my_vote(message, settings, participation, citizen):
        await state.clear()
        return
    if await participation.is_registered(citizen.pseudonym):
        data = await state.get_data()
        await flow.start_topics(message, state, settings, flow.draft(data))
        return
    # Nothing is stored about the person yet: only where they are, and the link they came by.
    await state.set_state(Dialog.consent)
    await state.set_data({SOURCE: participation.clean_source(command.args)})
    await flow.show_welcome(message, settings)


async def consent(
    callback: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
    clock: Clock,
) -> None:
    data = await state.get_data()
    await participation.consent(citizen, source=data.get(SOURCE), now=clock())
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
        await flow.start_topics(callback.message, state, settings, [])


async def decline(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    await flow.edit_or_send(callback, views.declined())
    await state.clear()  # after the reply, with the "done" mark (as in review.submit)


def router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.callback_query.register(consent, Dialog.consent, on_step(Step.CONSENT))
    router.callback_query.register(decline, Dialog.consent, on_step(Step.DECLINE))
    return router
