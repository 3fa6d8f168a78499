"""Citizens weigh each other's impulses: rating cards, reports, merges. No aiogram, no SQL.

A rating is +1 (agree), -1 (disagree) or 0 (pass), stored under the person's pseudonym, once
per person and impulse (the latest tap counts). A report hides nothing at once: after
`report_threshold` open reports the impulse goes back to the moderators (status pending) and
leaves the rotation until one of them decides. Only reports of people who took part at least
REPORT_MIN_AGE before count towards that: the Bot API says nothing about an account's age, and
three accounts made for the purpose must not pull any idea back into moderation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Protocol

from bot.domain.impulse import ImpulseStatus

REPORT_MIN_AGE = timedelta(hours=24)


class Opinion(IntEnum):
    AGREE = 1
    DISAGREE = -1
    PASS = 0


class ReportReason(StrEnum):
    SPAM = "spam"
    OFFENSIVE = "offensive"
    PERSONAL_DATA = "personal_data"
    OFF_TOPIC = "off_topic"


MERGED = ImpulseStatus.MERGED.value


@dataclass(frozen=True)
class RatingCard:
    """An approved impulse shown for rating: its text and topic, never who wrote it."""

    impulse_id: int
    topic_id: str
    text: str
    # The language its author used the bot in (None: unknown, e.g. written before it was kept).
    locale: str | None = None
    # "Idee 3 von 12": published ideas of others, and this card's place among them.
    position: int = 0
    total: int = 0


@dataclass(frozen=True)
class ReportOutcome:
    recorded: bool  # False: the impulse is not in the rotation (any more)
    held: bool  # this report reached the threshold: moderators must look again


@dataclass(frozen=True)
class MergeOutcome:
    merged: bool
    carried: int  # agree-ratings that moved to the kept impulse


class RatingRepository(Protocol):
    async def next_card(self, pseudonym: str) -> RatingCard | None: ...

    async def rate(self, pseudonym: str, impulse_id: int, value: int, now: datetime) -> bool: ...

    async def card(self, pseudonym: str, impulse_id: int) -> RatingCard | None: ...

    async def unrate(self, pseudonym: str, impulse_id: int) -> bool: ...

    async def report(
        self, pseudonym: str, impulse_id: int, reason: str, now: datetime, threshold: int
    ) -> ReportOutcome: ...

    async def merge(
        self, duplicate: int, kept: int, moderator_id: int, now: datetime
    ) -> int | None:
        """Mark `duplicate` merged into `kept` and carry its agree-ratings over, in one
        transaction; the number carried, or None when either impulse cannot take part."""
        ...


class RatingService:
    def __init__(self, repository: RatingRepository, *, report_threshold: int = 3) -> None:
        self._repo = repository
        self._threshold = report_threshold

    @property
    def report_threshold(self) -> int:
        return self._threshold

    async def next_card(self, pseudonym: str) -> RatingCard | None:
        """The approved impulse with the fewest ratings this person has not yet seen and did
        not write; None when there is nothing left."""
        return await self._repo.next_card(pseudonym)

    async def rate(self, pseudonym: str, impulse_id: int, opinion: Opinion, now: datetime) -> bool:
        """False when the impulse is no longer approved or the person is not registered."""
        return await self._repo.rate(pseudonym, impulse_id, int(opinion), now)

    async def card(self, pseudonym: str, impulse_id: int) -> RatingCard | None:
        """This impulse's card for this person, if they may rate it (published, not theirs)."""
        return await self._repo.card(pseudonym, impulse_id)

    async def undo(self, pseudonym: str, impulse_id: int) -> bool:
        """One step back: the person's rating of the impulse is removed (and no longer counts
        for the card order). False when there was none."""
        return await self._repo.unrate(pseudonym, impulse_id)

    async def report(
        self, pseudonym: str, impulse_id: int, reason: ReportReason, now: datetime
    ) -> ReportOutcome:
        return await self._repo.report(pseudonym, impulse_id, reason.value, now, self._threshold)

    async def merge(
        self, duplicate: int, kept: int, *, moderator_id: int, now: datetime
    ) -> MergeOutcome:
        """`duplicate` becomes "merged" pointing to `kept`; its agree-ratings carry over unless
        the person rated the kept impulse already."""
        carried = (
            None
            if duplicate == kept
            else await self._repo.merge(duplicate, kept, moderator_id, now)
        )
        return MergeOutcome(merged=carried is not None, carried=carried or 0)
