"""Waves of new accounts (bot/domain/waves.py): new participants by hour and by source for
/stats, and setting a wave aside or restoring it.

A participant set aside gets `wave_id` and, if active, the status "set_aside": every count of
active participants leaves them out (standings, results, digests, opinion groups, reports). The
vote tallies (storage/tallies.py) count every participant and the standings subtract those who
are not active, so no vote tally changes; `impulses.rating_count` counts ratings of active
participants only and is shifted here, in the same transaction as the status and the audit
entry. Blocked participants in the window are marked too but stay blocked; unblocked while
their wave is set aside, they are set aside (storage/moderation.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, and_, cast, func, literal_column, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.participation import ParticipantStatus
from bot.domain.waves import Arrivals, WaveRecord, WaveState, WaveWindow
from storage.db import Database
from storage.models import AuditEntry, Impulse, Participant, Rating, Wave

ACTIVE, SET_ASIDE = ParticipantStatus.ACTIVE.value, ParticipantStatus.SET_ASIDE.value


def in_window(source: str, start: datetime, end: datetime) -> Any:
    return and_(
        Participant.source == source,
        Participant.consented_at >= start,
        Participant.consented_at < end,
        Participant.wave_id.is_(None),
    )


def _hour_of(sqlite: bool, since: datetime) -> Any:
    """The whole hours from `since` to a participant's consent, computed by the database."""
    epoch = int(since.timestamp())
    if sqlite:
        seconds = cast(func.strftime("%s", Participant.consented_at), Integer)
    else:
        seconds = cast(func.floor(func.extract("epoch", Participant.consented_at)), Integer)
    return (seconds - epoch) // 3600


def arrivals_by_hour(sqlite: bool, since: datetime) -> Select[Any]:
    """New participants per hour since `since` (index ix_participants_consented_at)."""
    hour = _hour_of(sqlite, since).label("hour")
    return select(hour, func.count()).where(Participant.consented_at >= since).group_by(hour)


def arrivals_by_source(since: datetime, top: int) -> Select[str | None, int]:
    """The `top` sources of new participants since `since` (ix_participants_consented_source)."""
    return (
        select(Participant.source, func.count())
        .where(Participant.consented_at >= since)
        .group_by(Participant.source)
        .order_by(func.count().desc(), Participant.source)
        .limit(top)
    )


class SqlWaveRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def arrivals(self, since: datetime, top: int) -> Arrivals:
        async with self._db.reading() as session:
            by_hour = await session.execute(arrivals_by_hour(self._db.is_sqlite, since))
            by_source = await session.execute(arrivals_by_source(since, top))
            return Arrivals(
                since=since,
                by_hour={int(h): int(n) for h, n in by_hour},
                by_source=[(s, int(n)) for s, n in by_source],
            )

    async def propose(self, window: WaveWindow, now: datetime) -> WaveRecord:
        """A preview: what setting the window aside would affect, kept as a proposed wave so the
        button (which carries only its id) sets aside exactly the window shown."""
        chosen = in_window(window.source, window.start, window.end)
        async with self._db.transaction() as session:
            people = int(await session.scalar(select(func.count()).where(chosen)) or 0)
            ideas = int(
                await session.scalar(
                    select(func.count())
                    .select_from(Impulse)
                    .where(Impulse.participant_id.in_(select(Participant.id).where(chosen)))
                )
                or 0
            )
            wave = Wave(
                source=window.source,
                starts_at=window.start,
                ends_at=window.end,
                state=WaveState.PROPOSED.value,
                participants=people,
                impulses=ideas,
                created_at=now,
                changed_at=now,
            )
            session.add(wave)
            await session.flush()
            return _record(wave)

    async def set_aside(self, wave_id: int, moderator_id: int, now: datetime) -> WaveRecord | None:
        """Set a proposed wave aside: all of it or nothing, audited. None if it is not proposed
        (any more): the first of two taps wins."""
        async with self._db.transaction() as session:
            wave = await _claim(session, wave_id, WaveState.PROPOSED, WaveState.SET_ASIDE, now)
            if wave is None:
                return None
            await session.execute(
                update(Participant)
                .where(in_window(wave.source, wave.starts_at, wave.ends_at))
                .values(wave_id=wave.id)
            )
            await session.execute(shift_rating_counts(wave.id, ACTIVE, -1))
            await session.execute(
                update(Participant)
                .where(Participant.wave_id == wave.id, Participant.status == ACTIVE)
                .values(status=SET_ASIDE)
            )
            people = int(
                await session.scalar(select(func.count()).where(Participant.wave_id == wave.id))
                or 0
            )
            ideas = int(
                await session.scalar(
                    select(func.count())
                    .select_from(Impulse)
                    .join(Participant, Participant.id == Impulse.participant_id)
                    .where(Participant.wave_id == wave.id)
                )
                or 0
            )
            wave.participants, wave.impulses = people, ideas
            _audit(session, moderator_id, "wave_set_aside", wave, now)
            return _record(wave)

    async def cancel(self, wave_id: int, now: datetime) -> bool:
        async with self._db.transaction() as session:
            return (
                await _claim(session, wave_id, WaveState.PROPOSED, WaveState.CANCELLED, now)
            ) is not None

    async def restore(self, wave_id: int, moderator_id: int, now: datetime) -> WaveRecord | None:
        """Its participants count again (blocked ones stay blocked), audited. None if the wave
        is not set aside (any more)."""
        async with self._db.transaction() as session:
            wave = await _claim(session, wave_id, WaveState.SET_ASIDE, WaveState.RESTORED, now)
            if wave is None:
                return None
            await session.execute(shift_rating_counts(wave.id, SET_ASIDE, +1))
            await session.execute(
                update(Participant)
                .where(Participant.wave_id == wave.id, Participant.status == SET_ASIDE)
                .values(status=ACTIVE)
            )
            await session.execute(
                update(Participant).where(Participant.wave_id == wave.id).values(wave_id=None)
            )
            _audit(session, moderator_id, "wave_restore", wave, now)
            return _record(wave)

    async def recent(self, limit: int) -> list[WaveRecord]:
        """Waves set aside or restored, newest first."""
        decided = Wave.state.in_([WaveState.SET_ASIDE.value, WaveState.RESTORED.value])
        async with self._db.reading() as session:
            waves = await session.scalars(
                select(Wave).where(decided).order_by(Wave.id.desc()).limit(limit)
            )
            return [_record(w) for w in waves]


async def _claim(
    session: AsyncSession, wave_id: int, expected: WaveState, to: WaveState, now: datetime
) -> Wave | None:
    """Move the wave from `expected` to `to` with one conditional UPDATE (the first tap wins)."""
    result = await session.execute(
        update(Wave)
        .where(Wave.id == wave_id, Wave.state == expected.value)
        .values(state=to.value, changed_at=now)
    )
    if not (isinstance(result, CursorResult) and result.rowcount == 1):
        return None
    return await session.get(Wave, wave_id, populate_existing=True)


def shift_rating_counts(wave_id: int, status: str, by: int) -> Any:
    """Each impulse rated by the wave's participants of `status` counts their ratings `by`
    times more: one set-based UPDATE over the index on ratings.impulse_id."""
    members = select(Participant.id).where(
        Participant.wave_id == wave_id, Participant.status == status
    )
    theirs = (
        select(func.count())
        .select_from(Rating)
        .where(Rating.impulse_id == Impulse.id, Rating.participant_id.in_(members))
        .correlate(Impulse)
        .scalar_subquery()
    )
    rated = select(Rating.impulse_id).where(Rating.participant_id.in_(members))
    return (
        update(Impulse)
        .where(Impulse.id.in_(rated))
        .values(rating_count=Impulse.rating_count + literal_column(str(by)) * theirs)
    )


def _audit(
    session: AsyncSession, moderator_id: int, action: str, wave: Wave, now: datetime
) -> None:
    session.add(
        AuditEntry(
            at=now,
            moderator_id=moderator_id,
            action=action,
            target=f"wave:{wave.id}",
            detail=(
                f"{wave.source} {wave.starts_at.isoformat()}–{wave.ends_at.isoformat()}: "
                f"{wave.participants} participants, {wave.impulses} impulses"
            ),
        )
    )


def _record(wave: Wave) -> WaveRecord:
    return WaveRecord(
        id=wave.id,
        source=wave.source,
        start=wave.starts_at,
        end=wave.ends_at,
        state=WaveState(wave.state),
        participants=wave.participants,
        impulses=wave.impulses,
        changed_at=wave.changed_at,
    )
