"""Where a moderator's chat is: the answer mode (handlers/moderation/answers.py)."""

from aiogram.fsm.state import State, StatesGroup


class Answering(StatesGroup):
    text = State()  # the next text is the answer
    preview = State()  # the answer is shown with "Senden" / "Ändern" / "Abbrechen"


# Keys of the answer's draft in the FSM data.
IMPULSE, STATUS, ANSWER, SINCE = "impulse", "status", "answer", "since"
