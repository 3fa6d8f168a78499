"""A citizen's data rights as use cases: seeing everything stored about oneself (GDPR Art. 15,
/meinedaten) and erasing it (Art. 17, /loeschen).

What is stored lives in three places, each behind a port: the records in the database
(`PersonalRecords`, the participation service), what the chat keeps about the person (the
`Conversation`: step, draft, language choice, rate-limit buckets; bot.telegram.conversation),
and the copies of their ideas' review cards in moderators' chats (`Moderators`;
handlers.moderation.desk). The rules here say what goes in the export and in which order an
erasure touches the three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.participation import Erasure


class PersonalRecords(Protocol):
    """What the database holds about a person (bot.domain.participation.ParticipationService)."""

    async def personal_data(self, pseudonym: str) -> dict[str, Any] | None: ...

    async def erasure_plan(self, pseudonym: str) -> Erasure | None: ...

    async def erase(self, pseudonym: str) -> Erasure | None: ...


class Conversation(Protocol):
    """What the chat itself keeps about the person, outside the database's records."""

    async def snapshot(self) -> dict[str, Any]:
        """The step, the draft and the language choice, as stored (empty values when none)."""
        ...

    async def forget(self) -> None:
        """Step, draft, language choice and rate-limit buckets go."""
        ...


class Moderators(Protocol):
    """What reaches the moderators of a citizen's doing: "tell the moderators"."""

    async def new_impulse(self, impulse_id: int, *, missing_only: bool = False) -> None:
        """An idea waits for review: its card to every review chat (`missing_only`: to those
        that hold no copy yet)."""
        ...

    async def erased(self, erasure: Erasure) -> None:
        """The cards of erased ideas lose their text; those of published ideas that stay are
        shown without author, source and answer."""
        ...


@dataclass(frozen=True)
class PersonalData:
    """Everything stored about one person: the database's records and the conversation."""

    stored: dict[str, Any] | None
    conversation: dict[str, Any]


def changed_since(plan: Erasure, erasure: Erasure) -> Erasure:
    """What an erasure changed beyond its plan (a moderator decided in between)."""
    return Erasure(
        removed_cards=tuple(c for c in erasure.removed_cards if c not in plan.removed_cards),
        kept_impulses=tuple(i for i in erasure.kept_impulses if i not in plan.kept_impulses),
    )


class DataRights:
    def __init__(self, records: PersonalRecords) -> None:
        self._records = records

    async def personal_data(
        self, pseudonym: str, conversation: Conversation
    ) -> PersonalData | None:
        """None when nothing at all is stored about the person."""
        stored = await self._records.personal_data(pseudonym)
        snapshot = await conversation.snapshot()
        if stored is None and not any(snapshot.values()):
            return None
        return PersonalData(stored, snapshot)

    async def erase(
        self, pseudonym: str, conversation: Conversation, moderators: Moderators
    ) -> Erasure | None:
        """Erase everything. The copies in moderators' chats go first, from a plan read before
        the erasure: a crash in between leaves the person's data to a repeated erasure, never a
        card with their words and no record of it. Returns what the erasure changed beyond the
        plan (a moderator decided in between), for `Moderators.erased` once the person has their
        answer; None when that is nothing."""
        plan = await self._records.erasure_plan(pseudonym)
        if plan is not None:
            await moderators.erased(plan)
        erasure = await self._records.erase(pseudonym)
        await conversation.forget()
        if erasure is None or plan is None:
            return None
        late = changed_since(plan, erasure)
        return late if late.removed_cards or late.kept_impulses else None
