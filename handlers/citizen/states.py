"""Where a citizen is in the dialog."""

from aiogram.fsm.state import State, StatesGroup


class Dialog(StatesGroup):
    consent = State()
    topics = State()
    impulse_text = State()
    impulse_topic = State()
    similar = State()  # similar published ideas were shown (handlers/citizen/similar_hint.py)
    review = State()


# Keys of the dialog's draft in the FSM data.
SOURCE = "source"
SELECTED = "selected"
IMPULSE_TEXT = "impulse_text"
IMPULSE_TOPIC = "impulse_topic"
DRAFT_KEY = "draft_key"
PROMPT = "prompt_message"  # the question that carries the "skip" button
TOPICS_MESSAGE = "topics_message"  # the live topic keyboard (one at a time)
EARLIER_IDEAS = "earlier_ideas"  # changing a stored vote: the ideas sent before, which stay
