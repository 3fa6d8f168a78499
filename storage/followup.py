"""The outcome message's storage (bot/domain/followup.py): who asked for it, the messages and
one delivery row per message and person. Each public method is one transaction; claims and
changes of state are conditional UPDATEs, so of two processes exactly one changes a row (as
in storage/digests.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.engine import CursorResult

from bot.domain.followup import (
    DeliveryStatus,
    Draft,
    MessageStatus,
    Recipient,
    Summary,
    next_status_after_overload,
)
from bot.domain.participation import ParticipantStatus
from storage.db import Database
from storage.models import (
    AuditEntry,
    FollowUpDelivery,
    FollowUpMessage,
    FollowUpSubscriber,
    Participant,
    ReplyAddress,
)
from storage.repository import upsert_into

ACTIVE = ParticipantStatus.ACTIVE.value
SYSTEM = 0  # the audit log's moderator id for what the bot did on its own

# Subscribers who can get the message now: active, and not known to have blocked the bot.
_RECIPIENTS = (
    select(FollowUpSubscriber.participant_id)
    .join(Participant, Participant.id == FollowUpSubscriber.participant_id)
    .join(ReplyAddress, ReplyAddress.participant_id == FollowUpSubscriber.participant_id)
    .where(Participant.status == ACTIVE, ReplyAddress.reachable.is_(True))
)


class SqlFollowUps:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- the citizen's side --------------------------------------------------

    async def subscribe(self, pseudonym: str, now: datetime) -> bool:
        """False for someone who has not taken part (nothing to tell them about)."""
        async with self._db.transaction() as session:
            me = await _participant(session, pseudonym)
            if me is None:
                return False
            await session.execute(
                upsert_into(self._db, FollowUpSubscriber)
                .values(participant_id=me, since=now)
                .on_conflict_do_nothing()
            )
            return True

    async def unsubscribe(self, pseudonym: str) -> None:
        """Also from a message being sent right now: a delivery not yet started is dropped."""
        async with self._db.transaction() as session:
            me = await _participant(session, pseudonym)
            if me is None:
                return
            await session.execute(
                delete(FollowUpSubscriber).where(FollowUpSubscriber.participant_id == me)
            )
            await session.execute(
                delete(FollowUpDelivery).where(
                    FollowUpDelivery.participant_id == me,
                    FollowUpDelivery.status == DeliveryStatus.PENDING.value,
                )
            )

    async def subscribed_since(self, pseudonym: str) -> datetime | None:
        async with self._db.reading() as session:
            since: datetime | None = await session.scalar(
                select(FollowUpSubscriber.since)
                .join(Participant, Participant.id == FollowUpSubscriber.participant_id)
                .where(Participant.pseudonym == pseudonym)
            )
            return since

    # -- the moderator's side ------------------------------------------------

    async def recipients(self) -> int:
        async with self._db.reading() as session:
            count = await session.scalar(select(func.count()).select_from(_RECIPIENTS.subquery()))
            return int(count or 0)

    async def create_draft(self, text_: str, moderator_id: int, chat_id: int, now: datetime) -> int:
        async with self._db.transaction() as session:
            new_id = await session.scalar(
                insert(FollowUpMessage)
                .values(
                    text=text_,
                    status=MessageStatus.DRAFT.value,
                    created_by=moderator_id,
                    created_at=now,
                    chat_id=chat_id,
                )
                .returning(FollowUpMessage.id)
            )
            assert new_id is not None
            return int(new_id)

    async def draft(self, message_id: int) -> Draft | None:
        async with self._db.reading() as session:
            row = await session.get(FollowUpMessage, message_id)
            if row is None:
                return None
            return Draft(row.id, row.text, MessageStatus(row.status), row.chat_id)

    async def drop(self, message_id: int) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(FollowUpMessage)
                .where(
                    FollowUpMessage.id == message_id,
                    FollowUpMessage.status == MessageStatus.DRAFT.value,
                )
                .values(status=MessageStatus.DROPPED.value)
            )
            return _rowcount(result) == 1

    async def start(self, message_id: int, moderator_id: int, now: datetime) -> int | None:
        """Draft to sending: one pending delivery for each person who asked, fixed now, and an
        audit entry. None when the message is no draft (any more): started already by an
        earlier press, or dropped."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(FollowUpMessage)
                .where(
                    FollowUpMessage.id == message_id,
                    FollowUpMessage.status == MessageStatus.DRAFT.value,
                )
                .values(status=MessageStatus.SENDING.value)
            )
            if _rowcount(result) != 1:
                return None
            rows = _RECIPIENTS.add_columns(
                literal(message_id), literal(DeliveryStatus.PENDING.value)
            )
            await session.execute(
                insert(FollowUpDelivery).from_select(
                    ["participant_id", "message_id", "status"], rows
                )
            )
            count = int(
                await session.scalar(
                    select(func.count())
                    .select_from(FollowUpDelivery)
                    .where(FollowUpDelivery.message_id == message_id)
                )
                or 0
            )
            await session.execute(
                update(FollowUpMessage)
                .where(FollowUpMessage.id == message_id)
                .values(recipients=count)
            )
            await _audit(session, moderator_id, "followup_send", message_id, str(count), now)
            return count

    # -- the sender's side ---------------------------------------------------

    async def open_messages(self, now: datetime) -> list[int]:
        """Messages being sent whose lease is free (none, or run out)."""
        async with self._db.reading() as session:
            ids = await session.scalars(
                select(FollowUpMessage.id)
                .where(FollowUpMessage.status == MessageStatus.SENDING.value, _free(now))
                .order_by(FollowUpMessage.id)
            )
            return list(ids)

    async def claim(
        self, message_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(FollowUpMessage)
                .where(
                    FollowUpMessage.id == message_id,
                    FollowUpMessage.status == MessageStatus.SENDING.value,
                    or_(_free(now), FollowUpMessage.owner == owner),
                )
                .values(owner=owner, lease_until=lease_until)
            )
            return _rowcount(result) == 1

    async def next_batch(
        self, message_id: int, owner: str, limit: int, lease_until: datetime
    ) -> list[Recipient] | None:
        """The next pending recipients, with their reply address and language; the lease is
        renewed. None when the lease is no longer this owner's."""
        async with self._db.transaction() as session:
            renewed = await session.execute(
                update(FollowUpMessage)
                .where(FollowUpMessage.id == message_id, FollowUpMessage.owner == owner)
                .values(lease_until=lease_until)
            )
            if _rowcount(renewed) != 1:
                return None
            rows = await session.execute(
                select(FollowUpDelivery.participant_id, ReplyAddress.chat_id, Participant.locale)
                .join(Participant, Participant.id == FollowUpDelivery.participant_id)
                .join(ReplyAddress, ReplyAddress.participant_id == FollowUpDelivery.participant_id)
                .where(
                    FollowUpDelivery.message_id == message_id,
                    FollowUpDelivery.status == DeliveryStatus.PENDING.value,
                )
                .order_by(FollowUpDelivery.participant_id)
                .limit(limit)
            )
            return [Recipient(r.participant_id, r.chat_id, r.locale) for r in rows]

    async def begin_delivery(self, message_id: int, participant_id: int) -> bool:
        """Pending to sending, committed before the call: False if it is no longer pending
        (the person unsubscribed or erased their data meanwhile)."""
        return await self._set(
            message_id,
            participant_id,
            DeliveryStatus.PENDING,
            status=DeliveryStatus.SENDING.value,
            attempts=FollowUpDelivery.attempts + 1,
        )

    async def end_delivery(
        self, message_id: int, participant_id: int, status: DeliveryStatus, now: datetime
    ) -> None:
        sent_at = now if status is DeliveryStatus.SENT else None
        await self._set(
            message_id, participant_id, DeliveryStatus.SENDING, status=status.value, sent_at=sent_at
        )

    async def overloaded(self, message_id: int, participant_id: int) -> None:
        """Telegram did not take the message (429, 5xx, nothing sent): pending again, or failed
        after the last attempt."""
        async with self._db.transaction() as session:
            attempts = await session.scalar(
                select(FollowUpDelivery.attempts).where(
                    FollowUpDelivery.message_id == message_id,
                    FollowUpDelivery.participant_id == participant_id,
                )
            )
            if attempts is None:
                return
            await session.execute(
                update(FollowUpDelivery)
                .where(
                    FollowUpDelivery.message_id == message_id,
                    FollowUpDelivery.participant_id == participant_id,
                    FollowUpDelivery.status == DeliveryStatus.SENDING.value,
                )
                .values(status=next_status_after_overload(int(attempts)).value)
            )

    async def finish(self, message_id: int, owner: str, now: datetime) -> Summary | None:
        """Sent, once no delivery is pending: the counts, and an audit entry. None while some
        are pending, or when the message is not this owner's (another process finished it)."""
        async with self._db.transaction() as session:
            counts = dict(
                (
                    await session.execute(
                        select(FollowUpDelivery.status, func.count())
                        .where(FollowUpDelivery.message_id == message_id)
                        .group_by(FollowUpDelivery.status)
                    )
                ).all()
            )
            if counts.get(DeliveryStatus.PENDING.value):
                return None
            result = await session.execute(
                update(FollowUpMessage)
                .where(
                    FollowUpMessage.id == message_id,
                    FollowUpMessage.owner == owner,
                    FollowUpMessage.status == MessageStatus.SENDING.value,
                )
                .values(
                    status=MessageStatus.SENT.value, owner=None, lease_until=None, finished_at=now
                )
            )
            if _rowcount(result) != 1:
                return None
            chat_id = await session.scalar(
                select(FollowUpMessage.chat_id).where(FollowUpMessage.id == message_id)
            )
            summary = Summary(
                message_id,
                chat_id,
                sent=int(counts.get(DeliveryStatus.SENT.value, 0)),
                gone=int(counts.get(DeliveryStatus.GONE.value, 0)),
                failed=int(counts.get(DeliveryStatus.FAILED.value, 0)),
                in_doubt=int(counts.get(DeliveryStatus.SENDING.value, 0)),
            )
            detail = (
                f"sent={summary.sent} gone={summary.gone} failed={summary.failed} "
                f"in_doubt={summary.in_doubt}"
            )
            await _audit(session, SYSTEM, "followup_sent", message_id, detail, now)
            return summary

    async def release(self, message_id: int, owner: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(FollowUpMessage)
                .where(FollowUpMessage.id == message_id, FollowUpMessage.owner == owner)
                .values(owner=None, lease_until=None)
            )

    async def _set(
        self, message_id: int, participant_id: int, when: DeliveryStatus, **values: Any
    ) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(FollowUpDelivery)
                .where(
                    FollowUpDelivery.message_id == message_id,
                    FollowUpDelivery.participant_id == participant_id,
                    FollowUpDelivery.status == when.value,
                )
                .values(**values)
            )
            return _rowcount(result) == 1


def _free(now: datetime) -> Any:
    return or_(FollowUpMessage.lease_until.is_(None), FollowUpMessage.lease_until <= now)


async def _participant(session: Any, pseudonym: str) -> int | None:
    value = await session.scalar(select(Participant.id).where(Participant.pseudonym == pseudonym))
    return int(value) if value is not None else None


async def _audit(
    session: Any, moderator_id: int, action: str, message_id: int, detail: str, now: datetime
) -> None:
    await session.execute(
        insert(AuditEntry).values(
            at=now,
            moderator_id=moderator_id,
            action=action,
            target=f"followup:{message_id}",
            detail=detail,
        )
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
