"""The data rights as use cases (bot/domain/data_rights.py): what the export holds, and in which
order an erasure reaches the moderators' cards, the database and the conversation. The ports are
plain fakes that write down what happened; the whole path through Telegram is in
tests/test_privacy.py."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.data_rights import DataRights, PersonalData, changed_since
from bot.domain.participation import Erasure

PLAN = Erasure(removed_cards=((-100, 7, 1),), kept_impulses=(2,))


class Records:
    def __init__(
        self,
        stored: dict[str, Any] | None,
        plan: Erasure | None = None,
        erasure: Erasure | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.stored, self.plan, self.erasure = stored, plan, erasure
        self.log = log if log is not None else []

    async def personal_data(self, pseudonym: str) -> dict[str, Any] | None:
        return self.stored

    async def erasure_plan(self, pseudonym: str) -> Erasure | None:
        self.log.append("plan")
        return self.plan

    async def erase(self, pseudonym: str) -> Erasure | None:
        self.log.append("erase")
        self.stored = None
        return self.erasure


class Conversation:
    def __init__(self, log: list[str], snapshot: dict[str, Any] | None = None) -> None:
        self.log = log
        self.state = snapshot or {"step": None, "draft": {}, "language": None}

    async def snapshot(self) -> dict[str, Any]:
        return dict(self.state)

    async def forget(self) -> None:
        self.log.append("forget")
        self.state = {"step": None, "draft": {}, "language": None}


class Moderators:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.told: list[Erasure] = []

    async def new_impulse(self, impulse_id: int, *, missing_only: bool = False) -> None:
        self.log.append(f"card {impulse_id}")

    async def erased(self, erasure: Erasure) -> None:
        self.log.append("cards")
        self.told.append(erasure)


def test_the_export_holds_the_records_and_the_conversation() -> None:
    log: list[str] = []
    chat = Conversation(
        log, {"step": "Dialog:topics", "draft": {"selected": ["a"]}, "language": "en"}
    )
    found = asyncio.run(DataRights(Records({"votes": ["a"]})).personal_data("p", chat))
    assert found == PersonalData(
        {"votes": ["a"]}, {"step": "Dialog:topics", "draft": {"selected": ["a"]}, "language": "en"}
    )


def test_a_conversation_alone_is_something_stored() -> None:
    chat = Conversation([], {"step": None, "draft": {}, "language": "tr"})
    found = asyncio.run(DataRights(Records(None)).personal_data("p", chat))
    assert found == PersonalData(None, {"step": None, "draft": {}, "language": "tr"})


def test_nothing_stored_is_none() -> None:
    assert asyncio.run(DataRights(Records(None)).personal_data("p", Conversation([]))) is None


def test_erasure_changes_the_cards_first_then_erases_then_forgets_the_conversation() -> None:
    log: list[str] = []
    moderators = Moderators(log)
    rights = DataRights(Records({"votes": ["a"]}, PLAN, PLAN, log))
    late = asyncio.run(rights.erase("p", Conversation(log), moderators))
    assert log == ["plan", "cards", "erase", "forget"]
    assert moderators.told == [PLAN]
    assert late is None  # nothing changed between the plan and the erasure


def test_what_a_moderator_changed_in_between_is_returned_for_afterwards() -> None:
    log: list[str] = []
    erasure = Erasure(removed_cards=((-100, 7, 1), (-100, 9, 3)), kept_impulses=(2, 4))
    rights = DataRights(Records({"votes": ["a"]}, PLAN, erasure, log))
    late = asyncio.run(rights.erase("p", Conversation(log), Moderators(log)))
    assert late == Erasure(removed_cards=((-100, 9, 3),), kept_impulses=(4,))
    assert changed_since(PLAN, erasure) == late


def test_with_nothing_stored_only_the_conversation_goes() -> None:
    log: list[str] = []
    moderators = Moderators(log)
    late = asyncio.run(DataRights(Records(None, log=log)).erase("p", Conversation(log), moderators))
    assert late is None
    assert moderators.told == []
    assert log == ["plan", "erase", "forget"]
