"""/start: welcome and consent for newcomers, the stored vote for returning citizens."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from handlers.citizen import flow, keyboards
from handlers.citizen.callbacks import Step, on_step
from handlers.citizen.states import SOURCE, Dialog
from handlers.citizen.texts import dialog


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
    await callback.answer(dialog.step_topics(thanks=True))
    if isinstance(callback.message, Message):
        # The welcome turns into the topic list: consent was given on the screen that showed
        # the privacy note (or the full notice), and no consent button is left to press.
        await flow.start_topics(callback.message, state, settings, [], edit=True)


async def read_privacy(callback: CallbackQuery, settings: Settings) -> None:
    """ "Datenschutz lesen": the full notice in place of the welcome, with consent and back."""
    await callback.answer(dialog.privacy_opened())
    await flow.edit_or_send(
        callback, dialog.privacy_full(), keyboards.privacy(settings.consultation)
    )


async def back_to_welcome(callback: CallbackQuery, settings: Settings) -> None:
    await callback.answer(dialog.welcome_again())
    if isinstance(callback.message, Message):
        await flow.show_welcome(callback.message, settings, edit=True)


async def decline(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    await flow.edit_or_send(callback, dialog.declined())
    await state.clear()  # after the reply, with the "done" mark (as in review.submit)


def router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.callback_query.register(consent, Dialog.consent, on_step(Step.CONSENT))
    router.callback_query.register(decline, Dialog.consent, on_step(Step.DECLINE))
    router.callback_query.register(read_privacy, Dialog.consent, on_step(Step.PRIVACY))
    router.callback_query.register(back_to_welcome, Dialog.consent, on_step(Step.WELCOME))
    return router
