"""The floor: a bare aiogram echo bot (Dispatcher, one handler, aiogram's own polling).

Run by benchmarks/load.py as a separate process against the same emulator as the real bot, so
that "our updates/s divided by the echo bot's" says how much the dialog itself costs on top of
the framework and HTTP. Configured like the real bot: DIALOGBOT_API_BASE and DIALOGBOT_TOKEN.
It runs on the same event loop as the bot (uvloop where installed, bot/app/event_loop.py), so the
ratio compares the code on top of aiogram, not two event loops.
"""

from __future__ import annotations

import html
import os

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import Message

from bot.app.event_loop import run


async def echo(message: Message) -> None:
    await message.answer(html.escape(message.text or "?"))


async def main() -> None:
    bot = Bot(
        token=os.environ["DIALOGBOT_TOKEN"],
        session=AiohttpSession(api=TelegramAPIServer.from_base(os.environ["DIALOGBOT_API_BASE"])),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    dispatcher = Dispatcher()
    dispatcher.message.register(echo)
    await dispatcher.start_polling(bot, polling_timeout=1, handle_signals=True)


if __name__ == "__main__":
    run(main())
