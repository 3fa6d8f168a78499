"""Digest storage: the outbox (one row per period, claimed with a lease) and the counts a digest
reports. Each public method is one transaction; the states are explained in bot/domain/digests.py.

Claims and state changes are conditional UPDATEs (`WHERE owner = :me`, `WHERE lease_until <=
:now`), which SQLite (BEGIN IMMEDIATE) and PostgreSQL (row locks) both apply atomically: of two
processes, exactly one changes the row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.digest_figures import DigestContent, DigestFigures, QuotedImpulse
from bot.domain.digest_schedule import Period
from bot.domain.digests import COMPLETED, OPEN, DigestRecord, DigestStatus, PostOutcome
from bot.domain.impulse import ImpulseStatus
from bot.domain.participation import ParticipantStatus
from bot.domain.redaction import MASK, TOKEN_PATTERN
from storage.db import Database
from storage.exports import participants_by_channel
from storage.models import AuditEntry, Digest, Impulse, Participant, Vote
from storage.repository import upsert_into

ACTIVE = ParticipantStatus.ACTIVE.value
POST_ACTION = "digest_post"


class SqlDigestOutbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def ensure_due(self, period: Period, now: datetime) -> None:
        async with self._db.reading() as session:
            if await session.scalar(select(_recorded(period))):
                return  # the usual case on every tick: no write transaction
        async with self._db.transaction() as session:
            if await session.scalar(select(_recorded(period))):
                return
            await _supersede_older(session, period.end, now)
            # ON CONFLICT: two PostgreSQL processes may both get here; one row results.
            await session.execute(
                upsert_into(self._db, Digest)
                .values(
                    period_key=period.key,
                    period_start=period.start,
                    period_end=period.end,
                    status=DigestStatus.PENDING.value,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["period_key"])
            )

    async def claimable(self, now: datetime) -> list[int]:
        async with self._db.reading() as session:
            ids = await session.scalars(
                select(Digest.id)
                .where(_status_in(*OPEN), _free(now))
                .order_by(Digest.period_end, Digest.id)
            )
            return list(ids)

    async def next_attempt(self, now: datetime) -> datetime | None:
        """When an open digest may be tried next (`now` if one is free already)."""
        async with self._db.reading() as session:
            open_rows, held, earliest = (
                await session.execute(
                    select(
                        func.count(), func.count(Digest.lease_until), func.min(Digest.lease_until)
                    )
                    .select_from(Digest)
                    .where(_status_in(*OPEN))
                )
            ).one()
        if open_rows > held:
            return now
        return earliest if isinstance(earliest, datetime) else None

    async def claim(
        self, digest_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> DigestRecord | None:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(Digest)
                .where(Digest.id == digest_id, _status_in(*OPEN), _free(now))
                .values(owner=owner, lease_until=lease_until, attempts=Digest.attempts + 1)
            )
            if _rowcount(result) != 1:
                return None
            row = await session.get(Digest, digest_id, populate_existing=True)
            return _record(row) if row else None

    async def previous(
        self, end: datetime, exclude_id: int | None, *, posted_only: bool = False
    ) -> DigestRecord | None:
        statuses = (DigestStatus.SENT,) if posted_only else COMPLETED
        async with self._db.reading() as session:
            row = await session.scalar(
                select(Digest)
                .where(_status_in(*statuses), Digest.period_end <= end)
                .where(Digest.id != exclude_id if exclude_id is not None else true())
                .order_by(Digest.period_end.desc(), Digest.id.desc())
                .limit(1)
            )
            return _record(row) if row else None

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
        values: dict[str, Any] = {"period_start": start, "figures": figures.to_json()}
        if content is None:
            values.update(status=DigestStatus.SKIPPED.value, owner=None, lease_until=None)
            values.update(sent_at=now)
        else:
            values["content"] = content.to_json()
        return await self._update_owned(digest_id, owner, values)

    async def mark_inflight(
        self, digest_id: int, owner: str, part: int, lease_until: datetime
    ) -> bool:
        values = {
            "inflight": part,
            "lease_until": lease_until,
            "status": DigestStatus.SENDING.value,
        }
        return await self._update_owned(digest_id, owner, values)

    async def record_parts(
        self,
        digest_id: int,
        owner: str,
        message_ids: list[int | None],
        *,
        done: bool,
        now: datetime,
    ) -> bool:
        values: dict[str, Any] = {"message_ids": json.dumps(message_ids), "inflight": None}
        if done:
            values.update(status=DigestStatus.SENT.value, sent_at=now, owner=None)
            values.update(lease_until=None, last_error=None)
        return await self._update_owned(digest_id, owner, values)

    async def release(
        self, digest_id: int, owner: str, *, not_before: datetime, error: str
    ) -> None:
        # An aiohttp error can carry the request URL, bot token included: never stored.
        error = TOKEN_PATTERN.sub(MASK, error)[:200]
        values = {"owner": None, "lease_until": not_before, "inflight": None, "last_error": error}
        await self._update_owned(digest_id, owner, values)

    async def _update_owned(self, digest_id: int, owner: str, values: dict[str, Any]) -> bool:
        """Change the row only while this process holds it."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(Digest).where(Digest.id == digest_id, Digest.owner == owner).values(values)
            )
            return _rowcount(result) == 1

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
        async with self._db.transaction() as session:
            await session.execute(
                upsert_into(self._db, Digest)
                .values(
                    period_key=key,
                    period_start=start,
                    period_end=end,
                    status=DigestStatus.DRAFT.value,
                    figures=figures.to_json(),
                    content=content.to_json(),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["period_key"])
            )
            # Two previews in the same second share one draft: show the stored one.
            row = (await session.scalars(select(Digest).where(Digest.period_key == key))).one()
            return _record(row)

    async def promote_draft(
        self, digest_id: int, moderator_id: int | None, now: datetime
    ) -> PostOutcome | None:
        async with self._db.transaction() as session:
            row = await session.get(Digest, digest_id)
            if row is None:
                return PostOutcome.NOT_FOUND
            if row.status != DigestStatus.DRAFT.value:
                return _why_not_draft(row.status)
            newer = await session.scalar(
                select(
                    exists().where(
                        _status_in(*OPEN, *COMPLETED), Digest.period_end >= row.period_end
                    )
                )
            )
            if newer:
                return PostOutcome.OUTDATED
            # Conditional, so of two moderators pressing at once on PostgreSQL one promotes.
            promoted = await session.execute(
                update(Digest)
                .where(Digest.id == digest_id, Digest.status == DigestStatus.DRAFT.value)
                .values(status=DigestStatus.PENDING.value)
            )
            if _rowcount(promoted) != 1:
                return PostOutcome.IN_PROGRESS
            await _supersede_older(session, row.period_end, now)
            if moderator_id is not None:
                session.add(
                    AuditEntry(
                        at=now, moderator_id=moderator_id, action=POST_ACTION, target=row.period_key
                    )
                )
            return None


class SqlDigestFacts:
    """The counts a digest reports, in SQL over indexed columns."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def new_participants(self, start: datetime, end: datetime) -> int:
        """Counted participants (active, with a vote set) who joined within [start, end)."""
        has_vote = exists().where(Vote.participant_id == Participant.id)
        async with self._db.reading() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Participant)
                .where(
                    Participant.status == ACTIVE,
                    Participant.consented_at >= start,
                    Participant.consented_at < end,
                    has_vote,
                )
            )
            return int(count or 0)

    async def participants_by_channel(self) -> dict[str, int]:
        return await participants_by_channel(self._db)

    async def approved_impulses(
        self, start: datetime, end: datetime, limit: int
    ) -> tuple[int, list[QuotedImpulse]]:
        """How many impulses were approved within [start, end), and the latest `limit` of them
        (topic and text only: nothing that could identify the author)."""
        approved = and_(
            Impulse.status == ImpulseStatus.APPROVED.value,
            Impulse.decided_at >= start,
            Impulse.decided_at < end,
        )
        async with self._db.reading() as session:
            total = await session.scalar(select(func.count()).select_from(Impulse).where(approved))
            rows = await session.execute(
                select(Impulse.topic_id, Impulse.text)
                .where(approved)
                .order_by(Impulse.decided_at.desc(), Impulse.id.desc())
                .limit(limit)
            )
            return int(total or 0), [QuotedImpulse(topic, text) for topic, text in rows]


async def _supersede_older(session: AsyncSession, end: datetime, now: datetime) -> None:
    """Older pending digests that sent nothing and nobody holds give way to the newer one (its
    window starts at the last digest posted, so it covers theirs)."""
    await session.execute(
        update(Digest)
        .where(
            _status_in(*OPEN),
            Digest.period_end < end,
            Digest.message_ids == "[]",
            Digest.inflight.is_(None),
            or_(Digest.owner.is_(None), Digest.lease_until <= now),
        )
        .values(status=DigestStatus.SUPERSEDED.value, owner=None, lease_until=None)
    )


def _status_in(*statuses: DigestStatus) -> ColumnElement[bool]:
    return Digest.status.in_([s.value for s in statuses])


def _recorded(period: Period) -> Any:
    """This period, or a newer digest, is recorded already (drafts do not count)."""
    return exists().where(
        or_(
            Digest.period_key == period.key,
            and_(_status_in(*OPEN, *COMPLETED), Digest.period_end >= period.end),
        )
    )


def _free(now: datetime) -> ColumnElement[bool]:
    """Nobody holds the row and no backoff is running."""
    return or_(Digest.lease_until.is_(None), Digest.lease_until <= now)


def _why_not_draft(status: str) -> PostOutcome:
    if status in (DigestStatus.SENT.value, DigestStatus.SKIPPED.value):
        return PostOutcome.ALREADY_POSTED
    if status == DigestStatus.SUPERSEDED.value:
        return PostOutcome.OUTDATED
    return PostOutcome.IN_PROGRESS


def _record(row: Digest) -> DigestRecord:
    return DigestRecord(
        id=row.id,
        key=row.period_key,
        start=row.period_start,
        end=row.period_end,
        status=DigestStatus(row.status),
        figures=DigestFigures.from_json(row.figures) if row.figures else None,
        content=DigestContent.from_json(row.content) if row.content else None,
        message_ids=tuple(json.loads(row.message_ids)),
        inflight=row.inflight,
        attempts=row.attempts,
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
