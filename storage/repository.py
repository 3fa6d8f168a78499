"""Participation storage: each public method is one transaction.

Counts are computed by the database (GROUP BY over indexed columns), never by looping over rows.
What every dialog does (consent, the vote set, submitting) runs as Core statements built once,
on a plain connection (`Database.run_read`, `run_write_grouped`): an ORM session and a freshly
built statement cost several times the SQL itself (benchmarks/README.md).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Update,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.impulse import ImpulseStatus
from bot.domain.participation import (
    Citizen,
    Erasure,
    ParticipantStatus,
    StoredImpulse,
    Submission,
    SupportedImpulse,
    VoteSet,
)
from bot.domain.ratings import Opinion
from storage.db import Database
from storage.models import (
    AuditEntry,
    FollowUpDelivery,
    FollowUpSubscriber,
    Impulse,
    ImpulseReport,
    Participant,
    Rating,
    ReplyAddress,
    ReviewCard,
    Vote,
    VoteTally,
)
from storage.tallies import VOTERS

ACTIVE = ParticipantStatus.ACTIVE.value


def upsert_into(database: Database, table: Any) -> Any:
    """An INSERT that takes ON CONFLICT clauses, on SQLite and PostgreSQL alike."""
    return dialect_insert(database.is_sqlite, table)


def dialect_insert(sqlite: bool, table: Any) -> Any:
    """`upsert_into` for statements built once per dialect (`functools.cache` on `sqlite`)."""
    return (sqlite_insert if sqlite else pg_insert)(table)


# Built once; their parameters are bound by name when they run.
_PARTICIPANT = select(
    Participant.id, Participant.source, Participant.voted_at, Participant.notice_version
).where(Participant.pseudonym == bindparam("pseudonym"))
_AGREED_TO = (
    update(Participant)
    .where(Participant.pseudonym == bindparam("who"))
    .values(notice_version=bindparam("version"))
)
_TOPICS_OF = select(Vote.topic_id).where(Vote.participant_id == bindparam("participant"))
_IMPULSES_OF = (
    select(Impulse.id, Impulse.topic_id, Impulse.text, Impulse.status, Impulse.created_at)
    .where(Impulse.participant_id == bindparam("participant"))
    .order_by(Impulse.created_at, Impulse.id)
)
# Published ideas the person agreed with (value +1), in the order they were rated.
_SUPPORTED_BY = (
    select(Impulse.id, Impulse.text)
    .join(Rating, Rating.impulse_id == Impulse.id)
    .where(
        Rating.participant_id == bindparam("participant"),
        Rating.value == Opinion.AGREE.value,
        Impulse.status == ImpulseStatus.APPROVED.value,
    )
    .order_by(Rating.rated_at, Impulse.id)
)
_IMPULSE_TEXTS = (
    select(Impulse.text)
    .join(Participant, Participant.id == Impulse.participant_id)
    .where(Participant.pseudonym == bindparam("pseudonym"))
)
_DROP_VOTES = delete(Vote).where(Vote.participant_id == bindparam("participant"))
_ADD_VOTES = insert(Vote)
# SET takes the columns named in the parameters (voted_at, locale).
_MARK_VOTED = update(Participant).where(Participant.id == bindparam("participant"))


@cache
def _new_participant(sqlite: bool) -> Any:
    return dialect_insert(sqlite, Participant).on_conflict_do_nothing(index_elements=["pseudonym"])


@cache
def _reply_address(sqlite: bool) -> Any:
    insert = dialect_insert(sqlite, ReplyAddress)
    return insert.on_conflict_do_update(
        index_elements=["participant_id"],
        set_={
            "chat_id": insert.excluded.chat_id,
            "reachable": True,
            "updated_at": insert.excluded.updated_at,
        },
    )


@cache
def _new_impulse(sqlite: bool) -> Any:
    # A submission replayed after a crash has the same draft key: no second impulse.
    return dialect_insert(sqlite, Impulse).on_conflict_do_nothing().returning(Impulse.id)


# The impulse an earlier run of the same submission stored (its draft key, the same person).
_STORED_IMPULSE = select(Impulse.id).where(
    Impulse.participant_id == bindparam("participant"), Impulse.draft_key == bindparam("draft")
)


class SqlParticipationRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def is_registered(self, pseudonym: str) -> bool:
        return await self._db.run_read(lambda c: _participant(c, pseudonym) is not None)

    async def notice_version(self, pseudonym: str) -> tuple[bool, str | None]:
        row = await self._db.run_read(lambda c: _participant(c, pseudonym))
        return (False, None) if row is None else (True, row.notice_version)

    async def register(
        self,
        citizen: Citizen,
        *,
        source: str | None,
        now: datetime,
        notice_version: str | None = None,
    ) -> None:
        sqlite = self._db.is_sqlite

        def register(connection: Connection) -> None:
            _ensure_participant(sqlite, connection, citizen, source=source, now=now)
            if notice_version is not None:
                connection.execute(
                    _AGREED_TO, {"who": citizen.pseudonym, "version": notice_version}
                )

        await self._db.run_write_grouped(register)

    async def vote_set(self, pseudonym: str) -> VoteSet | None:
        return await self._db.run_read(lambda c: _vote_set(c, pseudonym))

    async def impulse_texts(self, pseudonym: str) -> list[str]:
        return await self._db.run_read(
            lambda c: list(c.scalars(_IMPULSE_TEXTS, {"pseudonym": pseudonym}))
        )

    async def save_submission(
        self, citizen: Citizen, submission: Submission, *, impulse_status: str, now: datetime
    ) -> int | None:
        """Replace the person's vote set and add the impulse, all or nothing. Returns the
        impulse's id: new, or stored by an earlier run of the same submission (a replay)."""
        sqlite = self._db.is_sqlite

        def save(connection: Connection) -> int | None:
            participant, source = _ensure_participant(
                sqlite, connection, citizen, source=None, now=now
            )
            connection.execute(_DROP_VOTES, {"participant": participant})
            connection.execute(
                _ADD_VOTES,
                [{"participant_id": participant, "topic_id": t} for t in submission.topics],
            )
            connection.execute(
                _MARK_VOTED, {"participant": participant, "voted_at": now, "locale": citizen.locale}
            )
            if submission.impulse is None:
                return None
            published = impulse_status == ImpulseStatus.APPROVED.value
            new_id: int | None = connection.scalar(
                _new_impulse(sqlite),
                {
                    "participant_id": participant,
                    "topic_id": submission.impulse.topic_id,
                    "text": submission.impulse.text,
                    "status": impulse_status,
                    "source": source,
                    "draft_key": submission.draft_key,
                    # The language of the bot when it was written: a rating card notes it
                    # when a reader uses another one (handlers/citizen/texts/ratings.py).
                    "locale": citizen.locale,
                    "created_at": now,
                    "decided_at": now if published else None,
                },
            )
            if new_id is None:
                new_id = connection.scalar(
                    _STORED_IMPULSE, {"participant": participant, "draft": submission.draft_key}
                )
            return new_id

        # With the other small writes of this turn of the loop; a failure fails it alone.
        return await self._db.run_write_grouped(save)

    async def vote_counts(self) -> tuple[int, dict[str, int]]:
        """Participants with a vote set, and votes per topic, of active participants.

        The running tallies (storage/tallies.py) minus the votes of the few participants who
        are not active: a handful of rows, however many have voted, so it is a lookup.
        """
        return await self._db.run_read(_vote_counts)

    async def personal_data(self, pseudonym: str) -> dict[str, Any] | None:
        async with self._db.reading() as session:
            participant = await session.scalar(
                select(Participant).where(Participant.pseudonym == pseudonym)
            )
            if participant is None:
                return None
            address = await session.get(ReplyAddress, participant.id)
            topics = await session.scalars(
                select(Vote.topic_id).where(Vote.participant_id == participant.id)
            )
            impulses = await session.scalars(
                select(Impulse).where(Impulse.participant_id == participant.id)
            )
            ratings = await session.execute(
                select(Rating.impulse_id, Rating.value, Rating.rated_at).where(
                    Rating.participant_id == participant.id
                )
            )
            outcome_message = await session.get(FollowUpSubscriber, participant.id)
            outcome_deliveries = await session.execute(
                select(
                    FollowUpDelivery.message_id, FollowUpDelivery.status, FollowUpDelivery.sent_at
                ).where(FollowUpDelivery.participant_id == participant.id)
            )
            reports = await session.execute(
                select(
                    ImpulseReport.impulse_id, ImpulseReport.reason, ImpulseReport.reported_at
                ).where(ImpulseReport.participant_id == participant.id)
            )
            # Not the pseudonym: with the person's own id next to it, it would allow an offline
            # search for the secret that keys every pseudonym.
            return {
                "source": participant.source,
                "language": participant.locale,
                "consented_at": participant.consented_at.isoformat(),
                "privacy_notice_version": participant.notice_version,
                "voted_at": participant.voted_at.isoformat() if participant.voted_at else None,
                "status": participant.status,
                "channel": participant.channel,
                "telegram_chat_id_for_replies": address.chat_id if address else None,
                "reachable_for_replies": address.reachable if address else None,
                "topics": list(topics),
                "impulses": [
                    {
                        "id": i.id,
                        "topic": i.topic_id,
                        "text": i.text,
                        "status": i.status,
                        "created_at": i.created_at.isoformat(),
                        "source": i.source,
                        "decided_at": _iso(i.decided_at),
                        "reject_reason": i.reject_reason,
                        "merged_into": i.merged_into,
                        "answer_status": i.answer_status,
                        "answer_text": i.answer_text,
                        "answered_at": _iso(i.answered_at),
                    }
                    for i in impulses
                ],
                "ratings": [
                    {"impulse": i, "value": value, "rated_at": at.isoformat()}
                    for i, value, at in ratings
                ],
                "reports": [
                    {"impulse": i, "reason": reason, "reported_at": at.isoformat()}
                    for i, reason, at in reports
                ],
                # "Ergebnis später zuschicken": since when, or None.
                "outcome_message_requested_at": _iso(outcome_message.since)
                if outcome_message
                else None,
                "outcome_messages": [
                    {"message": m, "status": status, "sent_at": _iso(at)}
                    for m, status, at in outcome_deliveries
                ],
            }

    async def erasure_plan(self, pseudonym: str) -> Erasure | None:
        """What `erase` will leave for the bot to change outside the database (read only)."""
        async with self._db.reading() as session:
            participant_id = await _participant_id(session, pseudonym)
            if participant_id is None:
                return None
            return await _erasure_of(session, participant_id)

    async def erase(self, pseudonym: str) -> Erasure | None:
        """Delete the person; published impulses stay, detached from anyone (anonymised): no
        author, no source, no answer text (an answer may name the person), and the answer texts
        go from the audit log too."""
        async with self._db.transaction() as session:
            participant_id = await _participant_id(session, pseudonym)
            if participant_id is None:
                return None
            erasure = await _erasure_of(session, participant_id)
            mine = Impulse.participant_id == participant_id
            published = Impulse.status == ImpulseStatus.APPROVED.value
            impulse_ids = list(await session.scalars(select(Impulse.id).where(mine)))
            if impulse_ids:
                await session.execute(
                    update(AuditEntry)
                    .where(
                        AuditEntry.action == "answer",
                        AuditEntry.target.in_([f"impulse:{i}" for i in impulse_ids]),
                    )
                    .values(detail=None)
                )
            removed = [i for i in impulse_ids if i not in erasure.kept_impulses]
            await session.execute(delete(ReviewCard).where(ReviewCard.impulse_id.in_(removed)))
            await session.execute(delete(Impulse).where(mine, ~published))
            await session.execute(
                update(Impulse)
                .where(mine)
                .values(participant_id=None, source=None, answer_text=None)
            )
            status = await session.scalar(
                select(Participant.status).where(Participant.id == participant_id)
            )
            if status == ACTIVE:  # their ratings stop counting for the rating cards
                await session.execute(shift_rating_counts(participant_id, -1))
            for table in (
                Vote,
                ReplyAddress,
                Rating,
                ImpulseReport,
                FollowUpSubscriber,
                FollowUpDelivery,
            ):
                await session.execute(delete(table).where(table.participant_id == participant_id))
            await session.execute(delete(Participant).where(Participant.id == participant_id))
            return erasure


async def _erasure_of(session: AsyncSession, participant_id: int) -> Erasure:
    """The review-card copies of the person's unpublished impulses, and their published ones."""
    mine = Impulse.participant_id == participant_id
    published = Impulse.status == ImpulseStatus.APPROVED.value
    kept = list(await session.scalars(select(Impulse.id).where(mine, published)))
    cards = (
        await session.execute(
            select(ReviewCard.chat_id, ReviewCard.message_id, ReviewCard.impulse_id)
            .join(Impulse, Impulse.id == ReviewCard.impulse_id)
            .where(mine, ~published)
        )
    ).all()
    return Erasure(
        removed_cards=tuple((c.chat_id, c.message_id, c.impulse_id) for c in cards),
        kept_impulses=tuple(kept),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def shift_rating_counts(participant_id: int, by: int) -> Update:
    """Every impulse this person rated counts `by` more (+1 unblocked, -1 blocked or erased)."""
    rated = select(Rating.impulse_id).where(Rating.participant_id == participant_id)
    return (
        update(Impulse).where(Impulse.id.in_(rated)).values(rating_count=Impulse.rating_count + by)
    )


# Participants who are not active (blocked) are few and have a partial index of their own.
# Its predicate as a literal, not a parameter: SQLite and PostgreSQL use a partial index only
# for its own predicate. Written as IN (...) so that even without statistics (SQLite has none
# until ANALYZE) the planner starts from those few, not from every vote.
IS_NOT_ACTIVE = literal_column("participants.status") != literal_column(f"'{ACTIVE}'")
_OF_NOT_ACTIVE = Vote.participant_id.in_(select(Participant.id).where(IS_NOT_ACTIVE))
_TALLIES = select(VoteTally.__table__)
_NOT_ACTIVE_BY_TOPIC = (
    select(Vote.topic_id, func.count()).where(_OF_NOT_ACTIVE).group_by(Vote.topic_id)
)
_NOT_ACTIVE_VOTERS = select(func.count(func.distinct(Vote.participant_id))).where(_OF_NOT_ACTIVE)


def _vote_counts(connection: Connection) -> tuple[int, dict[str, int]]:
    counts = {topic: int(n) for topic, n in connection.execute(_TALLIES)}
    for topic, n in connection.execute(_NOT_ACTIVE_BY_TOPIC):
        counts[topic] = counts.get(topic, 0) - int(n)
    blocked_voters = connection.scalar(_NOT_ACTIVE_VOTERS)
    participants = counts.pop(VOTERS, 0) - int(blocked_voters or 0)
    return participants, {topic: n for topic, n in counts.items() if n > 0}


async def _participant_id(session: AsyncSession, pseudonym: str) -> int | None:
    row = (await session.execute(_PARTICIPANT, {"pseudonym": pseudonym})).first()
    return None if row is None else int(row.id)


def _participant(connection: Connection, pseudonym: str) -> Any:
    """The participant's id, source and voted_at, or None."""
    return connection.execute(_PARTICIPANT, {"pseudonym": pseudonym}).first()


def _ensure_participant(
    sqlite: bool,
    connection: Connection,
    citizen: Citizen,
    *,
    source: str | None,
    now: datetime,
) -> tuple[int, str | None]:
    """Create the participant on first consent; refresh the reply address every time."""
    connection.execute(
        _new_participant(sqlite),
        {
            "pseudonym": citizen.pseudonym,
            "source": source,
            "locale": citizen.locale,
            "consented_at": now,
            "channel": citizen.channel,
        },
    )
    row = _participant(connection, citizen.pseudonym)
    if citizen.channel == "telegram":  # the web chat has no chat to answer in
        connection.execute(
            _reply_address(sqlite),
            {"participant_id": row.id, "chat_id": citizen.chat_id, "updated_at": now},
        )
    return row.id, row.source


def _vote_set(connection: Connection, pseudonym: str) -> VoteSet | None:
    participant = _participant(connection, pseudonym)
    if participant is None:
        return None
    topics = connection.scalars(_TOPICS_OF, {"participant": participant.id})
    impulses = connection.execute(_IMPULSES_OF, {"participant": participant.id})
    supported = connection.execute(_SUPPORTED_BY, {"participant": participant.id})
    return VoteSet(
        topics=tuple(topics),
        voted_at=participant.voted_at,
        impulses=tuple(
            StoredImpulse(
                id=i.id, topic_id=i.topic_id, text=i.text, status=i.status, created_at=i.created_at
            )
            for i in impulses
        ),
        supported=tuple(SupportedImpulse(id=row.id, text=row.text) for row in supported),
    )
