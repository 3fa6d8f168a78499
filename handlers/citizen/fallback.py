"""Last resort: every update that no feature handled still gets a short, clear answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.settings import Settings
from handlers.citizen import flow
from handlers.citizen.states import Dialog
from handlers.citizen.texts import dialog

STEPS = {step.state for step in Dialog.__states__}  # what flow.resume can show again
BUTTON_STEPS = {
    Dialog.consent.state,
    Dialog.topics.state,
    Dialog.impulse_topic.state,
    Dialog.similar.state,
}


async def unhandled_message(
    message: Message, state: FSMContext, settings: Settings, replayed: bool = False
) -> None:
    current = await state.get_state()
    if replayed and current in STEPS and await flow.resume(message, state, settings):
        return  # see unhandled_button
    if (message.text or "").startswith("/"):
        # Unknown commands (moderators' ones included, for everyone else) get the plain help.
        await message.answer(dialog.help_text(settings), link_preview_options=flow.NO_PREVIEW)
    elif current in BUTTON_STEPS or current == Dialog.review.state:
        await message.answer(dialog.use_the_buttons())
    else:
        await message.answer(dialog.unknown_input())


async def edited(message: Message) -> None:
    """Edits of sent messages would change answers behind the person's back."""
    await message.answer(dialog.edits_not_taken())


async def unhandled_button(
    callback: CallbackQuery, state: FSMContext, settings: Settings, replayed: bool = False
) -> None:
    """Forged data, or a keyboard from an earlier step or an earlier run.

    Handled again after a crash (`replayed`), a press can find its own step already saved
    while the prompt of the next step never went out (the state is committed just before
    that reply). Showing the current step again means nobody is left without buttons; at
    worst, after a crash, a prompt appears twice. It is shown in place of the pressed message,
    as the press would have shown it.
    """
    if replayed and isinstance(callback.message, Message) and await state.get_state() in STEPS:
        await callback.answer()
        await flow.resume(callback.message, state, settings, edit=True)
        return
    await callback.answer(dialog.stale_button(), show_alert=True)


def router() -> Router:
    router = Router(name="fallback")
    router.message.register(unhandled_message)
    router.edited_message.register(edited)
    router.callback_query.register(unhandled_button)
    return router
