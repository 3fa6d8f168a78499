"""The web chat composed with the rest of the bot: `dialogbot web`, `dialogbot run --web`,
`dialogbot demo --web`, and the invite codes of `dialogbot web invites N`."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.app.config import Settings
from bot.app.ratings import RatingsFeature
from bot.app.runtime import Application
from bot.app.services import Services
from bot.domain.participation import Erasure
from bot.web.app import build_app
from bot.web.identity import invite_hash, new_invite_code
from handlers.moderation.cards import erase_cards, post_review_cards
from storage.db import Database
from storage.web import WebInvites

log = logging.getLogger(__name__)


class WebAddressError(ValueError):
    pass


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WebAddressError(f"--web/--listen must be host:port, such as 127.0.0.1:8081: {value}")
    return host.strip("[]"), int(port)


def web_app_for(app: Application) -> web.Application:
    """The web chat beside the bot: one database, one set of rules; a new idea gets its review
    cards in the moderators' chats, and an erasure takes them away, as in Telegram."""
    settings = app.settings
    services = (
        app.dependencies.services
        if app.dependencies is not None
        else Services.build(settings, app.database)
    )
    ratings = (
        app.dependencies.ratings
        if app.dependencies is not None
        else RatingsFeature.build(settings, app.database, clock=app.clock)
    )
    languages = app.dispatcher["moderator_languages"]

    async def on_impulse(impulse_id: int) -> None:
        await post_review_cards(
            app.bot, settings, services.moderation, languages, impulse_id, missing_only=True
        )

    async def on_erasure(plan: Erasure) -> None:
        await erase_cards(app.bot, settings, services.moderation, languages, plan)

    return build_app(
        settings,
        app.database,
        services.participation,
        app.i18n,
        blocklist=services.blocklist,
        ratings=ratings.ratings,
        similar_impulses=ratings.similar,
        clock=app.clock,
        on_impulse=on_impulse,
        on_erasure=on_erasure,
    )


class WebServer:
    """The web chat on its own address, started and stopped beside the bot."""

    def __init__(self, app: Application, listen: str) -> None:
        self.host, self.port = parse_listen(listen)
        self._app = app
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        public = self._app.settings.web.public_url
        return public or f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        self._runner = web.AppRunner(web_app_for(self._app), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("web chat on http://%s:%d/", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve_web(app: Application, listen: str, stop: asyncio.Event) -> None:
    """`dialogbot web`: migrate, then serve the web chat until `stop`."""
    if not await app.wait_for_database(stop):
        return
    server = WebServer(app, listen)
    await server.start()
    print(f"Web-Chat: {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


async def make_invites(settings: Settings, count: int) -> list[str]:
    """`dialogbot web invites N`: N new one-use codes; only their keyed hashes are stored."""
    from bot.domain.clock import system_clock
    from storage.migrate import upgrade

    database = Database.for_settings(settings)
    try:
        await upgrade(database)
        codes = [new_invite_code() for _ in range(count)]
        await WebInvites(database).add(
            (invite_hash(code, settings.secret) for code in codes), system_clock()
        )
    finally:
        await database.dispose()
    return codes
