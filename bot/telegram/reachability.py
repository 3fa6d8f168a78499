"""People who blocked the bot are not written to; people who come back are again.

Three signals, each handled in one place:

* a 403 on any call to a person's chat (`bot.telegram.resilience.ForbiddenChats` calls `forbidden`);
* Telegram's `my_chat_member` update when a person blocks or unblocks the bot;
* any later message or button press from a person marked unreachable.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatMemberStatus
from aiogram.types import Chat, ChatMemberUpdated, TelegramObject

from bot.domain.participation import Citizen
from bot.domain.pseudonym import pseudonym_for
from bot.telegram.middlewares import Handler
from storage.reachability import ReplyAddresses

log = logging.getLogger(__name__)


class Reachability:
    def __init__(self, addresses: ReplyAddresses, secret: str) -> None:
        self._addresses = addresses
        self._secret = secret

    async def forbidden(self, chat_id: int) -> None:
        """Telegram refused a message to this person's private chat (its id is theirs)."""
        if await self._addresses.set_reachable(pseudonym_for(chat_id, self._secret), False):
            log.info("a person blocked the bot: no more messages to them until they write")

    def middleware(self) -> ReachableAgain:
        return ReachableAgain(self._addresses)


class ReachableAgain(BaseMiddleware):
    """Outer middleware after `ParticipationMiddleware` (it needs the citizen)."""

    def __init__(self, addresses: ReplyAddresses) -> None:
        self._addresses = addresses

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        citizen: Citizen | None = data.get("citizen")
        chat: Chat | None = data.get("event_chat")
        if citizen is not None and chat is not None and chat.type == "private":
            await self._observe(event, citizen.pseudonym)
        return await handler(event, data)

    async def _observe(self, event: TelegramObject, pseudonym: str) -> None:
        if isinstance(event, ChatMemberUpdated):
            blocked = event.new_chat_member.status == ChatMemberStatus.KICKED
            await self._addresses.set_reachable(pseudonym, not blocked)
        elif await self._addresses.is_unreachable(pseudonym):
            await self._addresses.set_reachable(pseudonym, True)
