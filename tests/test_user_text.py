"""Checks on user text are linear, bounded and never block the event loop for anybody else."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

import pytest

import bot.domain.participation as participation
from bot.domain.impulse import MAX_CHECKED, contact_data, is_duplicate, near_identical
from tests.harness import Harness

# The worst input known for an edit-distance check: two long texts of the same few characters
# in a different order (an earlier SequenceMatcher check took 8.6 s on 999 characters of it).
STORED = ("ab " * 400)[:999]
CRAFTED = ("ba " * 400)[:999]


class TooMuchWork(Exception):
    pass


def traced_lines(call: Callable[[], object], budget: int) -> int:
    """Python lines executed by `call` (a count of operations, not a time), stopping it with
    TooMuchWork once it exceeds `budget`."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > budget:
                raise TooMuchWork
        return trace

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("length", [100, 1000, MAX_CHECKED, 4 * MAX_CHECKED])
def test_the_duplicate_check_does_work_linear_in_the_input_and_bounded(length: int) -> None:
    stored, crafted = ("ab " * length)[:length], ("ba " * length)[:length]
    # About a dozen Python lines per character read; never more than MAX_CHECKED characters.
    budget = 12 * 2 * min(length, MAX_CHECKED) + 200
    lines = traced_lines(lambda: near_identical(stored, crafted), budget)
    assert lines <= budget
    earlier = [stored] * 5
    lines = traced_lines(lambda: is_duplicate(crafted, earlier), 6 * budget)
    assert lines <= 6 * budget


def test_shingles_still_find_the_same_idea_and_tell_different_ones_apart() -> None:
    idea = "Nachtbusse am Wochenende zwischen allen Innenstädten im Stundentakt."
    assert near_identical(
        idea, "nachtbusse am wochenende, zwischen allen Innenstädten im Stundentakt"
    )
    assert near_identical(idea, idea.replace("Stundentakt", "Halbstundentakt"))
    assert not near_identical(idea, "Am Wochenende sollen Nachtbusse die Innenstädte verbinden.")
    assert not near_identical(STORED, CRAFTED)
    assert is_duplicate(idea, ["Etwas ganz anderes, wirklich", idea.upper()])


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Infos unter www.mein-verein-shop.de oder 0201 1234567", {"link", "phone"}),
        ("Kontakt: sport@example.org bitte", {"email"}),
        ("Siehe ruhr-dialog.nrw und https://example.com/x", {"link"}),
        ("Preis 3.50 Euro, Version 1.2.3, Ziel 2030", set()),
        ("a." * 2000 + "@", set()),  # took the old link pattern 150 ms per 1,000 characters
    ],
)
def test_contact_data_is_still_found(text: str, kinds: set[str]) -> None:
    assert contact_data(text) == kinds


async def test_a_crafted_idea_does_not_stop_others_being_answered(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    crafter, other = harness.citizen(8101), harness.citizen(8102)
    await crafter.take_part(["Mobilität & ÖPNV"], impulse=STORED)
    await crafter.send("/meinvotum")
    await crafter.press("Wahl ändern")
    await crafter.press("Weiter")
    assert "Schritt 2 von 3" in crafter.last_text
    answered_before = len(other.user.messages)
    events: list[str] = []
    real = participation.is_duplicate

    def slow_check(text: str, earlier: Iterable[str]) -> bool:
        # Stands for a check that takes long: the other citizen writes only once it has begun,
        # and it goes on only once that person has been answered, which can happen meanwhile
        # only if the check leaves the event loop free.
        events.append("check started")
        loop.call_soon_threadsafe(other.user.send_text, "/start")  # only now
        deadline = time.monotonic() + 5
        while len(other.user.messages) == answered_before and time.monotonic() < deadline:
            time.sleep(0.01)
        if len(other.user.messages) > answered_before:
            events.append("other citizen answered")
        result = real(text, earlier)
        events.append("check finished")
        return result

    monkeypatch.setattr(participation, "is_duplicate", slow_check)
    loop = asyncio.get_running_loop()
    crafter.user.send_text(CRAFTED)
    await harness.settle()
    assert events == ["check started", "other citizen answered", "check finished"]
    assert "Dialog zur Ruhr-Konferenz" in other.user.messages[answered_before].text
    assert "Schritt 3 von 3" in crafter.last_text  # the crafted idea was handled in full


def test_a_similar_idea_lookup_reads_a_bounded_part_of_the_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.domain import similarity_index
    from bot.domain.similarity import IndexedImpulse

    index = similarity_index.SimilarityIndex()
    words = [f"wort{i:03d}" for i in range(300)]
    index.add(IndexedImpulse(i, "t", " ".join(words[i % 7 :: 7])) for i in range(1, 400))
    monkeypatch.setattr(similarity_index, "MAX_POSTINGS", 500)
    read: list[int] = []
    matrix = index._weighted_t

    class Counting:
        def __getitem__(self, rows: Any) -> Any:
            part = matrix[rows]
            read.append(part.nnz)
            return part

    index._weighted_t = Counting()  # type: ignore[assignment]
    index.query(" ".join(words)[:1000])  # every n-gram of the index at once
    assert read and sum(read) <= 500


async def test_a_similar_idea_lookup_does_not_stop_others_being_answered(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.domain import similarity_index

    harness.bot.settings = harness.settings.with_overrides(moderation_mode="post")
    await harness.bot.restart()
    await harness.citizen(8201).take_part(
        ["Mobilität & ÖPNV"], impulse="Nachtbusse am Wochenende zwischen allen Innenstädten."
    )
    asker, other = harness.citizen(8202), harness.citizen(8203)
    await asker.send("/start")
    await asker.press("Mitmachen")
    await asker.press("Mobilität & ÖPNV")
    await asker.press("Weiter")
    answered_before = len(other.user.messages)
    events: list[str] = []
    real = similarity_index.SimilarityIndex.query

    def slow_query(self: Any, text: str, **kwargs: Any) -> Any:
        events.append("lookup started")
        loop.call_soon_threadsafe(other.user.send_text, "/start")  # only now
        deadline = time.monotonic() + 5
        while len(other.user.messages) == answered_before and time.monotonic() < deadline:
            time.sleep(0.01)
        if len(other.user.messages) > answered_before:
            events.append("other citizen answered")
        result = real(self, text, **kwargs)
        events.append("lookup finished")
        return result

    monkeypatch.setattr(similarity_index.SimilarityIndex, "query", slow_query)
    loop = asyncio.get_running_loop()
    asker.user.send_text("Nachtbusse am Wochenende zwischen den Innenstädten, bitte!")
    await harness.settle()
    assert events == ["lookup started", "other citizen answered", "lookup finished"]
    assert "Ähnliche" in asker.last_text or "ähnlich" in asker.last_text.lower()
