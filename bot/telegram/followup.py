"""Sends the outcome message to the people who asked for it, paced, from the outbox in
storage/followup.py (the rules: bot/domain/followup.py).

`kick()` starts a drain in the background (on "Senden", at every start, and once a minute
next to polling for a send another process left behind); it claims each message being sent
with a lease, sends its pending deliveries one by one at `RATE` a second, and reports to the
moderator's chat when all are done. Each delivery is recorded "sending" before the call and
"sent" after it: a crash in between leaves it in doubt, and it is not sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.utils.i18n import I18n

from bot.domain.clock import Clock
from bot.domain.followup import BATCH, LEASE, DeliveryStatus, Pacer, Recipient, Summary
from bot.domain.settings import Settings
from bot.telegram import outcomes
from bot.telegram.outcomes import Outcome
from storage.followup import SqlFollowUps

log = logging.getLogger(__name__)

OVERLOAD_PAUSE = 1.0  # seconds after Telegram refused a message as overloaded


class FollowUpSender:
    def __init__(
        self,
        store: SqlFollowUps,
        bot: Bot,
        i18n: I18n,
        settings: Settings,
        clock: Clock,
        owner: str,
        *,
        render: Callable[[str], str],
        report: Callable[[Summary], str],
        pacer: Callable[[], Pacer] = Pacer,
        overload_pause: float = OVERLOAD_PAUSE,
    ) -> None:
        self._store = store
        self._bot = bot
        self._i18n = i18n
        self._settings = settings
        self._clock = clock
        self._owner = owner
        # The texts (handlers/citizen/texts/followup.py, handlers/moderation/followup.py),
        # rendered in the locale set around the call.
        self._render_text = render
        self._report_text = report
        self._pacer = pacer
        self._overload_pause = overload_pause
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._stopping = False

    def kick(self) -> None:
        """Send whatever is open, in the background; a kick during a drain runs it again."""
        if self._stopping:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._drain_until_quiet(), name="followup")

    async def periodic_step(self) -> float:
        self.kick()
        return 60.0

    async def wait_idle(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Let the delivery in flight finish, then stop (the rest waits for the next start)."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            await task
        self._stopping = False

    async def abandon(self) -> None:
        """Cancel at once, as a crash would (tests)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain_until_quiet(self) -> None:
        while True:
            self._again = False
            try:
                await self.drain()
            except Exception:
                log.exception("the outcome message could not be sent now; later again")
            if not self._again or self._stopping:
                return

    async def drain(self) -> list[Summary]:
        """Send every open message this process can claim; the summaries of those finished."""
        done = []
        for message_id in await self._store.open_messages(self._clock()):
            if self._stopping:
                break
            summary = await self._send(message_id)
            if summary is not None:
                done.append(summary)
        return done

    async def _send(self, message_id: int) -> Summary | None:
        if not await self._store.claim(message_id, self._owner, self._clock(), self._lease()):
            return None
        draft = await self._store.draft(message_id)
        if draft is None:
            return None
        pacer = self._pacer()
        try:
            while not self._stopping:
                batch = await self._store.next_batch(message_id, self._owner, BATCH, self._lease())
                if not batch:
                    break
                for recipient in batch:
                    if self._stopping:
                        break
                    await pacer.wait()
                    await self._deliver(message_id, draft.text, recipient)
            summary = await self._store.finish(message_id, self._owner, self._clock())
        except Exception:
            # Free for the next try at once; a crash (or a cancel) leaves the lease to run out.
            await self._store.release(message_id, self._owner)
            raise
        if summary is None:
            await self._store.release(message_id, self._owner)
            return None
        await self._report(summary)
        return summary

    async def _deliver(self, message_id: int, text: str, recipient: Recipient) -> None:
        if not await self._store.begin_delivery(message_id, recipient.participant_id):
            return
        status = DeliveryStatus.SENT
        try:
            await self._bot.send_message(recipient.chat_id, self._render(text, recipient.locale))
        except (TelegramAPIError, ClientDecodeError) as exc:
            outcome = outcomes.classify(exc)
            if isinstance(exc, TelegramRetryAfter | TelegramServerError):
                # Telegram took nothing: the delivery is tried again (up to MAX_ATTEMPTS).
                log.warning("an outcome message was not taken: %s", outcomes.describe(exc))
                await self._store.overloaded(message_id, recipient.participant_id)
                await asyncio.sleep(self._overload_pause)
                return
            if outcome is Outcome.UNREADABLE:
                status = DeliveryStatus.SENT  # Telegram said ok: it went out
            elif outcome is Outcome.PERSON_GONE:
                # Marked unreachable by bot.telegram.resilience already.
                status = DeliveryStatus.GONE
            elif outcome is Outcome.TRANSIENT:
                # A timeout or a dropped connection: it may have gone out. In doubt: not again.
                log.warning("an outcome message may not have arrived: %s", outcomes.describe(exc))
                return
            else:
                log.warning("an outcome message failed: %s", outcomes.describe(exc))
                status = DeliveryStatus.FAILED
        await self._store.end_delivery(message_id, recipient.participant_id, status, self._clock())

    def _render(self, text: str, locale: str) -> str:
        with self._i18n.context(), self._i18n.use_locale(self._locale(locale)):
            return self._render_text(text)

    def _locale(self, locale: str) -> str:
        return locale if locale in self._i18n.available_locales else self._settings.default_locale

    async def _report(self, summary: Summary) -> None:
        if summary.chat_id is None:
            return
        with self._i18n.context(), self._i18n.use_locale(self._settings.moderation_language):
            report = self._report_text(summary)
        try:
            await self._bot.send_message(summary.chat_id, report)
        except (TelegramAPIError, ClientDecodeError) as exc:
            log.warning("the moderator could not be told: %s", outcomes.describe(exc))

    def _lease(self) -> datetime:
        return self._clock() + LEASE
