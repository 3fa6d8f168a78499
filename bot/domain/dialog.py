"""The citizen dialog's steps and the moves between them, for every channel.

One enum of the steps (`Step`), one of what a person may do (`Action`) and the allowed moves
(`MOVES`: from which step an action is accepted and which steps it may lead to). The Telegram
adapter maps its FSM states onto these steps (handlers/citizen/states.py); the web chat
(bot/web/app.py) keeps a `Step` per browser and accepts a posted action only where `allows` says
so; anything else is a button of a step that is over. docs/dialog.md draws the same moves as a
Mermaid diagram (tests/test_dialog_steps.py checks that it names every step).

The moves, in words:

- welcome: privacy (the full notice), decline, consent (registered: topics)
- privacy: welcome (back), decline, consent
- declined: welcome (start again), consent
- topics: topics done (no idea in the draft: impulse; a kept idea: impulse_topic or review)
- impulse: an idea (similar when it resembles published ideas, else impulse_topic or review),
  skip (review), keep or remove the drafted idea
- similar: support a similar idea (review) or keep one's own (impulse_topic or review); a
  choice no longer possible leaves the question standing
- impulse_topic: the idea's topic (review), show every topic (impulse_topic)
- review: submit (thanks), edit topics (topics), edit the idea (impulse)
- thanks, my_vote: change the vote (topics); no vote yet: restart (welcome)
- erase (the question before an erasure): erase (erased), keep the data (kept)
- kept, erased: nothing but a new start (restart: welcome)

Outside the steps, from anywhere: the language, "my vote" (my_vote), "erase my data" (erase),
and restart (welcome).
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    """Where a citizen is in the dialog. The values are kept in the database (web drafts)."""

    WELCOME = "welcome"
    PRIVACY = "privacy"
    DECLINED = "declined"
    TOPICS = "topics"
    IMPULSE = "impulse"
    SIMILAR = "similar"
    IMPULSE_TOPIC = "impulse_topic"
    REVIEW = "review"
    THANKS = "thanks"
    MY_VOTE = "my_vote"
    ERASE = "erase"
    KEPT = "kept"
    ERASED = "erased"


class Action(StrEnum):
    """What a person does in a step (the web chat's posted `action`)."""

    PRIVACY = "privacy"
    WELCOME = "welcome"
    DECLINE = "decline"
    CONSENT = "consent"
    TOPICS = "topics"
    IMPULSE = "impulse"
    SKIP = "skip"
    KEEP_IMPULSE = "keep_impulse"
    REMOVE_IMPULSE = "remove_impulse"
    SIMILAR_CHOICE = "similar_choice"
    IMPULSE_TOPIC = "impulse_topic"
    SUBMIT = "submit"
    EDIT_TOPICS = "edit_topics"
    EDIT_IMPULSE = "edit_impulse"
    CHANGE = "change"
    ERASE = "erase"
    KEEP_DATA = "keep_data"
    RESTART = "restart"
    LANGUAGE = "language"


# Steps in which a person has not (yet) agreed: the consent screens.
CONSENT_STEPS = frozenset({Step.WELCOME, Step.PRIVACY, Step.DECLINED})

# Steps of a dialog in progress: a person who stops here continues here (Telegram keeps each
# as an FSM state, handlers/citizen/states.py). The others are ends or places outside the flow.
RESUMABLE = frozenset(
    {
        Step.WELCOME,
        Step.PRIVACY,
        Step.TOPICS,
        Step.IMPULSE,
        Step.SIMILAR,
        Step.IMPULSE_TOPIC,
        Step.REVIEW,
    }
)

_AFTER_IDEA = frozenset({Step.IMPULSE_TOPIC, Step.REVIEW})

# From a step, by an action, to one of these steps (the same step: the question stands).
MOVES: dict[Step, dict[Action, frozenset[Step]]] = {
    Step.WELCOME: {
        Action.PRIVACY: frozenset({Step.PRIVACY}),
        Action.WELCOME: frozenset({Step.WELCOME}),
        Action.DECLINE: frozenset({Step.DECLINED}),
        Action.CONSENT: frozenset({Step.TOPICS, Step.WELCOME}),
    },
    Step.PRIVACY: {
        Action.PRIVACY: frozenset({Step.PRIVACY}),
        Action.WELCOME: frozenset({Step.WELCOME}),
        Action.DECLINE: frozenset({Step.DECLINED}),
        Action.CONSENT: frozenset({Step.TOPICS, Step.PRIVACY}),
    },
    Step.DECLINED: {
        Action.PRIVACY: frozenset({Step.PRIVACY}),
        Action.WELCOME: frozenset({Step.WELCOME}),
        Action.DECLINE: frozenset({Step.DECLINED}),
        Action.CONSENT: frozenset({Step.TOPICS, Step.DECLINED}),
    },
    Step.TOPICS: {
        Action.TOPICS: frozenset({Step.TOPICS, Step.IMPULSE}) | _AFTER_IDEA,
    },
    Step.IMPULSE: {
        Action.IMPULSE: frozenset({Step.IMPULSE, Step.SIMILAR}) | _AFTER_IDEA,
        Action.SKIP: frozenset({Step.REVIEW}),
        Action.KEEP_IMPULSE: _AFTER_IDEA,
        Action.REMOVE_IMPULSE: frozenset({Step.IMPULSE}),
    },
    Step.SIMILAR: {
        Action.SIMILAR_CHOICE: frozenset({Step.SIMILAR}) | _AFTER_IDEA,
    },
    Step.IMPULSE_TOPIC: {
        Action.IMPULSE_TOPIC: frozenset({Step.IMPULSE_TOPIC, Step.REVIEW}),
    },
    Step.REVIEW: {
        Action.SUBMIT: frozenset({Step.THANKS, Step.REVIEW}),
        Action.EDIT_TOPICS: frozenset({Step.TOPICS}),
        Action.EDIT_IMPULSE: frozenset({Step.IMPULSE}),
    },
    Step.THANKS: {Action.CHANGE: frozenset({Step.TOPICS})},
    Step.MY_VOTE: {Action.CHANGE: frozenset({Step.TOPICS})},
    Step.ERASE: {
        Action.ERASE: frozenset({Step.ERASED}),
        Action.KEEP_DATA: frozenset({Step.KEPT}),
    },
    Step.KEPT: {},
    Step.ERASED: {},
}

# Accepted in every step: the language (the step stays), keeping one's data (a confirmation
# shown in another tab), and a new start.
ANYWHERE: dict[Action, frozenset[Step]] = {
    Action.LANGUAGE: frozenset(Step),
    Action.KEEP_DATA: frozenset({Step.KEPT}),
    Action.RESTART: frozenset({Step.WELCOME}),
}


def allows(step: Step, action: Action) -> bool:
    """Whether `action` belongs to `step` (otherwise: a button of a step that is over)."""
    return action in ANYWHERE or action in MOVES[step]


def next_steps(step: Step, action: Action) -> frozenset[Step]:
    """The steps `action` may lead to from `step` (empty: not allowed there)."""
    if action in MOVES[step]:
        return MOVES[step][action]
    if action in ANYWHERE:
        return ANYWHERE[action] if action is not Action.LANGUAGE else frozenset({step})
    return frozenset()


def step_named(value: str | None) -> Step | None:
    """A stored step name as a `Step`; None for nothing stored or a name no longer known."""
    if value is None:
        return None
    try:
        return Step(value)
    except ValueError:
        return None
