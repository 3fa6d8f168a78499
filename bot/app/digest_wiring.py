"""Builds the digest service from settings: one place for the bot, the CLI and the demo."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from bot.app.config import Settings
from bot.digest.compose import DigestComposer, render_png
from bot.digest.opinion_chart import render_opinion_chart
from bot.digest.publisher import TelegramPublisher, bot_link, deep_link
from bot.domain.clock import Clock, system_clock
from bot.domain.consensus import ConsensusView
from bot.domain.digest_schedule import DigestSchedule
from bot.domain.digests import Alert, DigestPolicy, DigestPorts, DigestService, StandingsSource
from bot.domain.incidents import DIGEST, Incidents, Tell, WatchedOutbox
from storage.db import Database
from storage.digests import SqlDigestFacts, SqlDigestOutbox
from storage.inbox import instance_name


def build_digests(
    settings: Settings,
    database: Database,
    i18n: I18n,
    standings: StandingsSource,
    bot: Bot | None,
    *,
    consensus: ConsensusLatest | None = None,
    alert: Alert | None = None,
    incidents: Incidents | None = None,
    clock: Clock = system_clock,
    owner: str | None = None,
) -> DigestService:
    """Without a bot (a dry run without token) nothing is posted and the link is a placeholder.
    With `consensus` (the opinion groups' cache) the digest has the section "Worauf sich alle
    einigen" whenever a result exists. With `incidents` (and a bot), failed attempts in a row
    are counted and the moderators told once per incident (bot.domain.incidents). `owner`: the
    process's name for the outbox's lease (the composition root's; a new one when None)."""
    ports = digest_ports(settings, database, i18n, standings, bot)
    if consensus is not None:
        ports = replace(ports, consensus=consensus.latest)
    if alert is not None:
        ports = replace(ports, alert=alert)
    if incidents is not None and bot is not None:
        tell = moderators_told(bot, settings, i18n)
        ports = replace(ports, outbox=WatchedOutbox(ports.outbox, incidents, tell, clock))
    return DigestService(ports, owner or instance_name())


def moderator_alert(
    bot: Bot,
    settings: Settings,
    i18n: I18n,
    incidents: Incidents | None = None,
    clock: Clock = system_clock,
) -> Alert:
    """Tells the moderators (their group, or each of them) what the operator must fix for the
    channel: `DigestService` calls it once per problem, and with `incidents` nobody else told
    them about this incident yet."""
    from handlers.moderation import texts

    async def alert(problem: str) -> None:
        if incidents is not None and not await incidents.tell_first(DIGEST, clock()):
            log.info("the moderators were already told that the digest cannot be posted")
            return
        with i18n.context(), i18n.use_locale(settings.moderation_language):
            text = texts.digest_refused(settings.channel_chat or "", problem)
        await _tell(bot, settings, text)

    return alert


def moderators_told(bot: Bot, settings: Settings, i18n: I18n) -> Tell:
    """Tells the moderators that Telegram did not take the digest `failures` times in a row."""
    from handlers.moderation import texts

    async def tell(failures: int) -> None:
        with i18n.context(), i18n.use_locale(settings.moderation_language):
            text = texts.digest_failing(failures)
        await _tell(bot, settings, text)

    return tell


async def _tell(bot: Bot, settings: Settings, text: str) -> None:
    from handlers.moderation.cards import review_chats

    for chat_id in review_chats(settings):
        try:
            await bot.send_message(chat_id, text)
        except TelegramAPIError as exc:
            log.warning("a moderator could not be told about the digest: %s", exc.message)


log = logging.getLogger(__name__)


class ConsensusLatest(Protocol):
    def latest(self) -> ConsensusView | None: ...


def digest_ports(
    settings: Settings,
    database: Database,
    i18n: I18n,
    standings: StandingsSource,
    bot: Bot | None,
) -> DigestPorts:
    channel = settings.channel_chat
    publisher = TelegramPublisher(bot, channel) if bot is not None and channel else None
    link: Callable[[], Awaitable[str]] = (
        partial(bot_link, bot) if bot is not None else partial(_placeholder_link)
    )
    composer = DigestComposer(
        settings.consultation,
        i18n,
        locale=settings.digest_locale,
        timezone=settings.digest_timezone,
    )
    return DigestPorts(
        outbox=SqlDigestOutbox(database),
        facts=SqlDigestFacts(database),
        standings=standings,
        schedule=DigestSchedule(settings.digest_schedule, settings.digest_timezone),
        composer=composer.compose,
        renderer=render_png,
        opinion_renderer=render_opinion_chart,
        link=link,
        publisher=publisher,
        policy=DigestPolicy(skip_unchanged=settings.digest_when_unchanged == "skip"),
    )


async def _placeholder_link() -> str:
    return deep_link(None)
