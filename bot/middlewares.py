"""Cross-cutting concerns, one middleware each, registered in bot.app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import Chat, TelegramObject, User
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.domain.participation import Citizen, ParticipationService, Rules
from bot.domain.pseudonym import pseudonym_for
from storage.db import Database
from storage.repository import SqlParticipationRepository

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def rules_from(settings: Settings) -> Rules:
    consultation = settings.consultation
    return Rules(
        topic_ids=consultation.topic_ids,
        max_topics=consultation.max_topics,
        impulse_min_length=consultation.impulse_min_length,
        impulse_max_length=consultation.impulse_max_length,
        is_open=consultation.phase == "open",
    )


class ParticipationMiddleware(BaseMiddleware):
    """Who the update comes from, under their pseudonym, and the service bound to storage.

    Each service call is one database transaction, so a handler's reply, sent after the call
    returns, always follows the commit.
    """

    def __init__(self, settings: Settings, database: Database, i18n: I18n) -> None:
        self._settings = settings
        self._service = ParticipationService(
            SqlParticipationRepository(database), rules_from(settings)
        )
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
        data["participation"] = self._service
        return await handler(event, data)


def on_every_observer(router: Router, middleware: BaseMiddleware) -> None:
    """Register as outer middleware on each event type (after i18n, so the locale is known)."""
    for name, observer in router.observers.items():
        if name not in ("update", "error"):
            observer.outer_middleware(middleware)
