"""Groups the bot was added to: it stays silent there, and leaves if configured.

The moderators' group is the exception: its moderator commands and buttons are handled by the
moderator routers before this one; everything else there is ignored quietly.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.domain.settings import Settings

log = logging.getLogger(__name__)

GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}


async def _leave_unless_moderators(bot: Bot, settings: Settings, chat_id: int) -> None:
    if chat_id == settings.moderators_chat or not settings.abuse.leave_groups:
        return
    log.info("leaving a group the bot was added to")
    await bot.leave_chat(chat_id)


async def group_message(message: Message, bot: Bot, settings: Settings) -> None:
    await _leave_unless_moderators(bot, settings, message.chat.id)


async def added_to_group(event: ChatMemberUpdated, bot: Bot, settings: Settings) -> None:
    if event.new_chat_member.status in ("member", "administrator"):
        await _leave_unless_moderators(bot, settings, event.chat.id)


async def group_button(callback: CallbackQuery) -> None:
    await callback.answer()


def router() -> Router:
    router = Router(name="groups")
    router.message.register(group_message, F.chat.type.in_(GROUPS))
    router.edited_message.register(group_message, F.chat.type.in_(GROUPS))
    router.my_chat_member.register(added_to_group, F.chat.type.in_(GROUPS))
    router.callback_query.register(group_button, F.message.chat.type.in_(GROUPS))
    return router
