"""The composition root: builds the bot, dispatcher, middlewares and pipeline from settings.

Real Telegram and the emulator are the same code path; only `settings.api_base` and the token
differ.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware

from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.domain.pseudonym import keyed_hash
from bot.i18n import build_i18n
from bot.middlewares import ParticipationMiddleware, on_every_observer
from bot.pipeline import UpdatePipeline
from bot.polling import poll
from bot.services import Services
from handlers import citizen_router
from handlers.moderation import moderator_router
from storage.db import Database
from storage.fsm import SqlStorage
from storage.inbox import Inbox
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def citizen_commands(i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.use_locale(locale):
        _ = i18n.gettext
        return [
            BotCommand(command="start", description=_("Mitmachen oder Ihre Wahl ansehen")),
            BotCommand(command="meinvotum", description=_("Ihre Wahl ansehen und ändern")),
            BotCommand(command="hilfe", description=_("Hilfe und Datenschutz")),
            BotCommand(command="meinedaten", description=_("Ihre gespeicherten Daten als Datei")),
            BotCommand(command="loeschen", description=_("Ihre Daten löschen")),
        ]


@dataclass
class Application:
    settings: Settings
    database: Database
    bot: Bot
    dispatcher: Dispatcher
    pipeline: UpdatePipeline
    i18n: I18n
    clock: Clock = system_clock
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock = system_clock) -> Application:
        database = Database(settings.database_url)
        i18n = build_i18n(settings.default_locale)
        bot = Bot(
            token=settings.require_token(),
            session=AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base)),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        storage = SqlStorage(database, lambda key: keyed_hash(key, settings.secret))
        dispatcher = Dispatcher(storage=storage, settings=settings, clock=clock)
        with i18n.context():
            SimpleI18nMiddleware(i18n).setup(dispatcher)
        services = Services.build(settings, database)
        on_every_observer(dispatcher, ParticipationMiddleware(settings, services, i18n))
        # Moderators first: the citizen routers end in a catch-all fallback.
        dispatcher.include_routers(moderator_router(settings), citizen_router())
        pipeline = UpdatePipeline(dispatcher, bot, Inbox(database))
        return cls(settings, database, bot, dispatcher, pipeline, i18n, clock)

    async def start(self) -> None:
        """Migrate, register the command menu, and finish updates an earlier run left."""
        await upgrade(self.database)
        await self.bot.set_my_commands(citizen_commands(self.i18n, self.settings.default_locale))
        await self.dispatcher.emit_startup(bot=self.bot)
        await self.pipeline.resume_pending()

    async def run_polling(self, stop: asyncio.Event) -> None:
        await self.start()
        log.info("polling %s", self.settings.api_base)
        try:
            await poll(self.bot, self.pipeline, stop)
        finally:
            # Stop taking updates, then let every update already accepted finish.
            await self.pipeline.wait_idle()

    async def close(self) -> None:
        await self.pipeline.wait_idle()
        await self.dispatcher.emit_shutdown(bot=self.bot)
        await self.bot.session.close()
        await self.database.dispose()
