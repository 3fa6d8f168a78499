"""Incidents the moderators hear of in Telegram: at most once each. No aiogram, no SQL.

An incident of one kind (the digest that cannot be posted, the inbox backlog that keeps
growing) opens with the first failure in a row and ends with the next success. The moderators
are told once per incident: for the digest when the failures in a row reach a threshold, or
earlier by whoever has the more precise message (the digest's "the bot is no administrator of
the channel", bot.domain.digests); for the backlog when bot.domain.backlog says so; and not
again until the incident ended. The log is kept in the database (storage/incidents.py), so
neither a restart nor a second instance tells them a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.clock import Clock
from bot.domain.digest_figures import DigestContent, DigestFigures
from bot.domain.digest_schedule import Period
from bot.domain.digests import DigestOutbox, DigestRecord, PostOutcome

log = logging.getLogger(__name__)

DIGEST = "digest"
BACKLOG = "backlog"  # the inbox backlog keeps growing (bot.domain.backlog decides when)
# Failed attempts in a row before the moderators hear that the digest cannot be posted. An
# attempt already includes the session's own retries (up to 5 tries, 60 s of waiting), and the
# outbox waits 5, 10, 20, 40 s between attempts: five in a row are minutes of a Bot API that
# does not take the post, not a passing hiccup.
DIGEST_FAILURES_TO_TELL = 5


class IncidentLog(Protocol):
    async def failed(self, kind: str, now: datetime) -> int:
        """Record one failure; the failures in a row, this one included."""
        ...

    async def mark_told(self, kind: str, now: datetime) -> bool:
        """True for the first caller in the open incident (one is opened if none is), False
        when the moderators were already told about it."""
        ...

    async def ended(self, kind: str) -> bool:
        """Close the incident; True if the moderators had been told about it."""
        ...


@dataclass(frozen=True)
class Incidents:
    log: IncidentLog
    threshold: int = DIGEST_FAILURES_TO_TELL

    async def failure(self, kind: str, now: datetime) -> int | None:
        """One more failure: the failures in a row when the moderators are to be told now,
        else None."""
        failures = await self.log.failed(kind, now)
        if failures < self.threshold:
            return None
        return failures if await self.log.mark_told(kind, now) else None

    async def tell_first(self, kind: str, now: datetime) -> bool:
        """True when nobody told the moderators about this incident yet (and now counts as
        told)."""
        return await self.log.mark_told(kind, now)

    async def success(self, kind: str) -> None:
        if await self.log.ended(kind):
            log.warning("%s incident over: it works again", kind)


Tell = Callable[[int], Awaitable[None]]  # tells the moderators: failures in a row


class WatchedOutbox:
    """The digest outbox, reporting each failed attempt (a release) and each digest posted
    whole (the last part recorded) to the incident log; the rest is passed through."""

    def __init__(
        self, outbox: DigestOutbox, incidents: Incidents, tell: Tell, clock: Clock
    ) -> None:
        self._outbox, self._incidents, self._tell, self._clock = outbox, incidents, tell, clock

    async def release(
        self, digest_id: int, owner: str, *, not_before: datetime, error: str
    ) -> None:
        await self._outbox.release(digest_id, owner, not_before=not_before, error=error)
        try:
            failures = await self._incidents.failure(DIGEST, self._clock())
            if failures is not None:
                log.error("digest not accepted %d times in a row; moderators told", failures)
                await self._tell(failures)
        except Exception as exc:  # the digest stays pending whatever the alert does
            log.warning("the moderators could not be told about the digest: %s", exc)

    async def record_parts(
        self,
        digest_id: int,
        owner: str,
        message_ids: list[int | None],
        *,
        done: bool,
        now: datetime,
    ) -> bool:
        recorded = await self._outbox.record_parts(
            digest_id, owner, message_ids, done=done, now=now
        )
        if recorded and done:
            try:
                await self._incidents.success(DIGEST)
            except Exception as exc:  # posted is posted; the next post ends the incident
                log.warning("the digest incident could not be closed: %s", exc)
        return recorded

    # -- passed through --------------------------------------------------------------------

    async def ensure_due(self, period: Period, now: datetime) -> None:
        await self._outbox.ensure_due(period, now)

    async def claimable(self, now: datetime) -> list[int]:
        return await self._outbox.claimable(now)

    async def next_attempt(self, now: datetime) -> datetime | None:
        return await self._outbox.next_attempt(now)

    async def claim(
        self, digest_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> DigestRecord | None:
        return await self._outbox.claim(digest_id, owner, now, lease_until)

    async def previous(
        self, end: datetime, exclude_id: int | None, *, posted_only: bool = False
    ) -> DigestRecord | None:
        return await self._outbox.previous(end, exclude_id, posted_only=posted_only)

    async def save_composition(
        self,
        digest_id: int,
        owner: str,
        *,
        start: datetime,
        figures: DigestFigures,
        content: DigestContent | None,
        now: datetime,
    ) -> bool:
        return await self._outbox.save_composition(
            digest_id, owner, start=start, figures=figures, content=content, now=now
        )

    async def mark_inflight(
        self, digest_id: int, owner: str, part: int, lease_until: datetime
    ) -> bool:
        return await self._outbox.mark_inflight(digest_id, owner, part, lease_until)

    async def create_draft(
        self,
        key: str,
        *,
        start: datetime,
        end: datetime,
        figures: DigestFigures,
        content: DigestContent,
        now: datetime,
    ) -> DigestRecord:
        return await self._outbox.create_draft(
            key, start=start, end=end, figures=figures, content=content, now=now
        )

    async def promote_draft(
        self, digest_id: int, moderator_id: int | None, now: datetime
    ) -> PostOutcome | None:
        return await self._outbox.promote_draft(digest_id, moderator_id, now)
