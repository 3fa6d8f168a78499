"""Moderation storage. A decision is one conditional UPDATE: of two moderators deciding at once,
exactly one changes the row; the other sees who decided already."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult

from bot.domain.impulse import ImpulseStatus
from bot.domain.moderation import (
    AnswerStatus,
    ImpulseCard,
    Recipient,
    Stats,
)
from bot.domain.participation import ParticipantStatus
from storage.db import Database
from storage.models import (
    AuditEntry,
    Impulse,
    ImpulseReport,
    Participant,
    ReplyAddress,
    ReviewCard,
)
from storage.repository import shift_rating_counts
from storage.settings import BlockList, PhaseCache, SettingsStore

BLOCKED = ParticipantStatus.BLOCKED.value
ACTIVE, SET_ASIDE = ParticipantStatus.ACTIVE.value, ParticipantStatus.SET_ASIDE.value


class SqlModerationRepository:
    def __init__(
        self, database: Database, timezone: str, phase: PhaseCache, blocklist: BlockList
    ) -> None:
        self._db = database
        self._zone = ZoneInfo(timezone)
        self._settings = SettingsStore(database)
        # Caches this instance keeps; a change made here is visible here at once.
        self._phase = phase
        self._blocklist = blocklist

    async def card(self, impulse_id: int) -> ImpulseCard | None:
        # After every submission: a point read, inline (no reader thread to queue for).
        async with self._db.lookup() as session:
            row = (
                await session.execute(
                    select(Impulse, Participant.status)
                    .outerjoin(Participant, Participant.id == Impulse.participant_id)
                    .where(Impulse.id == impulse_id)
                )
            ).one_or_none()
            if row is None:
                return None
            impulse, author_status = row
            reports: tuple[tuple[str, int], ...] = ()
            if impulse.status == ImpulseStatus.PENDING.value:
                # Held back by citizens' reports (storage.ratings): which reasons, how often.
                counted = await session.execute(
                    select(ImpulseReport.reason, func.count())
                    .where(ImpulseReport.impulse_id == impulse_id, ImpulseReport.cleared.is_(True))
                    .group_by(ImpulseReport.reason)
                    .order_by(func.count().desc(), ImpulseReport.reason)
                )
                reports = tuple((str(reason), int(n)) for reason, n in counted)
        return ImpulseCard(
            id=impulse.id,
            topic_id=impulse.topic_id,
            text=impulse.text,
            status=impulse.status,
            source=impulse.source,
            created_at=impulse.created_at,
            decided_by=impulse.decided_by,
            reject_reason=impulse.reject_reason,
            answer_status=impulse.answer_status,
            answer_text=impulse.answer_text,
            author_blocked=author_status == BLOCKED,
            has_author=impulse.participant_id is not None,
            reports=reports,
        )

    async def decide(
        self,
        impulse_id: int,
        *,
        allowed_from: frozenset[ImpulseStatus],
        to: ImpulseStatus,
        moderator_id: int,
        reason: str | None,
        now: datetime,
    ) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(Impulse)
                .where(
                    Impulse.id == impulse_id, Impulse.status.in_([s.value for s in allowed_from])
                )
                .values(
                    status=to.value, decided_by=moderator_id, decided_at=now, reject_reason=reason
                )
            )
            return _rowcount(result) == 1

    async def author_of(self, impulse_id: int) -> Recipient | None:
        async with self._db.reading() as session:
            row = (
                await session.execute(
                    select(ReplyAddress.chat_id, Participant.locale)
                    .join(Participant, Participant.id == ReplyAddress.participant_id)
                    .join(Impulse, Impulse.participant_id == Participant.id)
                    .where(Impulse.id == impulse_id, ReplyAddress.reachable.is_(True))
                )
            ).one_or_none()
        return Recipient(chat_id=row.chat_id, locale=row.locale) if row else None

    async def set_answer(
        self, impulse_id: int, status: AnswerStatus, text: str, now: datetime
    ) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(Impulse)
                .where(Impulse.id == impulse_id)
                .values(answer_status=status.value, answer_text=text or None, answered_at=now)
            )
            return _rowcount(result) == 1

    async def set_author_blocked(self, impulse_id: int, blocked: bool) -> bool:
        async with self._db.transaction() as session:
            author = (
                await session.execute(
                    select(Participant.id, Participant.status, Participant.wave_id)
                    .join(Impulse, Impulse.participant_id == Participant.id)
                    .where(Impulse.id == impulse_id)
                )
            ).one_or_none()
            if author is None:
                return False
            # Unblocked while their wave is set aside (storage/waves.py): set aside again.
            target = BLOCKED if blocked else (SET_ASIDE if author.wave_id else ACTIVE)
            if author.status != target and (blocked or author.status == BLOCKED):
                await session.execute(
                    update(Participant).where(Participant.id == author.id).values(status=target)
                )
                # Their ratings stop (or start again) counting for the rating cards.
                counted = int(target == ACTIVE) - int(author.status == ACTIVE)
                if counted:
                    await session.execute(shift_rating_counts(author.id, counted))
        self._blocklist.forget()
        return True

    async def oldest_pending(self) -> tuple[ImpulseCard | None, int]:
        pending = Impulse.status == ImpulseStatus.PENDING.value
        async with self._db.reading() as session:
            count = int(await session.scalar(select(func.count()).where(pending)) or 0)
            first = await session.scalar(
                select(Impulse.id).where(pending).order_by(Impulse.created_at, Impulse.id).limit(1)
            )
        return (await self.card(first) if first is not None else None), count

    async def stats(self, now: datetime) -> Stats:
        local_midnight = now.astimezone(self._zone).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        voted = Participant.voted_at.is_not(None)
        async with self._db.reading() as session:
            total, today, week = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(Participant.voted_at >= local_midnight),
                        func.count().filter(Participant.voted_at >= now - timedelta(days=7)),
                    ).where(voted, Participant.status == ACTIVE)
                )
            ).one()
            by_status = await session.execute(
                select(Impulse.status, func.count()).group_by(Impulse.status)
            )
            sources = await session.execute(
                select(func.coalesce(Participant.source, "–"), func.count())
                .where(voted)
                .group_by(Participant.source)
                .order_by(func.count().desc())
            )
            channels = await session.execute(
                select(Participant.channel, func.count())
                .where(voted, Participant.status == ACTIVE)
                .group_by(Participant.channel)
            )
            return Stats(
                channels={str(channel): int(n) for channel, n in channels},
                participants_total=int(total),
                participants_today=int(today),
                participants_week=int(week),
                impulses_by_status={status: int(n) for status, n in by_status},
                sources=[(str(source), int(n)) for source, n in sources],
            )

    async def audit(
        self,
        *,
        moderator_id: int,
        action: str,
        target: str | None,
        detail: str | None,
        now: datetime,
    ) -> int:
        async with self._db.transaction() as session:
            entry = AuditEntry(
                at=now, moderator_id=moderator_id, action=action, target=target, detail=detail
            )
            session.add(entry)
            await session.flush()
            return entry.id

    async def audit_entry(self, entry_id: int) -> dict[str, Any] | None:
        async with self._db.reading() as session:
            entry = await session.get(AuditEntry, entry_id)
            return _audit_dict(entry) if entry else None

    async def recent_audit(self, limit: int) -> list[dict[str, Any]]:
        async with self._db.reading() as session:
            entries = await session.scalars(
                select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return [_audit_dict(e) for e in entries]

    async def set_setting(self, key: str, value: str, now: datetime) -> None:
        await self._settings.set(key, value, now)
        self._phase.forget()

    async def remember_card(self, impulse_id: int, chat_id: int, message_id: int) -> None:
        async with self._db.transaction() as session:
            session.add(ReviewCard(impulse_id=impulse_id, chat_id=chat_id, message_id=message_id))

    async def card_copies(self, impulse_id: int) -> list[tuple[int, int]]:
        async with self._db.reading() as session:
            rows = await session.execute(
                select(ReviewCard.chat_id, ReviewCard.message_id).where(
                    ReviewCard.impulse_id == impulse_id
                )
            )
            return [(int(chat), int(message)) for chat, message in rows]


def _audit_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "moderator_id": entry.moderator_id,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
