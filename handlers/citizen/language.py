"""/sprache: choose the language, at any step; the dialog's draft stays as it is."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.domain.settings import Settings
from bot.telegram.language import LanguageChoice, language_name, ordered_locales
from handlers.citizen import commands, flow, keyboards
from handlers.citizen.callbacks import LanguageCallback
from handlers.citizen.texts import dialog


async def ask_language(message: Message, i18n: I18n) -> None:
    await message.answer(
        dialog.language_prompt(),
        reply_markup=keyboards.languages(
            ordered_locales(i18n.available_locales), i18n.current_locale
        ),
    )


async def choose_language(
    callback: CallbackQuery,
    callback_data: LanguageCallback,
    state: FSMContext,
    settings: Settings,
    i18n: I18n,
    language: LanguageChoice,
) -> None:
    locale = callback_data.locale
    if locale not in i18n.available_locales:
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    await language.choose(locale)
    if locale == i18n.current_locale:
        # Nothing to redraw (and a second tap must not edit the message to the same text).
        await callback.answer(dialog.language_chosen(language_name(locale)))
        return
    with i18n.use_locale(locale):
        await callback.answer()
        await flow.edit_or_send(callback, dialog.language_chosen(language_name(locale)))
        if isinstance(callback.message, Message):
            await flow.resume(callback.message, state, settings)


def router() -> Router:
    router = Router(name="language")
    router.message.register(ask_language, Command(*commands.LANGUAGE.aliases))
    router.callback_query.register(choose_language, LanguageCallback.filter())
    return router
