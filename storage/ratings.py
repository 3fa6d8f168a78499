"""Ratings storage: each public method is one transaction. Blocked participants' ratings and
reports do not count."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult

from bot.domain.consensus import MIN_PARTICIPANTS, MIN_RATINGS, RatingMatrix
from bot.domain.impulse import ImpulseStatus
from bot.domain.participation import ParticipantStatus
from bot.domain.ratings import MERGED, REPORT_MIN_AGE, RatingCard, ReportOutcome
from bot.domain.similarity import IndexedImpulse
from storage.db import Database
from storage.models import Impulse, ImpulseReport, Participant, Rating
from storage.refreshing import Refreshing
from storage.repository import upsert_into

APPROVED, PENDING = ImpulseStatus.APPROVED.value, ImpulseStatus.PENDING.value
ACTIVE, SET_ASIDE = ParticipantStatus.ACTIVE.value, ParticipantStatus.SET_ASIDE.value


class SqlRatingRepository:
    def __init__(self, database: Database, published_ttl: float = 5.0) -> None:
        self._db = database
        # "Idee 3 von 12": the number of published ideas, read at most every few seconds (a
        # count of 20,000 index entries on every press cost more than the card itself).
        self._published = Refreshing(self._count_published, published_ttl)

    async def _count_published(self) -> int:
        async with self._db.reading() as session:
            return int(await session.scalar(_PUBLISHED) or 0)

    async def next_card(self, pseudonym: str) -> RatingCard | None:
        # The person's id is needed for the progress line too, so it is read first.
        async with self._db.reading() as session:
            me, _counts = await _rater(session, pseudonym)
            if me is None:
                return None
            row = (await session.execute(NEXT_CARD, {"me": me})).one_or_none()
            if row is None:
                return None
            return await _with_progress(session, me, row, await self._published.get())

    async def card(self, pseudonym: str, impulse_id: int) -> RatingCard | None:
        async with self._db.reading() as session:
            me = await _participant_id(session, pseudonym)
            if me is None or not await _rateable_by(session, impulse_id, me):
                return None
            row = (
                await session.execute(
                    select(Impulse.id, Impulse.topic_id, Impulse.text, Impulse.locale).where(
                        Impulse.id == impulse_id
                    )
                )
            ).one()
            return await _with_progress(session, me, row, await self._published.get())

    async def unrate(self, pseudonym: str, impulse_id: int) -> bool:
        async with self._db.transaction() as session:
            me = await _participant_id(session, pseudonym)
            if me is None:
                return False
            removed = await session.execute(
                delete(Rating).where(Rating.participant_id == me, Rating.impulse_id == impulse_id)
            )
            if _rowcount(removed) != 1:
                return False
            # The person is active (_participant_id): their rating was counted.
            await session.execute(
                update(Impulse)
                .where(Impulse.id == impulse_id)
                .values(rating_count=Impulse.rating_count - 1)
            )
            return True

    async def rate(self, pseudonym: str, impulse_id: int, value: int, now: datetime) -> bool:
        async with self._db.transaction() as session:
            me, counts = await _rater(session, pseudonym)
            if me is None or not await _rateable_by(session, impulse_id, me):
                return False
            added = await session.execute(
                upsert_into(self._db, Rating)
                .values(participant_id=me, impulse_id=impulse_id, value=value, rated_at=now)
                .on_conflict_do_nothing()
            )
            # A first rating: one more for the card order, unless the person is set aside with
            # a wave of new accounts (storage/waves.py counts it when the wave is restored).
            if _rowcount(added) == 1 and counts:
                await session.execute(
                    update(Impulse)
                    .where(Impulse.id == impulse_id)
                    .values(rating_count=Impulse.rating_count + 1)
                )
                return True
            if _rowcount(added) == 1:
                return True
            await session.execute(
                update(Rating)
                .where(Rating.participant_id == me, Rating.impulse_id == impulse_id)
                .values(value=value, rated_at=now)
            )
            return True

    async def report(
        self, pseudonym: str, impulse_id: int, reason: str, now: datetime, threshold: int
    ) -> ReportOutcome:
        async with self._db.transaction() as session:
            me = await _participant_id(session, pseudonym)
            if me is None or not await _rateable_by(session, impulse_id, me):
                return ReportOutcome(recorded=False, held=False)
            await session.execute(
                upsert_into(self._db, ImpulseReport)
                .values(participant_id=me, impulse_id=impulse_id, reason=reason, reported_at=now)
                .on_conflict_do_nothing()
            )
            open_reports = int(
                await session.scalar(
                    select(func.count())
                    .select_from(ImpulseReport)
                    .join(Participant, Participant.id == ImpulseReport.participant_id)
                    .where(
                        ImpulseReport.impulse_id == impulse_id,
                        ImpulseReport.cleared.is_(False),
                        Participant.status == ACTIVE,
                        # Accounts are cheap to make: a report counts only from someone who
                        # took part at least REPORT_MIN_AGE before (bot/domain/ratings.py).
                        Participant.consented_at <= now - REPORT_MIN_AGE,
                    )
                )
                or 0
            )
            if open_reports < threshold:
                return ReportOutcome(recorded=True, held=False)
            # Back to the moderators; the reports have done their job.
            held = await session.execute(
                update(Impulse)
                .where(Impulse.id == impulse_id, Impulse.status == APPROVED)
                .values(status=PENDING, decided_by=None, decided_at=now)
            )
            await session.execute(
                update(ImpulseReport)
                .where(ImpulseReport.impulse_id == impulse_id)
                .values(cleared=True)
            )
            return ReportOutcome(recorded=True, held=_rowcount(held) == 1)

    async def merge(
        self, duplicate: int, kept: int, moderator_id: int, now: datetime
    ) -> int | None:
        takes_part = [APPROVED, PENDING]
        async with self._db.transaction() as session:
            kept_row = (
                await session.execute(
                    select(Impulse.status, Impulse.participant_id).where(Impulse.id == kept)
                )
            ).one_or_none()
            if kept_row is None or kept_row.status not in takes_part:
                return None
            result = await session.execute(
                update(Impulse)
                .where(Impulse.id == duplicate, Impulse.status.in_(takes_part))
                .values(status=MERGED, merged_into=kept, decided_by=moderator_id, decided_at=now)
            )
            if _rowcount(result) != 1:
                return None
            supporters = select(
                Rating.participant_id, literal(kept), literal(1), literal(now, Rating.rated_at.type)
            ).where(
                Rating.impulse_id == duplicate,
                Rating.value == 1,
                # Nobody supports their own impulse by a merge.
                or_(
                    literal(kept_row.participant_id).is_(None),
                    Rating.participant_id != kept_row.participant_id,
                ),
            )
            carried = await session.execute(
                upsert_into(self._db, Rating)
                .from_select(["participant_id", "impulse_id", "value", "rated_at"], supporters)
                .on_conflict_do_nothing()
            )
            await session.execute(recount(kept))
            return _rowcount(carried)


class SqlSimilaritySource:
    """What the similarity index needs: published impulses and those no longer published,
    both by the time of the decision (index ix_impulses_status_decided)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def published_since(
        self, mark: datetime | None
    ) -> tuple[list[IndexedImpulse], list[int], datetime | None]:
        if mark is None:  # the first load reads every published impulse: off the event loop
            async with self._db.reading() as session:
                connection = await session.connection()
                return await connection.run_sync(partial(_published_since, mark=None))
        # Later ones are index range reads of the few decided since: inline, no thread hops
        # (one per statement and fetch; under load that made each typed idea wait ~100 ms).
        return await self._db.run_read(partial(_published_since, mark=mark))


def _published_since(
    connection: Connection, mark: datetime | None
) -> tuple[list[IndexedImpulse], list[int], datetime | None]:
    since = [] if mark is None else [Impulse.decided_at >= mark]
    published = connection.execute(
        select(Impulse.id, Impulse.topic_id, Impulse.text, Impulse.decided_at).where(
            Impulse.status == APPROVED, *since
        )
    ).all()
    # Every other status, spelled out: then (status, decided_at) is an index range per status.
    unpublished = [status.value for status in ImpulseStatus if status != ImpulseStatus.APPROVED]
    gone = connection.execute(
        select(Impulse.id, Impulse.decided_at).where(
            Impulse.status.in_(unpublished), Impulse.decided_at.is_not(None), *since
        )
    ).all()
    moments = [r.decided_at for r in published if r.decided_at is not None]
    moments += [r.decided_at for r in gone if r.decided_at is not None]
    return (
        [IndexedImpulse(r.id, r.topic_id, r.text) for r in published],
        [r.id for r in gone],
        max(moments, default=mark),
    )


class SqlConsensusSource:
    """The citizen × impulse rating matrix for the opinion groups (docs/ratings.md): approved
    impulses, active participants with at least `min_ratings` ratings of them. Counting is
    done by the database; the rows go straight into numpy arrays, in a worker thread."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def rating_matrix(self, min_ratings: int = MIN_RATINGS) -> RatingMatrix | None:
        """None when too few citizens rated enough to form groups (then numpy, scipy and
        scikit-learn need not be loaded at all)."""
        counted = (
            select(Rating.participant_id)
            .join(Impulse, Impulse.id == Rating.impulse_id)
            .join(Participant, Participant.id == Rating.participant_id)
            .where(Impulse.status == APPROVED, Participant.status == ACTIVE)
            .group_by(Rating.participant_id)
            .having(func.count() >= min_ratings)
            .subquery()
        )
        query = (
            select(Rating.participant_id, Rating.impulse_id, Rating.value)
            .join(counted, counted.c.participant_id == Rating.participant_id)
            .join(Impulse, Impulse.id == Rating.impulse_id)
            .where(Impulse.status == APPROVED)
        )
        async with self._db.reading() as session:
            rows = (await session.execute(query)).all()
        # Off the event loop: a large consultation has millions of ratings.
        return await asyncio.to_thread(_matrix, rows)

    async def impulses(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Topic and text of approved impulses, by id."""
        if not ids:
            return {}
        async with self._db.reading() as session:
            rows = (
                await session.execute(
                    select(Impulse.id, Impulse.topic_id, Impulse.text).where(
                        Impulse.id.in_(list(ids)), Impulse.status == APPROVED
                    )
                )
            ).all()
        return {int(r.id): (r.topic_id, r.text) for r in rows}


# The published impulse with the fewest ratings that this person has neither rated, reported nor
# written: one walk along ix_impulses_status_ratings, not a count of every rating. Each step of
# the walk is one primary-key probe into ratings and one into impulse_reports (benchmarks/
# rating_card.py prints both databases' plans).
def _next_card(me: ColumnElement[Any]) -> Select[int, str, str, str | None]:
    # OFFSET 0 keeps each check a probe per step (PostgreSQL turns a plain NOT EXISTS into an
    # anti join, and for this one chose to compare every step with the person's whole list of
    # ratings: 14.6 s per card at 2,000,000 ratings for someone who had rated every idea).
    seen = (
        select(literal(1))
        .where(Rating.participant_id == me, Rating.impulse_id == Impulse.id)
        .limit(1)
        .offset(0)
        .exists()
    )
    reported = (
        select(literal(1))
        .where(ImpulseReport.participant_id == me, ImpulseReport.impulse_id == Impulse.id)
        .limit(1)
        .offset(0)
        .exists()
    )
    return (
        select(Impulse.id, Impulse.topic_id, Impulse.text, Impulse.locale)
        .where(
            Impulse.status == APPROVED,
            or_(Impulse.participant_id.is_(None), Impulse.participant_id != me),
            ~seen,
            ~reported,
        )
        .order_by(Impulse.status, Impulse.rating_count, Impulse.id)
        .limit(1)
    )


NEXT_CARD = _next_card(bindparam("me"))


# "Idee 3 von 12": the published impulses of others, and how many of them the person rated or
# reported (by the primary keys of ratings and reports, which begin with the person).
_OTHERS = and_(
    Impulse.status == APPROVED,
    or_(Impulse.participant_id.is_(None), Impulse.participant_id != bindparam("me")),
)
# All published ideas (counted in the index alone), less the person's own published ones.
_PUBLISHED = select(func.count()).select_from(Impulse).where(Impulse.status == APPROVED)
_OWN_PUBLISHED = (
    select(func.count())
    .select_from(Impulse)
    .where(Impulse.participant_id == bindparam("me"), Impulse.status == APPROVED)
)
_RATED = (
    select(func.count())
    .select_from(Rating)
    .join(Impulse, Impulse.id == Rating.impulse_id)
    .where(Rating.participant_id == bindparam("me"), _OTHERS)
)
_REPORTED_ONLY = (
    select(func.count())
    .select_from(ImpulseReport)
    .join(Impulse, Impulse.id == ImpulseReport.impulse_id)
    .where(
        ImpulseReport.participant_id == bindparam("me"),
        _OTHERS,
        ~exists().where(
            Rating.participant_id == bindparam("me"),
            Rating.impulse_id == ImpulseReport.impulse_id,
        ),
    )
)


# The three in one statement: each statement on a reading session is a thread hop.
_PROGRESS = select(
    _OWN_PUBLISHED.scalar_subquery(),
    _RATED.scalar_subquery(),
    _REPORTED_ONLY.scalar_subquery(),
)


async def _with_progress(session: Any, me: int, row: Any, published: int) -> RatingCard:
    own, rated, reported = (await session.execute(_PROGRESS, {"me": me})).one()
    total = published - int(own or 0)
    done = int(rated or 0) + int(reported or 0)
    return RatingCard(
        row.id,
        row.topic_id,
        row.text,
        locale=row.locale,
        position=done + 1,
        total=max(total, done + 1),  # a count a few seconds old may lag behind
    )


def recount(impulse_id: int) -> Update:
    """Count one impulse's ratings by active participants anew (index ix_ratings_impulse)."""
    active = (
        select(func.count())
        .select_from(Rating)
        .join(Participant, Participant.id == Rating.participant_id)
        .where(Rating.impulse_id == impulse_id, Participant.status == ACTIVE)
        .scalar_subquery()
    )
    return update(Impulse).where(Impulse.id == impulse_id).values(rating_count=active)


async def _rateable_by(session: Any, impulse_id: int, me: int) -> bool:
    """Published, and not the person's own: a forged button cannot rate or report one's own."""
    row = (
        await session.execute(
            select(Impulse.status, Impulse.participant_id).where(Impulse.id == impulse_id)
        )
    ).one_or_none()
    return row is not None and row.status == APPROVED and row.participant_id != me


async def _rater(session: Any, pseudonym: str) -> tuple[int | None, bool]:
    """Who rates, and whether their ratings count now: active people, and people set aside with
    a wave of new accounts (stored, not counted, so a restored wave needs nothing from them)."""
    row = (
        await session.execute(
            select(Participant.id, Participant.status).where(
                and_(
                    Participant.pseudonym == pseudonym, Participant.status.in_([ACTIVE, SET_ASIDE])
                )
            )
        )
    ).one_or_none()
    return (None, False) if row is None else (int(row.id), row.status == ACTIVE)


async def _participant_id(session: Any, pseudonym: str) -> int | None:
    value = await session.scalar(
        select(Participant.id).where(
            and_(Participant.pseudonym == pseudonym, Participant.status == ACTIVE)
        )
    )
    return int(value) if value is not None else None


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _matrix(rows: Sequence[Sequence[int]]) -> RatingMatrix | None:
    if len({row[0] for row in rows}) < MIN_PARTICIPANTS:
        return None
    return RatingMatrix.from_triples(rows)
