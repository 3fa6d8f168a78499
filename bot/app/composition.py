"""The composition root: one frozen set of dependencies, built from the settings in one place.

`dialogbot run` (polling or the webhook), `dialogbot digest --post`, the demo, the terminal
chat and the tests all start here, so every one of them talks to the Bot API through the same
`Bot`: its session retries what passes (bot.telegram.resilience), marks people who blocked the
bot, stops on a revoked token, and counts for /metrics when asked to. `bot.app.runtime`
assembles the update path (dispatcher, middlewares, pipeline) and the background tasks on top.

Real Telegram and the emulator are the same code path; only `settings.api_base` and the token
differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import DEFAULT_DESTINY
from aiogram.utils.i18n import I18n

from bot.app.config import Settings
from bot.app.digest_wiring import build_digests, moderator_alert
from bot.app.ratings import RatingsFeature
from bot.app.services import Services
from bot.domain.clock import Clock, system_clock
from bot.domain.digests import DigestService
from bot.domain.incidents import Incidents
from bot.domain.pseudonym import keyed_hash
from bot.telegram.client import CommitBeforeSending, KeepResponseModels, ReadWhatWasSent
from bot.telegram.i18n import build_i18n
from bot.telegram.language import LOCALE_DESTINY
from bot.telegram.reachability import Reachability
from bot.telegram.resilience import (
    DEFAULT_RETRY,
    ForbiddenChats,
    RetryPolicy,
    RetryRequests,
    Revocation,
    RevokedToken,
    SettledCalls,
)
from bot.telegram.session import bot_api_session
from storage.db import Database
from storage.fsm import SqlStorage
from storage.inbox import instance_name
from storage.incidents import SqlIncidentLog
from storage.reachability import ReplyAddresses

if TYPE_CHECKING:
    from bot.telegram.metrics import Metrics  # prometheus-client: only with --metrics


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    clock: Clock
    database: Database
    i18n: I18n
    bot: Bot
    # Set when Telegram refuses the token (401): polling or the webhook then stop.
    revocation: Revocation
    reachability: Reachability
    storage: SqlStorage  # the conversation state (aiogram's FSM) and each person's language
    services: Services
    ratings: RatingsFeature
    # Told once per incident (a digest that cannot be posted), across restarts and instances.
    incidents: Incidents
    digests: DigestService
    # This process's one name: in the inbox (and its liveness lock), the digest outbox's and
    # the outcome message's leases.
    owner: str
    metrics: Metrics | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        retry: RetryPolicy = DEFAULT_RETRY,
        metrics: Metrics | None = None,
    ) -> Dependencies:
        """Nothing connects yet: the database and the Bot API are first asked when used.
        `metrics`: what `dialogbot run --metrics` serves (bot.app.observability); None counts
        nothing (and does not load prometheus-client)."""
        database = Database.for_settings(settings)
        i18n = build_i18n(settings.default_locale)
        reachability = Reachability(ReplyAddresses(database), settings.secret)
        revocation = Revocation()
        storage = SqlStorage(
            database,
            lambda key: keyed_hash(key, settings.secret),
            prefetch=(DEFAULT_DESTINY, LOCALE_DESTINY),
        )
        bot = build_bot(settings, retry, metrics, revocation, reachability, storage)
        services = Services.build(settings, database)
        ratings = RatingsFeature.build(settings, database, clock=clock)
        services.moderation.attach_similarity(ratings.similar_ids)
        incidents = Incidents(SqlIncidentLog(database))
        owner = instance_name()
        digests = build_digests(
            settings,
            database,
            i18n,
            services.participation,
            bot,
            consensus=ratings.consensus,
            alert=moderator_alert(bot, settings, i18n, incidents, clock),
            incidents=incidents,
            clock=clock,
            owner=owner,
        )
        return cls(
            settings=settings,
            clock=clock,
            database=database,
            i18n=i18n,
            bot=bot,
            revocation=revocation,
            reachability=reachability,
            storage=storage,
            services=services,
            ratings=ratings,
            incidents=incidents,
            digests=digests,
            owner=owner,
            metrics=metrics,
        )

    async def close(self) -> None:
        """For a command that used only these (`dialogbot digest`); a running bot closes
        them in `Application.close`."""
        await self.bot.session.close()
        await self.database.dispose()


def build_bot(
    settings: Settings,
    retry: RetryPolicy,
    metrics: Metrics | None,
    revocation: Revocation,
    reachability: Reachability,
    storage: SqlStorage,
) -> Bot:
    """The one Bot, with its session's middlewares from the outermost to the innermost."""
    bot = Bot(
        token=settings.require_token(),
        # JSON requests, answers read as far as the bot reads them ([tuning] lean_session).
        session=bot_api_session(settings),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    bot.session.middleware(KeepResponseModels())
    bot.session.middleware(RevokedToken(revocation))
    bot.session.middleware(RetryRequests(retry, metrics))
    bot.session.middleware(ForbiddenChats(reachability.forbidden))
    # A replayed update's second answer to a button press, or an edit already shown, is done.
    bot.session.middleware(SettledCalls())
    bot.session.middleware(CommitBeforeSending(storage.flush_current))
    # Innermost: an answer that says "done" but does not fully read is still "done".
    bot.session.middleware(ReadWhatWasSent())
    return bot
