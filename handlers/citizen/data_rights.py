"""Seeing and erasing one's own data are rights a block does not take away (GDPR Art. 15, 17).

`bot.telegram.middlewares.BlockedCitizens` lets these inputs through to the routers.
"""

from aiogram.types import CallbackQuery, Message, TelegramObject

from handlers.citizen.callbacks import Step, StepCallback
from handlers.citizen.commands import ERASE, MY_DATA

# Every name of the two commands, in every language (/mydata, /sil, ...), not only the German.
DATA_RIGHTS_COMMANDS = frozenset(f"/{name}" for name in (*MY_DATA.aliases, *ERASE.aliases))
DATA_RIGHTS_BUTTONS = frozenset(
    {StepCallback(step=Step.ERASE).pack(), StepCallback(step=Step.KEEP_DATA).pack()}
)


def data_rights(event: TelegramObject) -> bool:
    """Whether this input asks for one's data or its erasure (or answers that question)."""
    if isinstance(event, Message) and event.chat.type == "private" and event.text:
        command = event.text.split(maxsplit=1)[0].split("@", 1)[0].lower()
        return command in DATA_RIGHTS_COMMANDS
    if isinstance(event, CallbackQuery):
        return event.data in DATA_RIGHTS_BUTTONS
    return False
