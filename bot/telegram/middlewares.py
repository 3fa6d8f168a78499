"""Cross-cutting concerns, one middleware each, registered in bot.app.runtime."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.moderation import ModerationService
from bot.domain.participation import Citizen, ParticipationService
from bot.domain.pseudonym import pseudonym_for
from bot.domain.settings import Settings
from bot.telegram.moderator_language import ModeratorLanguages
from storage.settings import BlockList

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ParticipationMiddleware(BaseMiddleware):
    """Who the update comes from, under their pseudonym, and the service bound to storage.

    Each service call is one database transaction, so a handler's reply, sent after the call
    returns, always follows the commit.
    """

    def __init__(
        self,
        settings: Settings,
        participation: ParticipationService,
        moderation: ModerationService,
        i18n: I18n,
    ) -> None:
        self._settings = settings
        self._participation = participation
        self._moderation = moderation
        self._i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is not None:
            data["citizen"] = Citizen(
                pseudonym=pseudonym_for(user.id, self._settings.secret),
                chat_id=chat.id if chat is not None else user.id,
                locale=self._i18n.current_locale,
            )
        data["participation"] = self._participation
        data["moderation"] = self._moderation
        return await handler(event, data)


def on_every_observer(router: Router, middleware: BaseMiddleware) -> None:
    """Register as outer middleware on each event type (after i18n, so the locale is known)."""
    for name, observer in router.observers.items():
        if name not in ("update", "error"):
            observer.outer_middleware(middleware)


class ModeratorGate(BaseMiddleware):
    """The one place that decides who may moderate.

    Everyone else falls through to the citizen routers, where a moderator command is answered
    like any unknown command (with the ordinary help): nothing hints that it exists. The attempt
    is logged under the person's pseudonym.
    """

    def __init__(
        self, settings: Settings, commands: frozenset[str], buttons: frozenset[str]
    ) -> None:
        self._moderators = settings.moderators
        self._secret = settings.secret
        self._commands = commands
        self._buttons = buttons  # the callback-data prefixes of the moderators' buttons

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and user.id in self._moderators:
            data["moderator_id"] = user.id
            languages: ModeratorLanguages | None = data.get("moderator_languages")
            if languages is None:
                return await handler(event, data)
            # What moderators read is in their language (de, en), or the group chat's.
            chat: Chat | None = data.get("event_chat")
            if chat is not None and chat.id == languages.group_chat:
                await languages.remember(user.id, None, user.first_name)
                locale = languages.group_language
            else:
                locale = await languages.remember(
                    user.id, languages.i18n.current_locale, user.first_name
                )
            with languages.rendering_for(locale):
                return await handler(event, data)
        attempt = self._moderator_input(event)
        if user is not None and attempt:
            log.warning(
                "moderator-only input refused for %s: %s",
                pseudonym_for(user.id, self._secret),
                attempt,
            )
        return UNHANDLED

    def _moderator_input(self, event: TelegramObject) -> str | None:
        """The moderator command or button this event tries to use, if any."""
        if isinstance(event, Message) and event.text and event.text.startswith("/"):
            command = event.text.split()[0][1:].split("@")[0].lower()
            return f"/{command}" if command in self._commands else None
        if isinstance(event, CallbackQuery) and event.data:
            prefix = event.data.split(":")[0]
            return f"button {prefix}" if prefix in self._buttons else None
        return None


class BlockedCitizens(BaseMiddleware):
    """A blocked person gets one polite, fixed answer; nothing else happens.

    Except for the inputs `spared` lets through (the data rights, handlers/citizen/data_rights.py).
    """

    def __init__(self, blocklist: BlockList, spared: Callable[[TelegramObject], bool]) -> None:
        self._blocklist = blocklist
        self._spared = spared

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        citizen: Citizen | None = data.get("citizen")
        if citizen is None or self._spared(event):
            return await handler(event, data)
        if not await self._blocklist.contains(citizen.pseudonym):
            return await handler(event, data)
        text = _(
            "Ihre Teilnahme ist von der Moderation gesperrt. Wenn Sie glauben, dass das ein "
            "Irrtum ist, schreiben Sie bitte an die Stelle, die in der Datenschutzerklärung steht."
        )
        if isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        elif isinstance(event, Message) and event.chat.type == "private":
            await event.answer(text)
        return None
