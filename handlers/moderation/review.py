"""Reviewing impulses: decisions on cards, /queue, /block and /unblock."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.app.config import Settings
from bot.domain.clock import Clock
from bot.domain.moderation import Decision, ModerationService
from bot.telegram.moderator_language import ModeratorLanguages
from handlers import notices
from handlers.moderation import cards, texts
from handlers.moderation.callbacks import CardAction, CardCallback, RejectCallback

log = logging.getLogger(__name__)

DECISIONS = {CardAction.APPROVE: Decision.APPROVE, CardAction.TAKE_DOWN: Decision.TAKE_DOWN}


async def tell_author(
    bot: Bot, i18n: I18n, chat_id: int | None, locale: str | None, render: Callable[[], str]
) -> bool:
    """A message to the impulse's author, in their language; False if it did not arrive."""
    if chat_id is None:
        return False
    with i18n.use_locale(locale or i18n.default_locale):
        text = render()
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as exc:
        log.info("author of an impulse not reachable: %s", exc)
        return False
    return True


async def on_decision(
    callback: CallbackQuery,
    callback_data: CardCallback | RejectCallback,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    """Approve or take down (card buttons), or reject with the reason picked."""
    if isinstance(callback_data, RejectCallback):
        decision, reason = Decision.REJECT, callback_data.reason
    else:
        decision, reason = DECISIONS[callback_data.action], None
    impulse_id = callback_data.impulse
    outcome = await moderation.decide(
        impulse_id, decision, moderator_id=moderator_id, now=clock(), reason=reason
    )
    if outcome is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    if not outcome.applied:
        await callback.answer(texts.already_decided(outcome.card), show_alert=True)
    else:
        await callback.answer()
    await cards.refresh_cards(bot, settings, moderation, moderator_languages, outcome.card)
    if outcome.applied:
        message_for = {
            Decision.APPROVE: lambda: notices.author_told_published(impulse_id),
            Decision.REJECT: lambda: notices.author_told_rejected(impulse_id, reason),
            Decision.TAKE_DOWN: lambda: notices.author_told_taken_down(impulse_id),
        }
        await tell_author(
            bot, i18n, outcome.author_chat_id, outcome.author_locale, message_for[decision]
        )


async def ask_reason(callback: CallbackQuery, callback_data: CardCallback) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(
            reply_markup=cards.reasons_keyboard(callback_data.impulse)
        )


async def show_card_again(
    callback: CallbackQuery,
    callback_data: CardCallback,
    settings: Settings,
    moderation: ModerationService,
    moderator_id: int,
) -> None:
    impulse = await moderation.card(callback_data.impulse)
    if impulse is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(
            texts.card(settings, impulse, moderator_id), reply_markup=cards.card_keyboard(impulse)
        )


async def on_block(
    callback: CallbackQuery,
    callback_data: CardCallback,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    blocked = callback_data.action == CardAction.BLOCK
    changed = await moderation.set_blocked(
        callback_data.impulse, blocked, moderator_id=moderator_id, now=clock()
    )
    impulse = await moderation.card(callback_data.impulse)
    if not changed or impulse is None:
        await callback.answer(texts.no_author(callback_data.impulse), show_alert=True)
        return
    await callback.answer(texts.blocked_done(impulse.id, blocked), show_alert=True)
    await cards.refresh_cards(bot, settings, moderation, moderator_languages, impulse)


async def show_queue(
    message: Message,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
) -> None:
    impulse, length = await moderation.next_pending()
    await message.answer(texts.queue(length))
    if impulse is not None:
        await cards.send_card(
            bot, settings, moderation, moderator_languages, impulse, message.chat.id
        )


def impulse_reference(command: CommandObject) -> int | None:
    """`/block 42` or `/block #42`."""
    argument = (command.args or "").strip().lstrip("#")
    return int(argument) if argument.isdigit() and len(argument) < 10 else None


async def block_command(
    message: Message,
    command: CommandObject,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    blocked = command.command == "block"
    impulse_id = impulse_reference(command)
    if impulse_id is None:
        await message.answer(texts.usage(command.command))
        return
    if not await moderation.set_blocked(
        impulse_id, blocked, moderator_id=moderator_id, now=clock()
    ):
        await message.answer(texts.no_author(impulse_id))
        return
    await message.answer(texts.blocked_done(impulse_id, blocked))


def router() -> Router:
    router = Router(name="moderation_review")
    router.callback_query.register(on_decision, CardCallback.filter(F.action.in_(set(DECISIONS))))
    router.callback_query.register(ask_reason, CardCallback.filter(F.action == CardAction.REJECT))
    router.callback_query.register(
        show_card_again, CardCallback.filter(F.action == CardAction.BACK)
    )
    router.callback_query.register(
        on_block, CardCallback.filter(F.action.in_({CardAction.BLOCK, CardAction.UNBLOCK}))
    )
    router.callback_query.register(on_decision, RejectCallback.filter())
    router.message.register(show_queue, Command("queue"))
    router.message.register(block_command, Command("block", "unblock"))
    return router
