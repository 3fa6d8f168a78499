"""Last resort: every update that no feature handled still gets a short, clear answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from handlers import views
from handlers.states import Dialog

BUTTON_STEPS = {
    Dialog.consent.state,
    Dialog.topics.state,
    Dialog.impulse_topic.state,
    Dialog.similar.state,
}


async def unhandled_message(message: Message, state: FSMContext, settings: Settings) -> None:
    current = await state.get_state()
    if (message.text or "").startswith("/"):
        # Unknown commands (moderators' ones included, for everyone else) get the plain help.
        await message.answer(views.help_text(settings), disable_web_page_preview=True)
    elif current in BUTTON_STEPS or current == Dialog.review.state:
        await message.answer(views.use_the_buttons())
    else:
        await message.answer(views.unknown_input())


async def edited(message: Message) -> None:
    """Edits of sent messages would change answers behind the person's back."""
    await message.answer(views.edits_not_taken())


async def unhandled_button(callback: CallbackQuery) -> None:
    """Forged data, or a keyboard from an earlier step or an earlier run."""
    await callback.answer(views.stale_button(), show_alert=True)


def router() -> Router:
    router = Router(name="fallback")
    router.message.register(unhandled_message)
    router.edited_message.register(edited)
    router.callback_query.register(unhandled_button)
    return router
