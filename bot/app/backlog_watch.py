"""Tells the moderators in Telegram, once per incident, when the inbox backlog keeps growing
(bot.domain.backlog): every minute one count of the updates waiting and the age of the
oldest. With the incident log (bot.domain.incidents) the incident is also kept in the database,
so a restart or a second instance, which sees the same backlog, does not tell it again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from bot.app.config import Settings
from bot.domain.backlog import BacklogIncident
from bot.domain.incidents import BACKLOG, Incidents
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
        incidents: Incidents | None = None,
    ) -> None:
        self._settings, self._database, self._bot, self._i18n = settings, database, bot, i18n
        self.incident = BacklogIncident(threshold_seconds)
        self._incidents = incidents
        # An incident may be open in the log (told by this or another process, or before a
        # restart) until a look finds the backlog young again, which ends it there once.
        self._maybe_open = True
        self._task = Periodic("inbox backlog watch", self.check, after_failure=EVERY_SECONDS)

    def start(self) -> None:
        self._task.start(first_pause=EVERY_SECONDS)

    async def stop(self) -> None:
        await self._task.stop()

    async def check(self) -> float:
        count, oldest = await observability.inbox_backlog(self._database)
        now = datetime.now(UTC)
        age = 0.0 if oldest is None else (now - oldest).total_seconds()
        if self.incident.observe(count, age):
            log.warning("inbox backlog growing: %d waiting, the oldest for %.0f s", count, age)
            self._maybe_open = True
            if self._incidents is None or await self._incidents.tell_first(BACKLOG, now):
                await self._tell(count, int(age // 60))
        elif age <= self.incident.threshold and self._maybe_open:
            if self._incidents is not None:
                await self._incidents.success(BACKLOG)
            self._maybe_open = False
        return EVERY_SECONDS

    async def _tell(self, count: int, minutes: int) -> None:
        with self._i18n.context(), self._i18n.use_locale(self._settings.moderation_language):
            text = texts.backlog_growing(count, minutes)
        for chat_id in review_chats(self._settings):
            try:
                await self._bot.send_message(chat_id, text)
            except TelegramAPIError as exc:
                log.warning("a moderator could not be told about the backlog: %s", exc.message)
