"""The running application: the update path (dispatcher, middlewares, pipeline) and the
background tasks, assembled on the dependencies of the composition root
(bot.app.composition), and their lifecycle: start, polling or the webhook, stop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiogram.utils.i18n import I18n
from sqlalchemy.engine import make_url

from bot.app.backlog_watch import BacklogWatch
from bot.app.composition import Dependencies
from bot.app.config import Settings
from bot.app.scheduler import DigestScheduler
from bot.domain.clock import Clock, system_clock
from bot.ops.housekeeping import Housekeeping
from bot.telegram import outcomes
from bot.telegram.dispatching import run_sync_filters_inline
from bot.telegram.errors import FinalFailure, answer_failure
from bot.telegram.followup import FollowUpSender
from bot.telegram.language import LanguageMiddleware, menu_language_codes
from bot.telegram.middlewares import BlockedCitizens, ParticipationMiddleware, on_every_observer
from bot.telegram.moderator_language import ModeratorLanguages
from bot.telegram.outcomes import is_revoked, is_transient
from bot.telegram.periodic import Periodic, pause
from bot.telegram.pipeline import UpdatePipeline
from bot.telegram.polling import poll
from bot.telegram.resilience import (
    DEFAULT_RETRY,
    RetryPolicy,
    Revocation,
)
from bot.telegram.throttling import ThrottlingMiddleware, build_flood_gate, build_rate_limiter
from handlers import all_routers
from handlers.citizen.commands import described
from handlers.citizen.data_rights import data_rights
from handlers.citizen.texts import followup as followup_texts
from handlers.moderation import texts as moderation_texts
from handlers.moderation.desk import ModeratorDesk
from storage.db import Database
from storage.followup import SqlFollowUps
from storage.inbox import Inbox
from storage.migrate import upgrade
from storage.outage import DatabaseUnreachable, describe, is_unreachable
from storage.set_aside import SetAside
from storage.waves import SqlWaveRepository

if TYPE_CHECKING:
    from bot.telegram.metrics import Metrics  # prometheus-client: only with --metrics

log = logging.getLogger(__name__)


def citizen_commands(i18n: I18n, locale: str) -> list[BotCommand]:
    """The citizens' menu, with the command names of `locale` (handlers/citizen/commands.py)."""
    with i18n.context(), i18n.use_locale(locale):
        return [
            BotCommand(command=command.name_for(locale), description=description)
            for command, description in described()
        ]


def moderator_commands(i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.use_locale(locale):
        _ = i18n.gettext
        return [
            BotCommand(command="queue", description=_("Nächster Impuls zur Prüfung")),
            BotCommand(command="stats", description=_("Statistik")),
            BotCommand(command="export", description=_("Export als CSV und JSON")),
            BotCommand(command="phase", description=_("Beteiligung öffnen oder schließen")),
            BotCommand(command="announce", description=_("Nachricht an den Kanal")),
            BotCommand(command="digest", description=_("Digest: Vorschau und Veröffentlichung")),
            BotCommand(command="block", description=_("Autor eines Impulses sperren")),
            BotCommand(command="unblock", description=_("Sperre aufheben")),
            BotCommand(command="audit", description=_("Protokoll der Moderation")),
            BotCommand(command="merge", description=_("Doppelte Impulse zusammenführen")),
            BotCommand(
                command="rueckmeldung", description=_("Ergebnis-Nachricht an alle, die sie wollen")
            ),
        ]


def passing_failure(error: BaseException) -> bool:
    """A failure that another try later cures: the step is run again, not apologised for.
    The Bot API away for a while (bot/telegram/outcomes.py), or the database (storage/outage.py). A
    revoked token too: the process is stopping, and the step stays pending for the next start
    (with a valid token) instead of being lost."""
    return is_transient(error) or is_unreachable(error) or is_revoked(error)


def database_backoff(settings: Settings) -> BackoffConfig:
    """Pauses between attempts while the database (or the Bot API) is away: from half a
    second, with jitter, up to [database] retry_max_pause."""
    longest = settings.database.retry_max_pause
    return BackoffConfig(min_delay=min(0.5, longest / 2), max_delay=longest, factor=1.6, jitter=0.2)


@dataclass
class Application:
    settings: Settings
    database: Database
    bot: Bot
    dispatcher: Dispatcher
    pipeline: UpdatePipeline
    i18n: I18n
    scheduler: DigestScheduler
    housekeeping: Housekeeping
    followup: FollowUpSender
    clock: Clock = system_clock
    # Set when Telegram refuses the token (401): polling or the webhook then stop.
    revocation: Revocation = field(default_factory=Revocation)
    # Tells the moderators once per incident when the inbox backlog keeps growing.
    backlog_watch: BacklogWatch | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Once a minute: an outcome message another process left half sent (its lease ran out).
    _followup_watch: Periodic | None = None

    # Everything this application is made of, built once (bot.app.composition).
    dependencies: Dependencies | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        retry: RetryPolicy = DEFAULT_RETRY,
        rerun_backoff: BackoffConfig | None = None,
        metrics: Metrics | None = None,
    ) -> Application:
        """`metrics`: what `dialogbot run --metrics` serves (bot.app.observability); None
        counts nothing (and does not load prometheus-client)."""
        return cls.assemble(
            Dependencies.build(settings, clock=clock, retry=retry, metrics=metrics),
            rerun_backoff=rerun_backoff,
        )

    @classmethod
    def assemble(
        cls, deps: Dependencies, *, rerun_backoff: BackoffConfig | None = None
    ) -> Application:
        """The update path (dispatcher, middlewares, pipeline) and the background tasks, on
        the composition root's dependencies."""
        settings, clock, database = deps.settings, deps.clock, deps.database
        bot, i18n, storage = deps.bot, deps.i18n, deps.storage
        services, ratings, digests = deps.services, deps.ratings, deps.digests
        reachability, metrics = deps.reachability, deps.metrics
        limiter = build_rate_limiter(settings)  # in Redis with [scaling] redis_url, else memory
        followups = SqlFollowUps(database)
        followup_sender = FollowUpSender(
            followups,
            bot,
            i18n,
            settings,
            clock,
            deps.owner,
            render=followup_texts.outcome_message,
            report=moderation_texts.followup_report,
        )
        flood_gate = build_flood_gate(settings)  # a press flood stops before the inbox
        moderator_languages = ModeratorLanguages.build(storage, bot.id, i18n, settings)
        dispatcher = Dispatcher(
            storage=storage,
            # Registered by hand below, after throttling: aiogram's FSM middleware reads the
            # state of every update, and a flood must not reach the database at all.
            disable_fsm=True,
            settings=settings,
            clock=clock,
            database=database,
            digests=digests,
            waves=SqlWaveRepository(database),
            rate_limiter=limiter,
            flood_gate=flood_gate,
            moderator_languages=moderator_languages,
            # What citizens' handlers tell the moderators (the port of bot.domain.data_rights).
            moderators=ModeratorDesk(bot, settings, services.moderation, moderator_languages),
            followups=followups,
            followup_sender=followup_sender,
            **ratings.workflow_data(),
        )
        # First of all, before anything reads the database: a flood is dropped here.
        dispatcher.update.outer_middleware(ThrottlingMiddleware(limiter, settings.moderators, i18n))
        dispatcher.update.outer_middleware(dispatcher.fsm)
        with i18n.context():
            LanguageMiddleware(i18n, storage).setup(dispatcher)
        on_every_observer(
            dispatcher,
            ParticipationMiddleware(settings, services.participation, services.moderation, i18n),
        )
        on_every_observer(dispatcher, reachability.middleware())
        on_every_observer(dispatcher, BlockedCitizens(services.blocklist, data_rights))
        # Moderators first: the citizen routers end in a catch-all fallback.
        dispatcher.include_router(all_routers(settings))
        dispatcher.errors.register(answer_failure, FinalFailure(passing_failure))
        dispatcher.shutdown.register(ratings.consensus.close)  # a refresh in flight stops
        dispatcher.shutdown.register(limiter.close)
        dispatcher.shutdown.register(flood_gate.close)
        if settings.tuning.dispatcher:  # else aiogram runs them on worker threads, as stock
            run_sync_filters_inline(dispatcher)
        set_aside = SetAside(database)
        # One inbox under the process's one name: the pipeline's, which housekeeping trims.
        inbox = Inbox(database, deps.owner, takeover_grace=settings.database.takeover_grace)
        pipeline = UpdatePipeline(
            dispatcher,
            bot,
            inbox,
            scopes=storage.update_scope,
            retry_when=passing_failure,
            retry_backoff=rerun_backoff or database_backoff(settings),
            set_aside=set_aside,
            max_in_flight=settings.updates_in_flight,
            gate=flood_gate,
            metrics=metrics,
        )
        scheduler = DigestScheduler(digests, clock)
        housekeeping = Housekeeping(
            inbox,
            clock,
            set_aside=set_aside,
            keep_set_aside=timedelta(days=settings.privacy.set_aside_days),
        )
        return cls(
            settings,
            database,
            bot,
            dispatcher,
            pipeline,
            i18n,
            scheduler,
            housekeeping,
            followup_sender,
            clock,
            deps.revocation,
            backlog_watch=BacklogWatch(settings, database, bot, i18n, incidents=deps.incidents),
            dependencies=deps,
        )

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Wait for the database, migrate, register the command menu, and finish updates an
        earlier run left. False if `stop` was set while waiting for the database."""
        if not await self.wait_for_database(stop or asyncio.Event()):
            return False
        await self.housekeeping.run_once()
        await self._register_citizen_menus()
        await self._register_moderator_menus()
        await self.dispatcher.emit_startup(bot=self.bot)
        await self.pipeline.resume_pending()
        self.followup.kick()  # an outcome message an earlier run left half sent goes on
        return True

    async def wait_for_database(self, stop: asyncio.Event) -> bool:
        """Migrate once the database answers: one log line naming it while it does not, up to
        [database] startup_wait seconds, then DatabaseUnreachable. False if `stop` was set."""
        limit = self.settings.database.startup_wait
        name = make_url(self.settings.database_url).render_as_string(hide_password=True)
        pauses = Backoff(database_backoff(self.settings))
        deadline = asyncio.get_running_loop().time() + limit
        waiting = False
        while True:
            try:
                await upgrade(self.database)
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise DatabaseUnreachable(
                        f"the database {name} did not answer within {limit:g} s ({describe(exc)})"
                    ) from None
                if not waiting:
                    log.warning(
                        "waiting for the database %s (%s), up to %g s", name, describe(exc), limit
                    )
                    waiting = True
                if await pause(stop, min(next(pauses), remaining)):
                    return False
                continue
            if waiting:
                log.warning("the database %s answers", name)
            return True

    async def _register_citizen_menus(self) -> None:
        """The default menu in the default language, and one per client language we ship.

        A menu that the Bot API cannot take now (a transient error through all retries) is
        left as it was, with one line: the bot starts anyway, the next start sets it.
        """
        default = self.settings.default_locale
        try:
            await self.bot.set_my_commands(citizen_commands(self.i18n, default))
            for code in menu_language_codes(self.i18n.available_locales, default):
                menu = citizen_commands(self.i18n, code)
                await self.bot.set_my_commands(menu, language_code=code)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "command menus not set now (%s); the next start sets them", outcomes.describe(exc)
            )

    async def _register_moderator_menus(self) -> None:
        """Moderators see their commands in their own chat's menu; nobody else does."""
        locale = self.settings.default_locale
        menu = citizen_commands(self.i18n, locale) + moderator_commands(self.i18n, locale)
        for moderator in sorted(self.settings.moderators):
            try:
                await self.bot.set_my_commands(menu, scope=BotCommandScopeChat(chat_id=moderator))
            except (TelegramAPIError, ClientDecodeError) as exc:
                if is_revoked(exc):
                    raise
                log.info("no command menu for a moderator now: %s", outcomes.describe(exc))

    async def run_polling(self, stop: asyncio.Event) -> None:
        if not await self.start(stop):
            return
        log.info("polling %s", self.settings.api_base)
        self.start_background()
        try:
            await poll(
                self.bot,
                self.pipeline,
                stop,
                poll_seconds=self.settings.poll_seconds,
                request_timeout=self.settings.request_timeout,
                db_backoff=database_backoff(self.settings),
            )
        finally:
            # Stop taking updates, then let every update already accepted finish (or stay
            # pending for the next start, if the Bot API or the database is still away).
            self.pipeline.stop_retrying()
            await self.pipeline.wait_idle()
            await self.stop_background()

    def start_background(self) -> None:
        """The tasks next to polling or the webhook: digests and housekeeping."""
        self.scheduler.start()
        self.housekeeping.start()
        if self._followup_watch is None:
            self._followup_watch = Periodic(
                "outcome messages", self.followup.periodic_step, after_failure=60.0
            )
        self._followup_watch.start(first_pause=60.0)
        if self.backlog_watch is not None:
            self.backlog_watch.start()

    async def stop_background(self) -> None:
        await self.scheduler.stop()
        await self.housekeeping.stop()
        if self._followup_watch is not None:
            await self._followup_watch.stop()
        await self.followup.stop()
        if self.backlog_watch is not None:
            await self.backlog_watch.stop()

    async def close(self) -> None:
        await self.stop_background()
        self.pipeline.stop_retrying()
        await self.pipeline.wait_idle()
        await self.pipeline.close()
        await self.dispatcher.emit_shutdown(bot=self.bot)
        await self.bot.session.close()
        await self.database.dispose()
