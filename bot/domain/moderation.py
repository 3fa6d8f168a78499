"""Moderation rules: decisions on impulses, official answers, blocking, the phase. No aiogram,
no SQL: the repository makes each change atomic, so the first of two moderators wins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.impulse import ImpulseStatus


def answer_mode_expired(started: datetime, now: datetime, limit: timedelta) -> bool:
    """A moderator's answer mode ends after `limit`: a later text is no answer to a citizen."""
    return now - started >= limit


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    TAKE_DOWN = "take_down"


class RejectReason(StrEnum):
    OFF_TOPIC = "off_topic"
    OFFENSIVE = "offensive"
    PERSONAL_DATA = "personal_data"
    SPAM = "spam"
    DUPLICATE = "duplicate"


class AnswerStatus(StrEnum):
    RECEIVED = "received"
    FORWARDED = "forwarded"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    NOT_PURSUED = "not_pursued"


# Which decision is allowed from which status, and where it leads.
TRANSITIONS: dict[Decision, tuple[frozenset[ImpulseStatus], ImpulseStatus]] = {
    Decision.APPROVE: (frozenset({ImpulseStatus.PENDING}), ImpulseStatus.APPROVED),
    Decision.REJECT: (frozenset({ImpulseStatus.PENDING}), ImpulseStatus.REJECTED),
    Decision.TAKE_DOWN: (frozenset({ImpulseStatus.APPROVED}), ImpulseStatus.REMOVED),
}


@dataclass(frozen=True)
class ImpulseCard:
    """What a moderator needs to judge an impulse (never who wrote it)."""

    id: int
    topic_id: str
    text: str
    status: str
    source: str | None
    created_at: datetime
    decided_by: int | None
    reject_reason: str | None
    answer_status: str | None
    answer_text: str | None
    author_blocked: bool
    has_author: bool
    # Published impulses that say nearly the same (bot.domain.similarity), newest lookup.
    similar: tuple[int, ...] = ()
    # Pending again after citizens' reports: (reason, count), most frequent first.
    reports: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class DecisionOutcome:
    applied: bool
    card: ImpulseCard
    # Where to tell the author (only when applied and the author is still reachable).
    author_chat_id: int | None
    author_locale: str | None


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    locale: str


@dataclass(frozen=True)
class AnswerOutcome:
    found: bool
    author: Recipient | None  # None: erased, or no longer reachable


@dataclass(frozen=True)
class Stats:
    participants_total: int
    participants_today: int
    participants_week: int
    impulses_by_status: dict[str, int]
    sources: list[tuple[str, int]]
    # Counted participants per channel ("telegram", "web"; bot/web/).
    channels: dict[str, int] = field(default_factory=dict)


class ModerationRepository(Protocol):
    async def card(self, impulse_id: int) -> ImpulseCard | None: ...

    async def decide(
        self,
        impulse_id: int,
        *,
        allowed_from: frozenset[ImpulseStatus],
        to: ImpulseStatus,
        moderator_id: int,
        reason: str | None,
        now: datetime,
    ) -> bool: ...

    async def author_of(self, impulse_id: int) -> Recipient | None: ...

    async def set_answer(
        self, impulse_id: int, status: AnswerStatus, text: str, now: datetime
    ) -> bool: ...

    async def set_author_blocked(self, impulse_id: int, blocked: bool) -> bool: ...

    async def oldest_pending(self) -> tuple[ImpulseCard | None, int]: ...

    async def stats(self, now: datetime) -> Stats: ...

    async def audit(
        self,
        *,
        moderator_id: int,
        action: str,
        target: str | None,
        detail: str | None,
        now: datetime,
    ) -> int: ...

    async def audit_entry(self, entry_id: int) -> dict[str, Any] | None: ...

    async def recent_audit(self, limit: int) -> list[dict[str, Any]]: ...

    async def set_setting(self, key: str, value: str, now: datetime) -> None: ...

    async def remember_card(self, impulse_id: int, chat_id: int, message_id: int) -> None: ...

    async def card_copies(self, impulse_id: int) -> list[tuple[int, int]]: ...


SimilarLookup = Callable[[int, str], Awaitable[tuple[int, ...]]]


class ModerationService:
    def __init__(self, repository: ModerationRepository) -> None:
        self._repo = repository
        self._similar: SimilarLookup | None = None

    def attach_similarity(self, lookup: SimilarLookup) -> None:
        """Cards then name published impulses that say nearly the same (docs/ratings.md)."""
        self._similar = lookup

    async def card(self, impulse_id: int) -> ImpulseCard | None:
        card = await self._repo.card(impulse_id)
        # The similar buttons offer a merge.
        undecided = (ImpulseStatus.PENDING, ImpulseStatus.APPROVED)
        if card is None or self._similar is None or card.status not in undecided:
            return card
        return replace(card, similar=await self._similar(card.id, card.text))

    async def decide(
        self,
        impulse_id: int,
        decision: Decision,
        *,
        moderator_id: int,
        now: datetime,
        reason: RejectReason | None = None,
    ) -> DecisionOutcome | None:
        """Apply a decision if the impulse is still in a state that allows it.

        None when the impulse does not exist (any more)."""
        allowed_from, to = TRANSITIONS[decision]
        applied = await self._repo.decide(
            impulse_id,
            allowed_from=allowed_from,
            to=to,
            moderator_id=moderator_id,
            reason=reason.value if reason else None,
            now=now,
        )
        card = await self._repo.card(impulse_id)
        if card is None:
            return None
        author = await self._repo.author_of(impulse_id) if applied else None
        if applied:
            await self.log(moderator_id, decision.value, impulse_id, reason, now)
        return DecisionOutcome(
            applied=applied,
            card=card,
            author_chat_id=author.chat_id if author else None,
            author_locale=author.locale if author else None,
        )

    async def answer(
        self,
        impulse_id: int,
        status: AnswerStatus,
        text: str,
        *,
        moderator_id: int,
        now: datetime,
    ) -> AnswerOutcome:
        """Record the official answer and say whom to send it to."""
        if not await self._repo.set_answer(impulse_id, status, text, now):
            return AnswerOutcome(found=False, author=None)
        await self.log(moderator_id, "answer", impulse_id, f"{status.value}: {text}", now)
        return AnswerOutcome(found=True, author=await self._repo.author_of(impulse_id))

    async def set_blocked(
        self, impulse_id: int, blocked: bool, *, moderator_id: int, now: datetime
    ) -> bool:
        if not await self._repo.set_author_blocked(impulse_id, blocked):
            return False
        await self.log(moderator_id, "block" if blocked else "unblock", impulse_id, None, now)
        return True

    async def author_of(self, impulse_id: int) -> Recipient | None:
        """Where to tell the author of an impulse (None: erased, or no longer reachable)."""
        return await self._repo.author_of(impulse_id)

    async def next_pending(self) -> tuple[ImpulseCard | None, int]:
        return await self._repo.oldest_pending()

    async def stats(self, now: datetime) -> Stats:
        return await self._repo.stats(now)

    async def set_phase(self, is_open: bool, *, moderator_id: int, now: datetime) -> None:
        phase = "open" if is_open else "closed"
        await self._repo.set_setting("phase", phase, now)
        await self.log(moderator_id, "phase", None, phase, now)

    async def log(
        self,
        moderator_id: int,
        action: str,
        impulse_id: int | None,
        detail: object,
        now: datetime,
    ) -> int:
        return await self._repo.audit(
            moderator_id=moderator_id,
            action=action,
            target=f"impulse:{impulse_id}" if impulse_id is not None else None,
            detail=None if detail is None else str(detail),
            now=now,
        )

    async def audit_entry(self, entry_id: int) -> dict[str, Any] | None:
        return await self._repo.audit_entry(entry_id)

    async def remember_card(self, impulse_id: int, chat_id: int, message_id: int) -> None:
        """A card was shown in this chat; it is updated when anyone decides."""
        await self._repo.remember_card(impulse_id, chat_id, message_id)

    async def card_copies(self, impulse_id: int) -> list[tuple[int, int]]:
        return await self._repo.card_copies(impulse_id)

    async def recent_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        return await self._repo.recent_audit(limit)
