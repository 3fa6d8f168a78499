"""Database models (SQLAlchemy 2, typed). Changes go through Alembic migrations in `migrations/`.

Answers are stored under a pseudonym only. The raw Telegram chat id, needed to reply, lives in its
own table (`reply_addresses`) so it can be dropped without touching the answers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.participation import ParticipantStatus

# The participants whose votes count (the one vocabulary: bot.domain.participation).
_ACTIVE = ParticipantStatus.ACTIVE.value


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (
        # The few participants whose votes do not count: the standings subtract them.
        Index(
            "ix_participants_not_active",
            "id",
            sqlite_where=text(f"status <> '{_ACTIVE}'"),
            postgresql_where=text(f"status <> '{_ACTIVE}'"),
        ),
        # New participants per source (/stats) and a wave to set aside: consent times, then source.
        Index("ix_participants_consented_source", "consented_at", "source"),
        # The members of a wave, when it is restored.
        Index(
            "ix_participants_wave",
            "wave_id",
            sqlite_where=text("wave_id IS NOT NULL"),
            postgresql_where=text("wave_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    # Indexed for the digests' "new since the last digest" count.
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Time of the latest submitted vote set; NULL while the person has not voted yet.
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The version of the privacy notice agreed to ([privacy] notice_version); NULL: agreed
    # before versions were recorded.
    notice_version: Mapped[str | None] = mapped_column(String(32))
    # A `ParticipantStatus`: blocked participants' votes stop counting (moderation), as do those
    # of participants in a wave set aside; active otherwise.
    status: Mapped[str] = mapped_column(String(16), default=_ACTIVE, server_default=_ACTIVE)
    # The wave of new accounts (`waves`) this participant was set aside with; NULL otherwise.
    wave_id: Mapped[int | None] = mapped_column(Integer)
    # Where the person takes part: "telegram" or "web" (bot/web/).
    channel: Mapped[str] = mapped_column(String(16), default="telegram", server_default="telegram")


class WebInvite(Base):
    """A one-use code for the web chat (`[web] invite_codes`), kept as a keyed hash only."""

    __tablename__ = "web_invites"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once the code was used; the pseudonym it admitted is not kept with it.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReplyAddress(Base):
    """The only place a raw Telegram id is kept, and only to be able to answer."""

    __tablename__ = "reply_addresses"
    __table_args__ = (
        # The few who blocked the bot, read every few seconds (storage/reachability.py).
        Index(
            "ix_reply_addresses_unreachable",
            "participant_id",
            sqlite_where=text("NOT reachable"),
            postgresql_where=text("NOT reachable"),
        ),
    )

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # False once Telegram said the person blocked the bot: we stop writing to them.
    reachable: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_topic_id", "topic_id"),)

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[str] = mapped_column(String(24), primary_key=True)


class VoteTally(Base):
    """Running counts kept by triggers on `votes` (storage/tallies.py): votes per topic, and
    under the topic "" the participants with a vote set. All participants, blocked ones too."""

    __tablename__ = "vote_tallies"

    topic_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    votes: Mapped[int] = mapped_column(BigInteger)


class Impulse(Base):
    __tablename__ = "impulses"
    __table_args__ = (
        UniqueConstraint("participant_id", "draft_key", name="uq_impulses_participant_draft"),
        Index("ix_impulses_status_created", "status", "created_at"),
        Index("ix_impulses_participant", "participant_id"),
        # Digests quote impulses approved within their period.
        Index("ix_impulses_status_decided", "status", "decided_at"),
        # The next rating card: the published impulse with the fewest ratings (storage/ratings.py).
        Index("ix_impulses_status_ratings", "status", "rating_count", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # NULL after the author erased their data but the impulse had already been published.
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    topic_id: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # an `ImpulseStatus` (bot.domain.impulse)
    source: Mapped[str | None] = mapped_column(String(64))
    draft_key: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Moderation: who decided (a moderator's Telegram id: staff, not citizens) and why.
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    # The official answer that closes the feedback loop.
    answer_status: Mapped[str | None] = mapped_column(String(32))
    answer_text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A duplicate a moderator merged (status "merged") points to the impulse that was kept.
    merged_into: Mapped[int | None] = mapped_column(Integer)
    # Ratings of the impulse by active participants, kept by storage/ratings.py with every
    # rating, block, unblock, erasure and merge, so a rating card never counts all ratings.
    rating_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The language the author used the bot in when writing it (a rating card notes another
    # language than the reader's); NULL when unknown.
    locale: Mapped[str | None] = mapped_column(String(16))


class ConversationState(Base):
    """aiogram FSM state and data, keyed by a keyed hash of the chat/user key."""

    __tablename__ = "conversation_states"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxUpdate(Base):
    """Every update from Telegram, recorded once by its id before it is confirmed."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_status", "status"),
        # "Is an earlier update of this person still pending?" (several instances).
        Index(
            "ix_inbox_pending_order",
            "ordering_key",
            "update_id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(8))  # pending | done | failed
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whose update it is (bot.telegram.pipeline.ordering_key); dropped with the payload when
    # handled.
    ordering_key: Mapped[int | None] = mapped_column(BigInteger)
    # The instance that recorded (or took over) the update, while it is pending.
    owner: Mapped[str | None] = mapped_column(String(64))


class InboxPayload(Base):
    """The raw update while it is pending; deleted when it is handled (storage/inbox.py).

    A table of its own: deleted rows free their pages for new ones, where a blanked column in
    the inbox row left SQLite's pages nearly empty and the file growing (migration 0006)."""

    __tablename__ = "inbox_payloads"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)


class SetAsideUpdate(Base):
    """An update that could not be read even leniently (bot/telegram/lenient.py), set aside so that
    the bot goes on: which one, of what kind, where and why it failed, and when. No payload, no
    text, no names. Kept `privacy.set_aside_days` (bot/ops/housekeeping.py); `dialogbot inbox`
    shows them."""

    __tablename__ = "set_aside_updates"
    __table_args__ = (Index("ix_set_aside_updates_at", "set_aside_at"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    # "location: error type" per validation error, "; "-separated (pydantic's locations).
    problems: Mapped[str] = mapped_column(Text)
    set_aside_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewCard(Base):
    """A review card sent to a moderator (or the moderators' group), so that every copy can be
    updated when one moderator decides."""

    __tablename__ = "review_cards"
    __table_args__ = (Index("ix_review_cards_impulse", "impulse_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    impulse_id: Mapped[int] = mapped_column(ForeignKey("impulses.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    """Every moderator action: who, what, when, on what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    moderator_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class Setting(Base):
    """Consultation settings changed at run time (e.g. the phase), overriding the config."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Digest(Base):
    """The digest outbox: one row per period, recorded before and after sending (see
    storage/digests.py for the states and the lease)."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("period_key", name="uq_digests_period_key"),
        Index("ix_digests_status_end", "status", "period_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_key: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # draft|pending|sending|sent|skipped
    figures: Mapped[str | None] = mapped_column(Text)  # JSON, the base of the next trends
    content: Mapped[str | None] = mapped_column(Text)  # JSON, the composed texts and chart
    # JSON list of Telegram message ids, one per part sent; null for a part lost in doubt.
    message_ids: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    inflight: Mapped[int | None] = mapped_column(Integer)  # part being sent right now
    owner: Mapped[str | None] = mapped_column(String(64))
    # Nobody else may touch the row before this: the owner's lease, or the retry backoff.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Rating(Base):
    """How a citizen weighs someone else's impulse: +1 agree, -1 disagree, 0 pass. One row per
    person and impulse; the latest tap counts. Goes with the person (/loeschen)."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_impulse", "impulse_id"),)

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    impulse_id: Mapped[int] = mapped_column(
        ForeignKey("impulses.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImpulseReport(Base):
    """A citizen reported an impulse (spam, offensive, personal data, off topic). Enough open
    reports hold the impulse for a moderator; holding closes them (`cleared`)."""

    __tablename__ = "impulse_reports"
    __table_args__ = (Index("ix_impulse_reports_impulse", "impulse_id"),)

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    impulse_id: Mapped[int] = mapped_column(
        ForeignKey("impulses.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared: Mapped[bool] = mapped_column(default=False, server_default=false())


class Wave(Base):
    """A wave of new accounts a moderator set aside: one start-link source and a window of
    consent times (bot/domain/waves.py). Its participants (`participants.wave_id`) stop counting
    until the wave is restored. Who and when are in the audit log too."""

    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # proposed|set_aside|restored|cancelled
    # Participants and impulses it held when it was set aside (the preview's figures before).
    participants: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    impulses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FollowUpSubscriber(Base):
    """Someone who asked at the end of the dialog to hear what came of the consultation
    ("Ergebnis später zuschicken"); revocable, and gone with the person (/loeschen)."""

    __tablename__ = "followup_subscribers"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class FollowUpMessage(Base):
    """A moderator's outcome message for the subscribers: draft, sending (claimed with a lease,
    like the digests), sent or dropped (storage/followup.py)."""

    __tablename__ = "followup_messages"
    __table_args__ = (Index("ix_followup_messages_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # draft | sending | sent | dropped
    created_by: Mapped[int] = mapped_column(BigInteger)  # the moderator (staff, not a citizen)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the moderator gets the report when it is sent.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    recipients: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FollowUpDelivery(Base):
    """One outcome message to one person, recorded before it goes out: pending, sending (in
    flight; after a crash in doubt, and never sent again), sent, gone (blocked the bot) or
    failed."""

    __tablename__ = "followup_deliveries"
    __table_args__ = (
        Index("ix_followup_deliveries_status", "message_id", "status", "participant_id"),
    )

    message_id: Mapped[int] = mapped_column(
        ForeignKey("followup_messages.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Incident(Base):
    """An incident the moderators hear of at most once (bot.domain.incidents): open from the
    first failure in a row to the next success."""

    __tablename__ = "incidents"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
