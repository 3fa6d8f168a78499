"""Merging duplicates: a button on the review card ("Duplikat von #12") or `/merge 40 12`.

The duplicate gets status "merged" pointing to the kept impulse; its agree-ratings carry over
unless the person rated the kept one already.
"""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.domain.clock import Clock
from bot.domain.impulse import ImpulseStatus
from bot.domain.moderation import ModerationService
from bot.domain.ratings import MergeOutcome, RatingService
from bot.domain.settings import Settings
from bot.telegram.moderator_language import ModeratorLanguages
from handlers.citizen.texts import notices
from handlers.moderation import cards, keyboards, texts
from handlers.moderation.callbacks import Confirmable, ConfirmCallback, MergeCallback
from handlers.moderation.review import tell_author

TAKE_PART = {ImpulseStatus.PENDING.value, ImpulseStatus.APPROVED.value}  # as storage.ratings merges


async def merge(
    duplicate: int,
    kept: int,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    ratings: RatingService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> str:
    now = clock()
    outcome = await ratings.merge(duplicate, kept, moderator_id=moderator_id, now=now)
    if outcome.merged:
        await moderation.log(moderator_id, "merge", duplicate, f"into #{kept}", now)
        card = await moderation.card(duplicate)
        if card is not None:
            await cards.refresh_cards(bot, settings, moderation, moderator_languages, card)
        kept_card = await moderation.card(kept)
        author = await moderation.author_of(duplicate)
        if card is not None and kept_card is not None and author is not None:
            duplicate_text, kept_text = card.text, kept_card.text
            await tell_author(
                bot,
                i18n,
                author.chat_id,
                author.locale,
                lambda: notices.author_told_merged(duplicate_text, kept_text),
            )
    return texts.merged(duplicate, kept, outcome)


async def ask_on_card(
    callback: CallbackQuery,
    callback_data: MergeCallback,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
) -> None:
    duplicate, kept = callback_data.impulse, callback_data.into
    impulse = await moderation.card(duplicate)
    if impulse is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        known = await cards.names(moderator_languages, impulse.decided_by)
        sure = MergeCallback(impulse=duplicate, into=kept, sure=True)
        card = texts.card(settings, impulse, moderator_id, known)
        await callback.message.edit_text(
            f"{card}\n\n<b>{texts.merge_question(duplicate, kept)}</b>",
            reply_markup=keyboards.sure_keyboard(
                texts.yes_merge(), sure, keyboards.card_back(duplicate)
            ),
        )


async def on_button(
    callback: CallbackQuery,
    callback_data: MergeCallback,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    ratings: RatingService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    """ "Ja, zusammenführen", on a card or under the preview of /merge."""
    text = await merge(
        callback_data.impulse,
        callback_data.into,
        bot,
        i18n,
        settings,
        moderation,
        ratings,
        moderator_languages,
        moderator_id,
        clock,
    )
    if callback_data.on_card:
        await callback.answer(text, show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"{callback.message.html_text}\n\n<i>{text}</i>")


async def cancel_command(callback: CallbackQuery) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(
            f"{callback.message.html_text}\n\n<i>{texts.not_merged()}</i>"
        )


async def on_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    ratings: RatingService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    numbers = [a.lstrip("#") for a in (command.args or "").split()]
    if len(numbers) != 2 or not all(n.isdigit() and len(n) < 10 for n in numbers):
        await message.answer(texts.merge_usage())
        return
    duplicate, kept = int(numbers[0]), int(numbers[1])
    impulse, keeping = await moderation.card(duplicate), await moderation.card(kept)
    if impulse is None or keeping is None or not {impulse.status, keeping.status} <= TAKE_PART:
        await message.answer(texts.merged(duplicate, kept, MergeOutcome(merged=False, carried=0)))
        return
    sure = MergeCallback(impulse=duplicate, into=kept, sure=True, on_card=False)
    cancel = ConfirmCallback(what=Confirmable.MERGE, target=duplicate, yes=False)
    question = texts.merge_question(duplicate, kept)
    await message.answer(
        f"<blockquote>{escape(impulse.text)}</blockquote>\n\n<b>{question}</b>",
        reply_markup=keyboards.sure_keyboard(texts.yes_merge(), sure, cancel),
    )


def router() -> Router:
    router = Router(name="moderation_merge")
    router.callback_query.register(ask_on_card, MergeCallback.filter(~F.sure))
    router.callback_query.register(on_button, MergeCallback.filter(F.sure))
    router.callback_query.register(
        cancel_command, ConfirmCallback.filter(F.what == Confirmable.MERGE)
    )
    router.message.register(on_command, Command("merge"))
    return router
