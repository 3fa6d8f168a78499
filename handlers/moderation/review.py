"""Reviewing impulses: decisions on cards, /queue, /block and /unblock."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.domain.clock import Clock
from bot.domain.moderation import Decision, ModerationService
from bot.domain.settings import Settings
from bot.telegram.moderator_language import ModeratorLanguages
from handlers.citizen.texts import notices
from handlers.moderation import cards, keyboards, texts
from handlers.moderation.callbacks import (
    CardAction,
    CardCallback,
    Confirmable,
    ConfirmCallback,
    RejectCallback,
    TakeDownCallback,
)

log = logging.getLogger(__name__)

DECISIONS = {CardAction.APPROVE: Decision.APPROVE}


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
    callback_data: CardCallback | RejectCallback | TakeDownCallback,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    """Approve (card button), or reject or take down with the reason picked and confirmed.
    Then the next pending card follows in this chat, if there is one."""
    if isinstance(callback_data, RejectCallback):
        decision, reason = Decision.REJECT, callback_data.reason
    elif isinstance(callback_data, TakeDownCallback):
        decision, reason = Decision.TAKE_DOWN, callback_data.reason
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
        known = await cards.names(moderator_languages, outcome.card.decided_by)
        who = texts.moderator_name(outcome.card.decided_by, known, moderator_id, html=False)
        await callback.answer(texts.already_decided(outcome.card, who), show_alert=True)
    else:
        await callback.answer()
    await cards.refresh_cards(bot, settings, moderation, moderator_languages, outcome.card)
    if outcome.applied and isinstance(callback.message, Message):
        following, _length = await moderation.next_pending()
        if following is not None and following.id != impulse_id:
            await cards.send_card(
                bot, settings, moderation, moderator_languages, following, callback.message.chat.id
            )
    if outcome.applied:
        text = outcome.card.text
        message_for = {
            Decision.APPROVE: lambda: notices.author_told_published(text, settings.channel_link),
            Decision.REJECT: lambda: notices.author_told_rejected(text, reason),
            Decision.TAKE_DOWN: lambda: notices.author_told_taken_down(text, reason),
        }
        await tell_author(
            bot, i18n, outcome.author_chat_id, outcome.author_locale, message_for[decision]
        )


async def ask_reason(callback: CallbackQuery, callback_data: CardCallback) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        take_down = callback_data.action == CardAction.TAKE_DOWN
        await callback.message.edit_reply_markup(
            reply_markup=keyboards.reasons_keyboard(callback_data.impulse, take_down=take_down)
        )


async def _ask_on_card(
    callback: CallbackQuery,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    impulse_id: int,
    question: str,
    yes: str,
    confirm: CardCallback | RejectCallback | TakeDownCallback,
) -> None:
    """The card with the question under it and "Ja, …" / "Abbrechen" (back to the card)."""
    impulse = await moderation.card(impulse_id)
    if impulse is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        known = await cards.names(moderator_languages, impulse.decided_by)
        text = texts.card(settings, impulse, moderator_id, known)
        await callback.message.edit_text(
            f"{text}\n\n<b>{question}</b>",
            reply_markup=keyboards.sure_keyboard(yes, confirm, keyboards.card_back(impulse_id)),
        )


async def confirm_reason(
    callback: CallbackQuery,
    callback_data: RejectCallback | TakeDownCallback,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
) -> None:
    """A reason picked for rejecting or taking down: the card asks before the author is told."""
    impulse_id, reason = callback_data.impulse, callback_data.reason
    if isinstance(callback_data, RejectCallback):
        question, yes = texts.confirm_reject(reason), texts.yes_reject()
        sure: RejectCallback | TakeDownCallback = RejectCallback(
            impulse=impulse_id, reason=reason, sure=True
        )
    else:
        question = f"{texts.confirm_take_down()}\n{texts.reason_line(reason)}"
        yes = texts.yes_take_down()
        sure = TakeDownCallback(impulse=impulse_id, reason=reason, sure=True)
    await _ask_on_card(
        callback,
        settings,
        moderation,
        moderator_languages,
        moderator_id,
        impulse_id,
        question,
        yes,
        sure,
    )


async def confirm_block_on_card(
    callback: CallbackQuery,
    callback_data: CardCallback,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
) -> None:
    """Blocking from a card: asked first."""
    impulse_id = callback_data.impulse
    await _ask_on_card(
        callback,
        settings,
        moderation,
        moderator_languages,
        moderator_id,
        impulse_id,
        texts.confirm_block(impulse_id),
        texts.yes_block(),
        CardCallback(impulse=impulse_id, action=CardAction.BLOCK_SURE),
    )


async def show_card_again(
    callback: CallbackQuery,
    callback_data: CardCallback,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
) -> None:
    impulse = await moderation.card(callback_data.impulse)
    if impulse is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        known = await cards.names(moderator_languages, impulse.decided_by)
        await callback.message.edit_text(
            texts.card(settings, impulse, moderator_id, known),
            reply_markup=keyboards.card_keyboard(impulse),
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
    blocked = callback_data.action == CardAction.BLOCK_SURE
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
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    """/unblock at once (it undoes a block); /block asks first, showing the idea."""
    impulse_id = impulse_reference(command)
    if impulse_id is None:
        await message.answer(texts.usage(command.command))
        return
    impulse = await moderation.card(impulse_id)
    if impulse is None or not impulse.has_author:
        await message.answer(texts.no_author(impulse_id))
        return
    if command.command == "block":
        ask = ConfirmCallback(what=Confirmable.BLOCK, target=impulse_id, yes=True)
        cancel = ConfirmCallback(what=Confirmable.BLOCK, target=impulse_id, yes=False)
        await message.answer(
            texts.block_preview(impulse),
            reply_markup=keyboards.sure_keyboard(texts.yes_block(), ask, cancel),
        )
        return
    await _block(
        message,
        bot,
        settings,
        moderation,
        moderator_languages,
        moderator_id,
        clock,
        impulse_id,
        blocked=False,
    )


async def confirmed_block(
    callback: CallbackQuery,
    callback_data: ConfirmCallback,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    if not callback_data.yes:
        await callback.message.edit_text(
            f"{callback.message.html_text}\n\n<i>{texts.not_blocked()}</i>"
        )
        return
    await callback.message.edit_reply_markup(reply_markup=None)
    await _block(
        callback.message,
        bot,
        settings,
        moderation,
        moderator_languages,
        moderator_id,
        clock,
        callback_data.target,
        blocked=True,
    )


async def _block(
    message: Message,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
    clock: Clock,
    impulse_id: int,
    *,
    blocked: bool,
) -> None:
    if not await moderation.set_blocked(
        impulse_id, blocked, moderator_id=moderator_id, now=clock()
    ):
        await message.answer(texts.no_author(impulse_id))
        return
    await message.answer(texts.blocked_done(impulse_id, blocked))
    impulse = await moderation.card(impulse_id)
    if impulse is not None:
        await cards.refresh_cards(bot, settings, moderation, moderator_languages, impulse)


def router() -> Router:
    router = Router(name="moderation_review")
    router.callback_query.register(on_decision, CardCallback.filter(F.action.in_(set(DECISIONS))))
    router.callback_query.register(
        ask_reason, CardCallback.filter(F.action.in_({CardAction.REJECT, CardAction.TAKE_DOWN}))
    )
    router.callback_query.register(
        show_card_again, CardCallback.filter(F.action == CardAction.BACK)
    )
    router.callback_query.register(
        confirm_block_on_card, CardCallback.filter(F.action == CardAction.BLOCK)
    )
    router.callback_query.register(
        on_block,
        CardCallback.filter(F.action.in_({CardAction.BLOCK_SURE, CardAction.UNBLOCK})),
    )
    router.callback_query.register(confirm_reason, RejectCallback.filter(~F.sure))
    router.callback_query.register(confirm_reason, TakeDownCallback.filter(~F.sure))
    router.callback_query.register(on_decision, RejectCallback.filter(F.sure))
    router.callback_query.register(on_decision, TakeDownCallback.filter(F.sure))
    router.callback_query.register(
        confirmed_block, ConfirmCallback.filter(F.what == Confirmable.BLOCK)
    )
    router.message.register(show_queue, Command("queue"))
    router.message.register(block_command, Command("block", "unblock"))
    return router
