"""Domain rules, tested directly: no aiogram, no database."""

from __future__ import annotations

import pytest

from bot.domain.impulse import ImpulseProblem, check_impulse, is_skip, meaningful_length
from bot.domain.pseudonym import pseudonym_for
from bot.domain.selection import Toggle, clean_selection, toggle_topic
from bot.domain.standings import percent, rank_standings

KNOWN = ("a", "b", "c", "d")


def test_toggle_adds_removes_and_respects_the_limit() -> None:
    r = toggle_topic((), "a", choose=True, known=KNOWN, limit=2)
    assert (r.selected, r.outcome) == (("a",), Toggle.ADDED)
    r = toggle_topic(r.selected, "b", choose=True, known=KNOWN, limit=2)
    r = toggle_topic(r.selected, "c", choose=True, known=KNOWN, limit=2)
    assert (r.selected, r.outcome, r.changed) == (("a", "b"), Toggle.LIMIT_REACHED, False)
    r = toggle_topic(r.selected, "a", choose=False, known=KNOWN, limit=2)
    assert (r.selected, r.outcome) == (("b",), Toggle.REMOVED)


def test_the_same_tap_twice_does_not_undo_itself() -> None:
    r = toggle_topic(("a",), "a", choose=True, known=KNOWN, limit=1)
    assert (r.selected, r.outcome, r.changed) == (("a",), Toggle.ALREADY, False)
    r = toggle_topic(("a",), "b", choose=False, known=KNOWN, limit=3)
    assert (r.selected, r.outcome, r.changed) == (("a",), Toggle.ALREADY, False)


def test_toggle_ignores_unknown_topics() -> None:
    r = toggle_topic(("a",), "zzz", choose=True, known=KNOWN, limit=3)
    assert (r.selected, r.outcome) == (("a",), Toggle.UNKNOWN_TOPIC)


def test_clean_selection_drops_unknown_repeats_and_overflow() -> None:
    assert clean_selection(["a", "x", "a", "b", "c", "d"], known=KNOWN, limit=3) == ("a", "b", "c")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", ImpulseProblem.EMPTY),
        ("   \n\t ", ImpulseProblem.EMPTY),
        ("\u200b\u200b\u202e", ImpulseProblem.EMPTY),  # zero-width and direction override
        ("kurz", ImpulseProblem.TOO_SHORT),
        ("a\u200b" * 9, ImpulseProblem.TOO_SHORT),  # invisible characters do not count
        ("x" * 21, ImpulseProblem.TOO_LONG),
        ("genau zehn", None),
        ("🚲🚲🚲🚲🚲🚲🚲🚲🚲🚲", None),
    ],
)
def test_impulse_rules(text: str, problem: ImpulseProblem | None) -> None:
    assert check_impulse(text, min_length=10, max_length=20) is problem


def test_meaningful_length_counts_visible_characters() -> None:
    assert meaningful_length(" a b\u200b c ") == 5


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "OK!",
        "Okay 👍",
        "nein danke",
        "Nein, danke.",
        "keine Idee",
        "Keine Idee!",
        "weiß nicht",
        "Weiss nicht...",
        "Ich weiß es nicht.",  # Leichte Sprache
        "Ich habe keine Idee.",
        "no thanks",
        "I don't know",
        "I don\u2019t know",
        "no idea",
        "Hayır, teşekkürler",
        "HAYIR",
        "fikrim yok",
        "bilmiyorum",
        " nein\u200b danke ",
    ],
)
def test_answers_that_mean_no_idea_are_a_skip(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "👍",
        "...",
        "ja",  # may mean "yes, I will write one": asked again, as too short
        "yes",
        "Mehr Bänke",
        "nein danke, aber mehr Busse am Abend",
        "Keine Idee ist zu klein: mehr Bänke im Park",
        "Okay, dann: ein Ticket für alles",
    ],
)
def test_an_idea_is_not_taken_for_a_skip(text: str) -> None:
    assert not is_skip(text)


def test_shares_are_of_participants_and_may_add_up_to_more_than_one() -> None:
    standings = rank_standings(("a", "b", "c", "d"), {"a": 38, "b": 32, "d": 32}, 100)
    assert [(t.topic_id, t.votes, t.rank) for t in standings.topics] == [
        ("a", 38, 1),
        ("b", 32, 2),
        ("d", 32, 2),
        ("c", 0, 4),
    ]
    assert sum(t.share for t in standings.topics) == pytest.approx(1.02)


def test_no_participants_means_zero_shares() -> None:
    standings = rank_standings(("a",), {}, 0)
    assert standings.topics[0].share == 0.0


def test_percent_rounds_half_up() -> None:
    assert (percent(0.385), percent(0.384), percent(1.0)) == (39, 38, 100)


def test_pseudonyms_are_stable_keyed_and_not_the_id() -> None:
    a = pseudonym_for(8_000_000_000, "secret-one")
    assert a == pseudonym_for(8_000_000_000, "secret-one")
    assert a != pseudonym_for(8_000_000_000, "secret-two")
    assert a != pseudonym_for(8_000_000_001, "secret-one")
    assert "8000000000" not in a and len(a) == 32
