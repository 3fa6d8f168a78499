"""Where a citizen is in the dialog: the aiogram FSM states of the dialog's steps.

The steps themselves, for every channel, are `bot.domain.dialog.Step`; `STATE_OF_STEP` is the one
place that maps them onto the states below. The states' names ("Dialog:consent", ...) are kept in
the database (storage/fsm.py), so they stay as they are: a conversation continues after an update.
"""

from aiogram.fsm.state import State, StatesGroup

from bot.domain.dialog import Step


class Dialog(StatesGroup):
    consent = State()  # the welcome and the full privacy notice (one message, edited)
    topics = State()
    impulse_text = State()
    impulse_topic = State()
    similar = State()  # similar published ideas were shown (handlers/citizen/similar_hint.py)
    review = State()


# Every step a person may stop in and continue from (bot.domain.dialog.RESUMABLE) has a state.
# The other steps keep no state on Telegram: declined, thanks and erased clear it, my_vote, erase
# and kept are answers to commands outside the flow (handlers/citizen/my_data.py).
STATE_OF_STEP: dict[Step, State] = {
    Step.WELCOME: Dialog.consent,
    Step.PRIVACY: Dialog.consent,
    Step.TOPICS: Dialog.topics,
    Step.IMPULSE: Dialog.impulse_text,
    Step.SIMILAR: Dialog.similar,
    Step.IMPULSE_TOPIC: Dialog.impulse_topic,
    Step.REVIEW: Dialog.review,
}

# A stored state name back to its step (the consent state: the welcome).
STEP_OF_STATE: dict[str, Step] = {
    state.state: step
    for step, state in reversed(list(STATE_OF_STEP.items()))
    if state.state is not None
}


def step_of(state: str | None) -> Step | None:
    """The step of a stored FSM state name; None outside the dialog's states."""
    return None if state is None else STEP_OF_STATE.get(state)


# Keys of the dialog's draft in the FSM data.
SOURCE = "source"
SELECTED = "selected"
IMPULSE_TEXT = "impulse_text"
IMPULSE_TOPIC = "impulse_topic"
DRAFT_KEY = "draft_key"
PROMPT = "prompt_message"  # the question that carries the "skip" button
TOPICS_MESSAGE = "topics_message"  # the live topic keyboard (one at a time)
EARLIER_IDEAS = "earlier_ideas"  # changing a stored vote: the ideas sent before, which stay
