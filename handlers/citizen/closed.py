"""The closed consultation: a welcome with the results instead of consent, and every dialog
button, idea and rating refused at once instead of at "Absenden".

Placed before the dialog's routers; every handler here runs only while the phase is closed
(`PhaseClosed`), so the open dialog never sees this router.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from handlers.citizen import callbacks, commands, flow
from handlers.citizen.callbacks import ImpulseTopicCallback, Step, StepCallback, TopicCallback
from handlers.citizen.filters import PhaseClosed
from handlers.citizen.states import Dialog
from handlers.citizen.texts import dialog

# The buttons that take the dialog on; erasure, "keep my data" and declining still work.
DIALOG_STEPS = {
    Step.CONSENT,
    Step.TOPICS_DONE,
    Step.SKIP_IMPULSE,
    Step.SUBMIT,
    Step.EDIT_TOPICS,
    Step.EDIT_IMPULSE,
    Step.KEEP_IMPULSE,
    Step.REMOVE_IMPULSE,
    Step.OTHER_TOPIC,
    Step.NEW_IDEA,
}


async def welcome_closed(
    message: Message,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> None:
    """/start or /meinvotum: the person's stored choice if any, and the results; no consent."""
    standings = await participation.standings()
    if await flow.show_my_vote(message, settings, participation, citizen):
        await message.answer(dialog.results(settings.consultation, standings, is_open=False))
        return
    await message.answer(
        dialog.closed_welcome(settings.consultation, standings),
        link_preview_options=flow.NO_PREVIEW,
    )


async def button_closed(callback: CallbackQuery) -> None:
    await callback.answer(dialog.consultation_closed(), show_alert=True)


async def message_closed(message: Message) -> None:
    await message.answer(dialog.consultation_closed())


def router() -> Router:
    router = Router(name="closed")
    closed = PhaseClosed()
    router.message.register(welcome_closed, CommandStart(), closed)
    router.message.register(welcome_closed, Command(*commands.MY_VOTE.aliases), closed)
    router.message.register(message_closed, Command(*commands.BROWSE.aliases), closed)
    router.message.register(
        message_closed, Dialog.impulse_text, F.text, ~F.text.startswith("/"), closed
    )
    router.callback_query.register(
        button_closed, StepCallback.filter(F.step.in_(DIALOG_STEPS)), closed
    )
    for dialog_button in (
        TopicCallback,
        ImpulseTopicCallback,
        callbacks.HintCallback,
        callbacks.RateCallback,
        callbacks.UndoCallback,
        callbacks.BrowseCallback,
    ):
        router.callback_query.register(button_closed, dialog_button.filter(), closed)
    return router
