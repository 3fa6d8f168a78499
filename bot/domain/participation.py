"""The participation service: what a citizen can do, with its rules. No aiogram, no SQL.

Handlers call this; it checks the rules and hands a complete change to the repository, which
writes it in one transaction. The reply is sent by the handler after that returns.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.impulse import (
    ImpulseProblem,
    ImpulseStatus,
    check_impulse,
    contact_data,
    is_duplicate,
)
from bot.domain.selection import clean_selection
from bot.domain.standings import Standings, rank_standings

SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ParticipantStatus(StrEnum):
    """Whether a participant's votes and ratings count; storage keeps the value
    (`participants.status`)."""

    ACTIVE = "active"
    BLOCKED = "blocked"  # by a moderator
    SET_ASIDE = "set_aside"  # with a wave of new accounts (bot.domain.waves)


@dataclass(frozen=True)
class Citizen:
    """Who an update comes from, as the domain sees it."""

    pseudonym: str
    chat_id: int
    locale: str
    # "telegram", or "web" for the web chat (bot/web/), which has no chat to answer in.
    channel: str = "telegram"


@dataclass(frozen=True)
class ImpulseDraft:
    text: str
    topic_id: str


@dataclass(frozen=True)
class Submission:
    topics: tuple[str, ...]
    impulse: ImpulseDraft | None
    # Chosen once per draft: pressing "submit" twice (or a replay after a crash) adds one impulse.
    draft_key: str


@dataclass(frozen=True)
class StoredImpulse:
    id: int
    topic_id: str
    text: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class SupportedImpulse:
    """A published idea of someone else that the person agreed with (/stoebern)."""

    id: int
    text: str


@dataclass(frozen=True)
class VoteSet:
    topics: tuple[str, ...]
    voted_at: datetime | None
    impulses: tuple[StoredImpulse, ...]
    supported: tuple[SupportedImpulse, ...] = ()


class ConsultationClosed(Exception):
    """Changes are refused while the consultation is closed."""


class InvalidSubmission(Exception):
    pass


class ParticipationRepository(Protocol):
    async def is_registered(self, pseudonym: str) -> bool: ...

    async def notice_version(self, pseudonym: str) -> tuple[bool, str | None]:
        """Whether the person consented, and to which version of the privacy notice."""
        ...

    async def register(
        self,
        citizen: Citizen,
        *,
        source: str | None,
        now: datetime,
        notice_version: str | None = None,
    ) -> None: ...

    async def vote_set(self, pseudonym: str) -> VoteSet | None: ...

    async def impulse_texts(self, pseudonym: str) -> list[str]: ...

    async def save_submission(
        self, citizen: Citizen, submission: Submission, *, impulse_status: str, now: datetime
    ) -> int | None:
        """Returns the new impulse's id (None without one, or when it was saved before)."""
        ...

    async def vote_counts(self) -> tuple[int, dict[str, int]]: ...

    async def personal_data(self, pseudonym: str) -> dict[str, Any] | None: ...

    async def erasure_plan(self, pseudonym: str) -> Erasure | None: ...

    async def erase(self, pseudonym: str) -> Erasure | None: ...


@dataclass(frozen=True)
class Erasure:
    """What an erasure left for the bot to change outside the database: the review-card copies
    in moderators' chats of the ideas that were deleted (chat id, message id, impulse id), and
    the published ideas that stay without author, source or answer text (their cards are shown
    again without them)."""

    removed_cards: tuple[tuple[int, int, int], ...] = ()
    kept_impulses: tuple[int, ...] = ()


class PhaseSource(Protocol):
    """Whether the consultation accepts changes; moderators switch it at run time."""

    async def is_open(self) -> bool: ...


@dataclass(frozen=True)
class Rules:
    topic_ids: tuple[str, ...]
    max_topics: int
    impulse_min_length: int
    impulse_max_length: int
    # Post-moderation publishes impulses at once; pre-moderation waits for a moderator.
    publish_immediately: bool = False
    # Links and phone numbers in impulses: "allow", "hold" (for a moderator) or "refuse".
    link_policy: str = "hold"
    # The privacy notice in force ([privacy] notice_version): consent records it.
    notice_version: str = "1"


class ParticipationService:
    def __init__(
        self, repository: ParticipationRepository, rules: Rules, phase: PhaseSource
    ) -> None:
        self._repo = repository
        self._rules = rules
        self._phase = phase

    @property
    def rules(self) -> Rules:
        return self._rules

    @staticmethod
    def clean_source(payload: str | None) -> str | None:
        """A deep-link payload such as `flyer_essen`; anything else is not stored."""
        if payload and SOURCE_PATTERN.match(payload):
            return payload
        return None

    def check_impulse(self, text: str) -> ImpulseProblem | None:
        problem = check_impulse(
            text,
            min_length=self._rules.impulse_min_length,
            max_length=self._rules.impulse_max_length,
        )
        if problem is None and self._rules.link_policy == "refuse" and contact_data(text):
            return ImpulseProblem.CONTACT_DATA
        return problem

    async def check_new_impulse(self, pseudonym: str, text: str) -> ImpulseProblem | None:
        """The rules, and that the person did not send (nearly) the same idea before."""
        problem = self.check_impulse(text)
        if problem is not None:
            return problem
        earlier = await self._repo.impulse_texts(pseudonym)
        # Linear in all the person's texts together, but a person may have many: in a worker
        # thread, so the event loop answers everybody else meanwhile.
        duplicate = bool(earlier) and await asyncio.to_thread(is_duplicate, text, earlier)
        if duplicate:
            return ImpulseProblem.DUPLICATE
        return None

    def clean_selection(self, selected: Sequence[str]) -> tuple[str, ...]:
        return clean_selection(selected, known=self._rules.topic_ids, limit=self._rules.max_topics)

    async def is_open(self) -> bool:
        return await self._phase.is_open()

    async def is_registered(self, pseudonym: str) -> bool:
        return await self._repo.is_registered(pseudonym)

    async def must_agree_again(self, pseudonym: str) -> bool:
        """Registered, but to another version of the privacy notice than the one in force."""
        registered, version = await self._repo.notice_version(pseudonym)
        return registered and version != self._rules.notice_version

    async def consent(self, citizen: Citizen, *, source: str | None, now: datetime) -> None:
        """Consent given: only now is anything about the person stored."""
        await self._repo.register(
            citizen,
            source=self.clean_source(source),
            now=now,
            notice_version=self._rules.notice_version,
        )

    async def vote_set(self, pseudonym: str) -> VoteSet | None:
        return await self._repo.vote_set(pseudonym)

    async def submit(
        self, citizen: Citizen, submission: Submission, *, now: datetime
    ) -> int | None:
        """Store the vote set; returns the id of its impulse, if any (the one stored by an
        earlier run of the same submission, when it is run again)."""
        if not await self._phase.is_open():
            raise ConsultationClosed
        topics = self.clean_selection(submission.topics)
        if not topics or len(topics) != len(submission.topics):
            raise InvalidSubmission("topics")
        impulse = submission.impulse
        if impulse is not None and (
            # An idea may belong to any topic, not only to one of the person's priorities.
            impulse.topic_id not in self._rules.topic_ids
            or self.check_impulse(impulse.text) is not None
        ):
            raise InvalidSubmission("impulse")
        # Contact data waits for a moderator even where ideas are published at once.
        held = (
            impulse is not None and self._rules.link_policy == "hold" and contact_data(impulse.text)
        )
        published = self._rules.publish_immediately and not held
        status = ImpulseStatus.APPROVED if published else ImpulseStatus.PENDING
        return await self._repo.save_submission(
            citizen, submission, impulse_status=status.value, now=now
        )

    async def standings(self) -> Standings:
        participants, votes = await self._repo.vote_counts()
        return rank_standings(self._rules.topic_ids, votes, participants)

    async def personal_data(self, pseudonym: str) -> dict[str, Any] | None:
        return await self._repo.personal_data(pseudonym)

    async def erasure_plan(self, pseudonym: str) -> Erasure | None:
        """What an erasure will change outside the database, read before it (None: nothing is
        stored), so those copies can be changed first: a crash in between then leaves the
        person's data to a repeated erasure, never a card with their words and no record of
        it."""
        return await self._repo.erasure_plan(pseudonym)

    async def erase(self, pseudonym: str) -> Erasure | None:
        """None when nothing was stored about the person."""
        return await self._repo.erase(pseudonym)
