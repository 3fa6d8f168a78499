"""Result digests, posted to the channel exactly once per period. No aiogram, no SQL.

Every digest is a row in an outbox (storage/digests.py), keyed by its period, written before
and after sending:

    draft ──(moderator: post now)──┐
    (period due) ──────────────> pending ──> sending ──> sent
                                   │  └──(unchanged, when_unchanged = "skip")──> skipped
                                   └──(a newer period is due, nothing sent yet)──> superseded

- Claim: a process takes a row with one conditional UPDATE that also sets a lease
  (`lease_until`); of two processes sharing the database exactly one wins, and a holder that
  died is replaced once its lease ran out.
- Compose once: the first holder stores the figures and the composed texts in the row, so every
  retry (by any process) posts the same digest.
- Each part (the chart with its caption, then any further messages, and last the opinion
  chart with its caption when there are opinion groups) is marked in flight before the request
  and its Telegram message id is recorded as soon as Telegram answers.
- A Telegram error (429, 5xx, timeout, disconnect) releases the row with a backoff (429: the
  `retry_after` Telegram gave); it stays pending until Telegram accepted every part.

The unavoidable window: Telegram accepted a part, but the process died before recording its
message id. The next holder finds that part still marked in flight and does NOT send it again:
a duplicate in a public channel is worse than a missing chart, and the window is the few
milliseconds between Telegram's answer and one UPDATE. It logs a warning, records the part as
unknown (null id) and sends the parts after it. A request that failed visibly (an error or a
broken connection) is retried instead: the digest must not be skipped, and Telegram offers no
idempotency key, so a timeout after Telegram in fact accepted the part can still duplicate that
part (never the whole period).

After downtime only the latest due period is posted (`DigestSchedule.latest_due`, recorded in
the outbox under its period key, which posts it once), with its real bounds; its window reaches
back to the previous digest, so nothing is left out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.domain.consensus import ConsensusView
from bot.domain.digest_figures import (
    ChartSpec,
    DigestContent,
    DigestFacts,
    DigestFigures,
    OpinionChartSpec,
    QuotedImpulse,
)
from bot.domain.digest_schedule import DigestSchedule, Period
from bot.domain.standings import Standings

log = logging.getLogger(__name__)

MAX_QUOTED_IMPULSES = 3


class DigestStatus(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"


OPEN = (DigestStatus.PENDING, DigestStatus.SENDING)
COMPLETED = (DigestStatus.SENT, DigestStatus.SKIPPED)


class PostOutcome(StrEnum):
    POSTED = "posted"
    SKIPPED = "skipped"  # nothing changed and the config says skip
    RETRYING = "retrying"  # Telegram did not accept it yet; it stays pending
    IN_PROGRESS = "in_progress"  # another process (or press) holds it
    ALREADY_POSTED = "already_posted"
    OUTDATED = "outdated"  # a newer digest exists
    NOT_FOUND = "not_found"
    NO_CHANNEL = "no_channel"


@dataclass(frozen=True)
class DigestRecord:
    id: int
    key: str
    start: datetime
    end: datetime
    status: DigestStatus
    figures: DigestFigures | None
    content: DigestContent | None
    message_ids: tuple[int | None, ...]
    inflight: int | None
    attempts: int


class DigestOutbox(Protocol):
    async def ensure_due(self, period: Period, now: datetime) -> None:
        """Record the period unless it or a newer digest is recorded; supersede older
        pending digests that sent nothing yet."""
        ...

    async def claimable(self, now: datetime) -> list[int]: ...

    async def next_attempt(self, now: datetime) -> datetime | None: ...

    async def claim(
        self, digest_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> DigestRecord | None: ...

    async def previous(
        self, end: datetime, exclude_id: int | None, *, posted_only: bool = False
    ) -> DigestRecord | None:
        """The latest sent (or skipped) digest ending at or before `end`."""
        ...

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
        """Store what will be posted; content None means skipped."""
        ...

    async def mark_inflight(
        self, digest_id: int, owner: str, part: int, lease_until: datetime
    ) -> bool: ...

    async def record_parts(
        self,
        digest_id: int,
        owner: str,
        message_ids: list[int | None],
        *,
        done: bool,
        now: datetime,
    ) -> bool: ...

    async def release(
        self, digest_id: int, owner: str, *, not_before: datetime, error: str
    ) -> None: ...

    async def create_draft(
        self,
        key: str,
        *,
        start: datetime,
        end: datetime,
        figures: DigestFigures,
        content: DigestContent,
        now: datetime,
    ) -> DigestRecord: ...

    async def promote_draft(
        self, digest_id: int, moderator_id: int | None, now: datetime
    ) -> PostOutcome | None:
        """Draft → pending (audited), or why not; None when promoted."""
        ...


class DigestFactsSource(Protocol):
    async def new_participants(self, start: datetime, end: datetime) -> int: ...

    async def participants_by_channel(self) -> dict[str, int]:
        """Counted participants per channel ("telegram", "web")."""
        ...

    async def approved_impulses(
        self, start: datetime, end: datetime, limit: int
    ) -> tuple[int, list[QuotedImpulse]]: ...


class StandingsSource(Protocol):
    async def standings(self) -> Standings: ...


class PublishError(Exception):
    """Telegram did not accept a part. `transient`: worth retrying soon. `operator`: only an
    operator can fix it (the kind of problem, e.g. "no_rights": the bot is no administrator of
    the channel); the moderators are told once."""

    def __init__(
        self,
        reason: str,
        *,
        transient: bool = True,
        retry_after: float | None = None,
        operator: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.transient = transient and operator is None
        self.retry_after = retry_after
        self.operator = operator


class Publisher(Protocol):
    """The channel; returns Telegram's message id, raises PublishError."""

    async def send_photo(self, png: bytes, caption: str) -> int: ...

    async def send_text(self, html: str) -> int: ...


Composer = Callable[[DigestFacts], DigestContent]
Renderer = Callable[[ChartSpec], bytes]
OpinionRenderer = Callable[[OpinionChartSpec], bytes]
LinkSource = Callable[[], Awaitable[str]]
Alert = Callable[[str], Awaitable[None]]  # tells the moderators what the operator must fix
ConsensusReading = Callable[[], ConsensusView | None]  # the latest cached result, at once


@dataclass(frozen=True)
class DigestPolicy:
    skip_unchanged: bool = True  # else a short "no change" post
    # Longer than one part can take, the session's own retries included (bot.telegram.resilience: up
    # to 5 tries of 60 s plus waits); after a crash the digest waits this long for a new holder.
    lease: timedelta = timedelta(minutes=10)
    first_retry: timedelta = timedelta(seconds=5)
    max_retry: timedelta = timedelta(minutes=10)

    def backoff(self, attempts: int, error: PublishError) -> timedelta:
        if error.retry_after is not None:
            return timedelta(seconds=error.retry_after)
        if not error.transient:
            return self.max_retry
        return min(self.first_retry * (1 << min(max(attempts - 1, 0), 16)), self.max_retry)


@dataclass(frozen=True)
class DigestPorts:
    """What the digest service is wired to."""

    outbox: DigestOutbox
    facts: DigestFactsSource
    standings: StandingsSource
    schedule: DigestSchedule
    composer: Composer
    renderer: Renderer
    link: LinkSource
    publisher: Publisher | None  # None: no channel configured
    policy: DigestPolicy = field(default_factory=DigestPolicy)
    consensus: ConsensusReading | None = None  # None: no opinion-group section
    opinion_renderer: OpinionRenderer | None = None  # needed when a digest has opinion groups
    alert: Alert | None = None  # None: nobody to tell (e.g. `dialogbot digest --post`)


class DigestService:
    def __init__(self, ports: DigestPorts, owner: str) -> None:
        self._p = ports
        self._owner = owner  # this process, in the lease
        # Problems the moderators were told about (PublishError.operator), until a digest
        # goes out again: told once, not at every retry.
        self._told: set[str] = set()

    @property
    def schedule(self) -> DigestSchedule:
        return self._p.schedule

    @property
    def has_channel(self) -> bool:
        return self._p.publisher is not None

    async def run_due(self, now: datetime) -> list[PostOutcome]:
        """Record the due period, then deliver whatever is claimable (also retries)."""
        if self._p.publisher is None:
            return []
        await self._p.outbox.ensure_due(self._p.schedule.latest_due(now), now)
        return [await self.deliver(i, now) for i in await self._p.outbox.claimable(now)]

    async def next_attempt(self, now: datetime) -> datetime | None:
        return await self._p.outbox.next_attempt(now)

    async def compose_now(self, now: datetime) -> tuple[DigestFacts, DigestContent]:
        """The digest as it would be posted now: since the last one (or this period's start).
        Always the full digest: a moderator asking for it wants to see it."""
        start = await self._window_start(now, None, self._p.schedule.latest_due(now).end)
        facts = await self._facts(start, now, now, None)
        return facts, self._p.composer(facts)

    async def preview(self, now: datetime) -> DigestRecord:
        """Compose now and keep it as a draft, so "post now" posts exactly what was shown."""
        facts, content = await self.compose_now(now)
        key = "manual-" + now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return await self._p.outbox.create_draft(
            key, start=facts.start, end=now, figures=facts.figures, content=content, now=now
        )

    async def post_draft(
        self, digest_id: int, moderator_id: int | None, now: datetime
    ) -> PostOutcome:
        if self._p.publisher is None:
            return PostOutcome.NO_CHANNEL
        refused = await self._p.outbox.promote_draft(digest_id, moderator_id, now)
        return refused if refused is not None else await self.deliver(digest_id, now)

    async def chart_png(self, content: DigestContent) -> bytes | None:
        if content.chart is None:
            return None
        # Rendering takes a few hundred milliseconds of CPU: keep the event loop free.
        return await asyncio.to_thread(self._p.renderer, content.chart)

    async def opinion_png(self, content: DigestContent) -> bytes | None:
        """The second chart (agreement per opinion group), off the event loop like the first."""
        if content.opinions is None:
            return None
        renderer = self._p.opinion_renderer
        if renderer is None:
            raise RuntimeError("the digest has an opinion chart but no opinion renderer is wired")
        return await asyncio.to_thread(renderer, content.opinions)

    async def part_png(self, content: DigestContent, index: int) -> bytes | None:
        """The image posted with part `index` as its caption; None when that part is a text."""
        if index == 0 and content.chart is not None:
            return await self.chart_png(content)
        if index == content.opinion_part:
            return await self.opinion_png(content)
        return None

    # -- delivery ------------------------------------------------------------

    async def deliver(self, digest_id: int, now: datetime) -> PostOutcome:
        """Claim a pending digest and post what is left of it (or learn who holds it)."""
        lease_until = now + self._p.policy.lease
        record = await self._p.outbox.claim(digest_id, self._owner, now, lease_until)
        if record is None:
            return PostOutcome.IN_PROGRESS
        try:
            if record.content is None:
                composed = await self._compose_due(record, now)
                if isinstance(composed, PostOutcome):
                    return composed
                record = composed
            return await self._send(record, now)
        except PublishError as exc:
            return await self._retry_later(record, now, exc)
        except Exception as exc:
            log.exception("digest %s failed; retrying later", record.key)
            return await self._retry_later(record, now, PublishError(repr(exc)))

    async def _compose_due(self, record: DigestRecord, now: datetime) -> DigestRecord | PostOutcome:
        """First holder of a due period: take the figures now and store the composed digest."""
        start = await self._window_start(record.end, record.id, record.start)
        facts = await self._facts(start, record.end, now, record.id)
        unchanged = facts.figures.unchanged_since(facts.previous)
        skip = unchanged and self._p.policy.skip_unchanged
        content = None if skip else self._p.composer(replace(facts, short=unchanged))
        if not await self._p.outbox.save_composition(
            record.id, self._owner, start=start, figures=facts.figures, content=content, now=now
        ):
            return PostOutcome.IN_PROGRESS  # our lease ran out; the new holder carries on
        if content is None:
            log.info("digest %s skipped: nothing changed since the last one", record.key)
            return PostOutcome.SKIPPED
        return replace(record, start=start, figures=facts.figures, content=content)

    async def _window_start(
        self, end: datetime, exclude_id: int | None, first: datetime
    ) -> datetime:
        """A digest covers the time since the previous one (posted or skipped as unchanged)."""
        previous = await self._p.outbox.previous(end, exclude_id)
        return previous.end if previous else first

    async def _facts(
        self, start: datetime, end: datetime, now: datetime, exclude_id: int | None
    ) -> DigestFacts:
        """Figures at `now` (as `dialogbot export` shows them), news within [start, end), and
        the figures readers saw last, for the trends."""
        previous = await self._p.outbox.previous(end, exclude_id, posted_only=True)
        standings = await self._p.standings.standings()
        new = await self._p.facts.new_participants(start, end)
        channels = await self._p.facts.participants_by_channel()
        approved, quoted = await self._p.facts.approved_impulses(start, end, MAX_QUOTED_IMPULSES)
        return DigestFacts(
            start=start,
            end=end,
            figures=DigestFigures.from_standings(
                standings, as_of=now, new_participants=new, approved=approved, channels=channels
            ),
            previous=previous.figures if previous else None,
            impulses=tuple(quoted),
            link=await self._p.link(),
            consensus=self._p.consensus() if self._p.consensus is not None else None,
        )

    async def _send(self, record: DigestRecord, now: datetime) -> PostOutcome:
        content = record.content
        assert content is not None
        parts = len(content.parts)
        sent = list(record.message_ids)
        if record.inflight is not None and record.inflight == len(sent):
            log.warning(
                "digest %s: part %d was in flight when its process stopped; not sending it "
                "again (it may be missing from the channel)",
                record.key,
                record.inflight,
            )
            sent.append(None)
            await self._p.outbox.record_parts(
                record.id, self._owner, sent, done=len(sent) == parts, now=now
            )
        for index in range(len(sent), parts):
            lease_until = now + self._p.policy.lease
            if not await self._p.outbox.mark_inflight(record.id, self._owner, index, lease_until):
                return PostOutcome.IN_PROGRESS
            sent.append(await self._publish(content, index))
            if not await self._p.outbox.record_parts(
                record.id, self._owner, sent, done=len(sent) == parts, now=now
            ):
                # Our lease ran out mid-request and another process took over: it treats this
                # part as in doubt and sends the rest; sending more here would double them.
                log.warning("digest %s: lease lost while sending; stopping", record.key)
                return PostOutcome.IN_PROGRESS
        log.info("digest %s posted: %d message(s)", record.key, parts)
        self._told.clear()
        return PostOutcome.POSTED

    async def _publish(self, content: DigestContent, index: int) -> int:
        publisher = self._p.publisher
        assert publisher is not None
        png = await self.part_png(content, index)
        if png is not None:
            return await publisher.send_photo(png, content.parts[index])
        return await publisher.send_text(content.parts[index])

    async def _retry_later(
        self, record: DigestRecord, now: datetime, error: PublishError
    ) -> PostOutcome:
        delay = self._p.policy.backoff(record.attempts, error)
        if error.operator is not None:
            await self._operator_must_act(record, error, delay)
        else:
            level = logging.WARNING if error.transient else logging.ERROR
            log.log(level, "digest %s not accepted (%s); retry in %s", record.key, error, delay)
        await self._p.outbox.release(
            record.id, self._owner, not_before=now + delay, error=str(error)[:200]
        )
        return PostOutcome.RETRYING

    async def _operator_must_act(
        self, record: DigestRecord, error: PublishError, delay: timedelta
    ) -> None:
        """One clear line and one message to the moderators per problem; the digest stays
        pending and is tried again after `delay`, quietly, until the operator fixed it."""
        problem = error.operator
        assert problem is not None
        if problem in self._told:
            log.debug("digest %s still refused (%s); retry in %s", record.key, error, delay)
            return
        self._told.add(problem)
        log.error(
            "digest %s cannot be posted until an operator acts (%s: %s); it stays pending and "
            "is tried again every %s",
            record.key,
            problem,
            error,
            delay,
        )
        if self._p.alert is None:
            return
        try:
            await self._p.alert(problem)
        except Exception as exc:  # the digest must stay pending whatever the alert does
            log.warning("the moderators could not be told: %s", exc)
