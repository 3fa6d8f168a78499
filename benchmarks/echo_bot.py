"""The two floors: stock aiogram (Dispatcher, aiogram's own polling and session), no database.

Run by benchmarks/load.py as a separate process against the same emulator as the real bot, so
that "our updates/s divided by a floor's" says what our own code costs on top of the framework
and HTTP. Configured like the real bot: DIALOGBOT_API_BASE and DIALOGBOT_TOKEN. It runs on the
same event loop as the bot (uvloop where installed, bot/app/event_loop.py), so the ratios compare
the code on top of aiogram, not two event loops.

* ``echo_bot.py``: the bare echo bot; one handler answers each text with one sendMessage.
* ``echo_bot.py --walk WALK.json``: the same-calls floor. For each update of a citizen it makes
  exactly the Bot API calls our bot made for that step of a recorded walk (load.py records it
  from our bot through the emulator's call log): the same methods, texts and keyboards, built
  as aiogram method objects and sent through aiogram's stock session. The only state is the
  step and the ids of the messages sent, in aiogram's in-memory FSM storage; no database, no
  logic. The ids that differ per citizen are placeholders in the walk: ``$chat`` (the chat),
  ``$query`` (the button press being answered) and ``$sent:K`` (the K-th message this bot
  sent to the citizen).
"""

from __future__ import annotations

import argparse
import html
import json
import os
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.context import FSMContext
from aiogram.methods.base import TelegramMethod
from aiogram.types import CallbackQuery, Message

from bot.app.event_loop import run

# One call of a step: the method's class, its fields that are the same for every citizen
# (already validated, keyboards included, as a bot keeps its keyboards), and the fields whose
# value is a placeholder.
Call = tuple[type[TelegramMethod[Any]], dict[str, Any], dict[str, str]]
_DUMMY = {"$chat": 1, "$query": "0"}


async def echo(message: Message) -> None:
    await message.answer(html.escape(message.text or "?"))


def load_walk(path: Path) -> list[list[Call]]:
    """The recorded walk as method templates, validated once here."""
    steps: list[list[Call]] = []
    for recorded in json.loads(path.read_text())["steps"]:
        calls: list[Call] = []
        for call in recorded:
            name = call["method"]
            cls: type[TelegramMethod[Any]] = getattr(methods, name[0].upper() + name[1:])
            params: dict[str, Any] = call["params"]
            placeholders = {
                key: value
                for key, value in params.items()
                if isinstance(value, str) and value.startswith("$")
            }
            dummy = {key: _DUMMY.get(value, 1) for key, value in placeholders.items()}
            model = cls.model_validate({**params, **dummy})
            fixed = {key: getattr(model, key) for key in model.model_fields_set if key not in dummy}
            calls.append((cls, fixed, placeholders))
        steps.append(calls)
    return steps


class SameCalls:
    """Replays the walk: update N of a citizen gets the calls of step N (/start: step 0)."""

    def __init__(self, steps: list[list[Call]]) -> None:
        self.steps = steps

    async def on_message(self, message: Message, bot: Bot, state: FSMContext) -> None:
        restart = (message.text or "").startswith("/start")
        await self.replay(bot, state, message.chat.id, None, restart=restart)

    async def on_query(self, query: CallbackQuery, bot: Bot, state: FSMContext) -> None:
        await self.replay(bot, state, query.from_user.id, query.id, restart=False)

    async def replay(
        self, bot: Bot, state: FSMContext, chat_id: int, query_id: str | None, *, restart: bool
    ) -> None:
        data = {} if restart else await state.get_data()
        step: int = data.get("step", 0)
        sent: list[int] = list(data.get("sent", ()))
        if step >= len(self.steps):
            return
        for cls, fixed, placeholders in self.steps[step]:
            values = dict(fixed)
            for key, placeholder in placeholders.items():
                if placeholder == "$chat":
                    values[key] = chat_id
                elif placeholder == "$query":
                    values[key] = query_id
                else:
                    values[key] = sent[int(placeholder.removeprefix("$sent:"))]
            result = await bot(cls(**values))
            if cls.__name__.startswith("Send") and isinstance(result, Message):
                sent.append(result.message_id)
        await state.set_data({"step": step + 1, "sent": sent})


async def main(walk: Path | None) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["DIALOGBOT_API_BASE"]))
    dispatcher = Dispatcher()
    if walk is None:
        default = DefaultBotProperties(parse_mode=ParseMode.HTML)
        dispatcher.message.register(echo)
    else:
        # Every field as recorded, parse mode included: no defaults that could add one.
        default = DefaultBotProperties()
        same_calls = SameCalls(load_walk(walk))
        dispatcher.message.register(same_calls.on_message)
        dispatcher.callback_query.register(same_calls.on_query)
    bot = Bot(token=os.environ["DIALOGBOT_TOKEN"], session=session, default=default)
    await dispatcher.start_polling(bot, polling_timeout=1, handle_signals=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walk", type=Path, help="replay this recorded walk (load.py writes it)")
    run(main(parser.parse_args().walk))
