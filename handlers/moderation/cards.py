"""Review cards: sent to every moderator (or the moderators' group) and kept in step."""

from __future__ import annotations

import logging
from dataclasses import replace

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup

from bot.domain.moderation import ImpulseCard, ModerationService
from bot.domain.participation import Erasure
from bot.domain.settings import Settings
from bot.telegram import outcomes
from bot.telegram.moderator_language import ModeratorLanguages
from bot.telegram.outcomes import Outcome
from handlers.moderation import keyboards, texts

log = logging.getLogger(__name__)


def review_chats(settings: Settings) -> list[int]:
    if settings.moderators_chat is not None:
        return [settings.moderators_chat]
    return sorted(settings.moderators)


async def names(languages: ModeratorLanguages, *moderators: int | None) -> dict[int, str]:
    """The first names of these moderators, as far as they are known."""
    found: dict[int, str] = {}
    for moderator_id in moderators:
        if moderator_id is not None and moderator_id not in found:
            name = await languages.name_of(moderator_id)
            if name:
                found[moderator_id] = name
    return found


def rendered_card(
    settings: Settings,
    impulse: ImpulseCard,
    viewer_id: int | None = None,
    known: dict[int, str] | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    return texts.card(settings, impulse, viewer_id, known), keyboards.card_keyboard(impulse)


async def send_card(
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    languages: ModeratorLanguages,
    impulse: ImpulseCard,
    chat_id: int,
) -> None:
    """The card in the language of the chat it goes to, whoever's update sends it."""
    known = await names(languages, impulse.decided_by)
    with languages.rendering_for(await languages.of_chat(chat_id)):
        text, markup = rendered_card(settings, impulse, chat_id, known)
    try:
        message = await bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramAPIError as exc:
        if outcomes.is_transient(exc):
            # The Bot API stayed away through every retry: the step is run again later
            # (bot.telegram.pipeline), and sends the cards that are still missing.
            raise
        # A moderator who never opened the bot cannot be written to, or the moderators' group
        # may have removed the bot: /queue still shows the impulse, and the submission is not
        # held up for a card.
        outcome = outcomes.classify(exc)
        level = logging.ERROR if outcome is Outcome.OPERATOR else logging.WARNING
        log.log(
            level,
            "review card for impulse %d not delivered (%s: %s)",
            impulse.id,
            outcome,
            outcomes.describe(exc),
        )
        return
    await moderation.remember_card(impulse.id, chat_id, message.message_id)


async def post_review_cards(
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    languages: ModeratorLanguages,
    impulse_id: int,
    *,
    missing_only: bool = False,
) -> None:
    """The card to every review chat; `missing_only`: to those that hold no copy of it yet
    (a submission run again sends only what an earlier run did not)."""
    chats = review_chats(settings)
    impulse = await moderation.card(impulse_id) if chats else None
    if impulse is None:
        return
    if missing_only:
        holding = {chat for chat, _ in await moderation.card_copies(impulse_id)}
        chats = [chat for chat in chats if chat not in holding]
    for chat_id in chats:
        await send_card(bot, settings, moderation, languages, impulse, chat_id)


async def refresh_cards(
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    languages: ModeratorLanguages,
    impulse: ImpulseCard,
) -> None:
    """Bring every copy of the card up to date, so nobody decides on a stale one."""
    known = await names(languages, impulse.decided_by)
    for chat_id, message_id in await moderation.card_copies(impulse.id):
        # A private chat's id is its moderator's: there the decider reads "Ihnen".
        with languages.rendering_for(await languages.of_chat(chat_id)):
            text, markup = rendered_card(settings, impulse, chat_id, known)
        try:
            await bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
        except TelegramBadRequest as exc:
            if "not modified" not in str(exc):
                log.info("card %d in a moderator chat not updated: %s", impulse.id, exc)


async def erase_cards(
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    languages: ModeratorLanguages,
    erasure: Erasure,
) -> None:
    """For /loeschen: every copy of a deleted idea's card loses its text (or, where Telegram
    no longer lets it be edited, the message goes), and the cards of published ideas that
    stay are shown without source and answer text."""
    for chat_id, message_id, impulse_id in erasure.removed_cards:
        with languages.rendering_for(await languages.of_chat(chat_id)):
            erased = texts.erased_card(impulse_id)
        try:
            await bot.edit_message_text(text=erased, chat_id=chat_id, message_id=message_id)
        except TelegramAPIError:
            try:
                await bot.delete_message(chat_id=chat_id, message_id=message_id)
            except TelegramAPIError as exc:
                log.warning("card %d of an erased idea not removed: %s", impulse_id, exc)
    for impulse_id in erasure.kept_impulses:
        impulse = await moderation.card(impulse_id)
        if impulse is not None:
            # As it reads once the erasure is through: no author, no source, no answer text.
            anonymised = replace(
                impulse, source=None, answer_text=None, has_author=False, author_blocked=False
            )
            await refresh_cards(bot, settings, moderation, languages, anonymised)
