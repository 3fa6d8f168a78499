"""Review cards: sent to every moderator (or the moderators' group) and kept in step."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import outcomes
from bot.config import Settings
from bot.domain.moderation import AnswerStatus, ImpulseCard, ModerationService, RejectReason, Status
from bot.outcomes import Outcome
from handlers import notices
from handlers.moderation import texts
from handlers.moderation.callbacks import (
    AnswerCallback,
    CardAction,
    CardCallback,
    MergeCallback,
    RejectCallback,
)

log = logging.getLogger(__name__)


def card_keyboard(impulse: ImpulseCard) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()

    def add(text: str, action: CardAction) -> None:
        builder.button(text=text, callback_data=CardCallback(impulse=impulse.id, action=action))

    if impulse.status == Status.PENDING:
        add(_("✅ Freigeben"), CardAction.APPROVE)
        add(_("❌ Ablehnen"), CardAction.REJECT)
    elif impulse.status == Status.APPROVED:
        add(_("⬇️ Zurückziehen"), CardAction.TAKE_DOWN)
    if impulse.status != Status.PENDING and impulse.has_author:
        add(_("💬 Antworten"), CardAction.ANSWER)
    for kept in impulse.similar:
        builder.button(
            text=_("🔗 Duplikat von #{id}").format(id=kept),
            callback_data=MergeCallback(impulse=impulse.id, into=kept),
        )
    if impulse.has_author:
        if impulse.author_blocked:
            add(_("Entsperren"), CardAction.UNBLOCK)
        else:
            add(_("🚫 Autor sperren"), CardAction.BLOCK)
    builder.adjust(2)
    return builder.as_markup()


def reasons_keyboard(impulse_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason in RejectReason:
        builder.button(
            text=notices.reason_label(reason),
            callback_data=RejectCallback(impulse=impulse_id, reason=reason),
        )
    builder.button(
        text=_("↩️ Zurück"), callback_data=CardCallback(impulse=impulse_id, action=CardAction.BACK)
    )
    builder.adjust(1)
    return builder.as_markup()


def answer_keyboard(impulse_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for status in AnswerStatus:
        builder.button(
            text=notices.answer_label(status),
            callback_data=AnswerCallback(impulse=impulse_id, status=status),
        )
    builder.adjust(1)
    return builder.as_markup()


def review_chats(settings: Settings) -> list[int]:
    if settings.moderators_chat is not None:
        return [settings.moderators_chat]
    return sorted(settings.moderators)


async def send_card(
    bot: Bot, settings: Settings, moderation: ModerationService, impulse: ImpulseCard, chat_id: int
) -> None:
    try:
        message = await bot.send_message(
            chat_id, texts.card(settings, impulse), reply_markup=card_keyboard(impulse)
        )
    except TelegramAPIError as exc:
        # A moderator who never opened the bot cannot be written to, the moderators' group may
        # have removed the bot, or the Bot API stayed away through every retry: /queue still
        # shows the impulse, and the submission is not held up for a card.
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
    bot: Bot, settings: Settings, moderation: ModerationService, impulse_id: int
) -> None:
    chats = review_chats(settings)
    impulse = await moderation.card(impulse_id) if chats else None
    if impulse is None:
        return
    for chat_id in chats:
        await send_card(bot, settings, moderation, impulse, chat_id)


async def refresh_cards(
    bot: Bot, settings: Settings, moderation: ModerationService, impulse: ImpulseCard
) -> None:
    """Bring every copy of the card up to date, so nobody decides on a stale one."""
    for chat_id, message_id in await moderation.card_copies(impulse.id):
        try:
            await bot.edit_message_text(
                text=texts.card(settings, impulse),
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=card_keyboard(impulse),
            )
        except TelegramBadRequest as exc:
            if "not modified" not in str(exc):
                log.info("card %d in a moderator chat not updated: %s", impulse.id, exc)
