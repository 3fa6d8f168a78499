"""The citizen dialog's steps, declared once (bot/domain/dialog.py): the moves between them, the
Telegram states that keep them, the web chat that checks a posted action against them, and
docs/dialog.md's diagram that draws them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app.web_command import web_app_for
from bot.domain.dialog import (
    ANYWHERE,
    MOVES,
    RESUMABLE,
    Action,
    Step,
    allows,
    next_steps,
    step_named,
)
from bot.web.app import Draft
from handlers.citizen.states import STATE_OF_STEP, Dialog, step_of
from tests.harness import ROOT, Harness, RunningBot, make_settings
from tests.web_client import WebCitizen, browser, served

# Domain: the moves


def test_every_step_has_its_moves_and_every_move_leads_to_a_step() -> None:
    assert set(MOVES) == set(Step)
    for moves in MOVES.values():
        for targets in moves.values():
            assert targets and targets <= set(Step)


def test_every_step_is_reached_from_the_welcome() -> None:
    # my_vote and erase are reached from anywhere (commands, links); the rest by moves.
    reached, todo = {Step.WELCOME, Step.MY_VOTE, Step.ERASE}, [Step.WELCOME]
    todo += [Step.MY_VOTE, Step.ERASE]
    while todo:
        step = todo.pop()
        for action in Action:
            for target in next_steps(step, action) - reached:
                reached.add(target)
                todo.append(target)
    assert reached == set(Step)


def test_an_action_belongs_to_its_step() -> None:
    assert allows(Step.REVIEW, Action.SUBMIT)
    assert not allows(Step.TOPICS, Action.SUBMIT)
    assert not allows(Step.THANKS, Action.SUBMIT)  # a second submit
    assert not allows(Step.TOPICS, Action.CONSENT)
    assert not allows(Step.REVIEW, Action.DECLINE)
    assert not allows(Step.KEPT, Action.ERASE)  # only after the question
    assert allows(Step.ERASE, Action.ERASE)
    assert next_steps(Step.REVIEW, Action.SUBMIT) == {Step.THANKS, Step.REVIEW}
    assert next_steps(Step.TOPICS, Action.SUBMIT) == frozenset()
    # The similar-idea hint (both channels): only while it is shown.
    assert allows(Step.SIMILAR, Action.SIMILAR_CHOICE)
    assert not allows(Step.IMPULSE, Action.SIMILAR_CHOICE)
    assert Step.SIMILAR in next_steps(Step.IMPULSE, Action.IMPULSE)
    for step in Step:
        for action in ANYWHERE:
            assert allows(step, action)
        assert next_steps(step, Action.LANGUAGE) == {step}


def test_stored_step_names_are_the_enum_values() -> None:
    # The web drafts keep these names: renaming one would strand a stored conversation.
    assert [s.value for s in Step] == [
        "welcome",
        "privacy",
        "declined",
        "topics",
        "impulse",
        "similar",
        "impulse_topic",
        "review",
        "thanks",
        "my_vote",
        "erase",
        "kept",
        "erased",
    ]
    assert step_named("impulse_topic") is Step.IMPULSE_TOPIC
    assert step_named("no_such_step") is None and step_named(None) is None


def test_a_stored_web_draft_loads_with_its_step() -> None:
    draft = Draft.restored("review", {"selected": ["bildung"]}, "de")
    assert draft.step is Step.REVIEW and draft.selected == ["bildung"]
    # A name no longer known starts at the welcome instead of failing.
    assert Draft.restored("gone", {}, "de").step is Step.WELCOME


# Telegram: the states


def test_the_telegram_states_cover_every_step_a_person_continues_from() -> None:
    assert set(STATE_OF_STEP) == RESUMABLE
    # Every state of the dialog is some step, and its stored name stays what it was.
    assert {state.state for state in STATE_OF_STEP.values()} == {
        state.state for state in Dialog.__states__
    }
    assert {state.state for state in Dialog.__states__} == {
        "Dialog:consent",
        "Dialog:topics",
        "Dialog:impulse_text",
        "Dialog:impulse_topic",
        "Dialog:similar",
        "Dialog:review",
    }
    assert step_of("Dialog:consent") is Step.WELCOME
    assert step_of("Dialog:impulse_text") is Step.IMPULSE
    assert step_of(None) is None and step_of("Other:state") is None
    for step, state in STATE_OF_STEP.items():
        assert step_of(state.state) in (step, Step.WELCOME)


# docs/dialog.md: the diagram


def _diagram() -> str:
    text = (ROOT / "docs" / "dialog.md").read_text(encoding="utf-8")
    found = re.search(r"```mermaid\nstateDiagram-v2\n(.*?)```", text, re.S)
    assert found, "docs/dialog.md has no state diagram"
    return found.group(1)


def test_the_diagram_names_every_step() -> None:
    diagram = _diagram()
    named = set(re.findall(r"^\s*(\S+) --> (\S+?):?(?:\s|$)", diagram, re.M))
    nodes = {node for edge in named for node in edge} - {"[*]"}
    assert nodes == {s.value for s in Step}


def test_the_diagram_draws_only_allowed_moves() -> None:
    for source, target in re.findall(r"^\s*(\w+) --> (\w+)", _diagram(), re.M):
        reachable = set().union(*(next_steps(Step(source), a) for a in Action))
        assert Step(target) in reachable, f"{source} --> {target}"


# Web: a posted action is checked against the step


@pytest.fixture
async def person(emulator: Any, database_url: str) -> AsyncIterator[WebCitizen]:
    bot = RunningBot(make_settings(emulator.base_url, database_url))
    await bot.start()
    try:
        assert bot.app is not None
        h = Harness(emulator, bot)
        assert h.bot.app is not None
        async with served(web_app_for(h.bot.app)) as running, browser(running) as citizen:
            yield citizen
    finally:
        await bot.stop()


async def test_a_button_of_another_step_is_told_the_page_is_stale(person: WebCitizen) -> None:
    await person.open()
    await person.press("consent")
    assert "Themen" in person.now
    # A decline or a submit kept in another tab: not a move of the topics step.
    await person.press("decline")
    assert person.status == 200 and "veraltet" in person.now
    await person.press("submit")
    assert person.status == 200 and "veraltet" in person.now
    # A forged action, and the similar-idea choice outside its step: the same friendly
    # answer, not an error.
    for forged in ("drop_table", "similar_choice"):
        await person.press(forged)
        assert person.status == 200 and "veraltet" in person.now
    # The step is still the topics.
    await person.press("topics", topic=["bildung"])
    assert person.status == 200 and "Idee" in person.now
