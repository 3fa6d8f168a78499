"""The outcome message on the citizen's side: asking for it at the end of the dialog, taking
that back (there, or under /meinedaten). What is sent: bot/telegram/followup.py."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.participation import Citizen
from handlers.citizen import callbacks, keyboards
from handlers.citizen.texts import followup as followup_texts
from storage.followup import SqlFollowUps


async def toggle(
    callback: CallbackQuery,
    callback_data: callbacks.FollowUpCallback,
    followups: SqlFollowUps,
    citizen: Citizen,
    clock: Clock,
) -> None:
    if callback_data.want:
        if not await followups.subscribe(citizen.pseudonym, clock()):
            await callback.answer(followup_texts.register_first(), show_alert=True)
            return
        # The pop-up is read aloud by screen readers; an edited keyboard is not.
        await callback.answer(followup_texts.subscribed_notice())
    else:
        await followups.unsubscribe(citizen.pseudonym)
        await callback.answer(followup_texts.unsubscribed_notice())
    if isinstance(callback.message, Message):
        markup = keyboards.with_followup_button(callback.message.reply_markup, callback_data.want)
        with contextlib.suppress(TelegramBadRequest):  # too old to edit: the state is stored
            await callback.message.edit_reply_markup(reply_markup=markup)


async def offer_in_my_data(message: Message, followups: SqlFollowUps, citizen: Citizen) -> None:
    """Under /meinedaten: that the person asked for the outcome message, and how to undo it."""
    if await followups.subscribed_since(citizen.pseudonym) is not None:
        await message.answer(
            followup_texts.in_my_data(), reply_markup=keyboards.followup_keyboard(subscribed=True)
        )


def router() -> Router:
    router = Router(name="followup")
    router.callback_query.register(toggle, callbacks.FollowUpCallback.filter())
    return router
