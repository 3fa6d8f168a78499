"""Merging duplicates: a button on the review card ("Duplikat von #12") or `/merge 40 12`.

The duplicate gets status "merged" pointing to the kept impulse; its agree-ratings carry over
unless the person rated the kept one already.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.app.config import Settings
from bot.domain.clock import Clock
from bot.domain.moderation import ModerationService
from bot.domain.ratings import MergeOutcome, RatingService
from bot.telegram.moderator_language import ModeratorLanguages
from handlers.moderation import cards
from handlers.moderation.callbacks import MergeCallback


def merged_text(duplicate: int, kept: int, outcome: MergeOutcome) -> str:
    if not outcome.merged:
        return _("#{duplicate} kann nicht mit #{kept} zusammengeführt werden.").format(
            duplicate=duplicate, kept=kept
        )
    return ngettext(
        "#{duplicate} ist jetzt mit #{kept} zusammengeführt; {count} Zustimmung übernommen.",
        "#{duplicate} ist jetzt mit #{kept} zusammengeführt; {count} Zustimmungen übernommen.",
        outcome.carried,
    ).format(duplicate=duplicate, kept=kept, count=outcome.carried)


async def merge(
    duplicate: int,
    kept: int,
    bot: Bot,
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
    return merged_text(duplicate, kept, outcome)


async def on_button(
    callback: CallbackQuery,
    callback_data: MergeCallback,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    ratings: RatingService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    text = await merge(
        callback_data.impulse,
        callback_data.into,
        bot,
        settings,
        moderation,
        ratings,
        moderator_languages,
        moderator_id,
        clock,
    )
    await callback.answer(text, show_alert=True)


async def on_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    ratings: RatingService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    numbers = [a.lstrip("#") for a in (command.args or "").split()]
    if len(numbers) != 2 or not all(n.isdigit() and len(n) < 10 for n in numbers):
        await message.answer(_("So geht es: /merge 40 12 (führt #40 mit #12 zusammen)"))
        return
    duplicate, kept = int(numbers[0]), int(numbers[1])
    text = await merge(
        duplicate,
        kept,
        bot,
        settings,
        moderation,
        ratings,
        moderator_languages,
        moderator_id,
        clock,
    )
    await message.answer(text)


def router() -> Router:
    router = Router(name="moderation_merge")
    router.callback_query.register(on_button, MergeCallback.filter())
    router.message.register(on_command, Command("merge"))
    return router
