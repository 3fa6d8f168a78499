"""Tells the moderators in Telegram, once per incident, when the inbox backlog keeps growing
(bot.domain.backlog): every minute one count of the updates waiting and the age of the
oldest."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from bot.app.config import Settings
from bot.domain.backlog import BacklogIncident
from bot.telegram.periodic import Periodic
from handlers.moderation import texts
from handlers.moderation.cards import review_chats
from storage import observability
from storage.db import Database

log = logging.getLogger(__name__)

EVERY_SECONDS = 60.0
THRESHOLD_SECONDS = 300.0


class BacklogWatch:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        bot: Bot,
        i18n: I18n,
        *,
        threshold_seconds: float = THRESHOLD_SECONDS,
    ) -> None:
        self._settings, self._database, self._bot, self._i18n = settings, database, bot, i18n
        self.incident = BacklogIncident(threshold_seconds)
        self._task = Periodic("inbox backlog watch", self.check, after_failure=EVERY_SECONDS)

    def start(self) -> None:
        self._task.start(first_pause=EVERY_SECONDS)

    async def stop(self) -> None:
        await self._task.stop()

    async def check(self) -> float:
        count, oldest = await observability.inbox_backlog(self._database)
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        if self.incident.observe(count, age):
            log.warning("inbox backlog growing: %d waiting, the oldest for %.0f s", count, age)
            await self._tell(count, int(age // 60))
        return EVERY_SECONDS

    async def _tell(self, count: int, minutes: int) -> None:
        with self._i18n.context(), self._i18n.use_locale(self._settings.moderation_language):
            text = texts.backlog_growing(count, minutes)
        for chat_id in review_chats(self._settings):
            try:
                await self._bot.send_message(chat_id, text)
            except TelegramAPIError as exc:
                log.warning("a moderator could not be told about the backlog: %s", exc.message)
