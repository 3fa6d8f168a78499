"""The bot's Bot API client decodes answers without the keyboard a sent message echoes, and
leaves updates (and everything else) as Telegram sent them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator.server import BotApiEmulator
from bot.telegram.client import loads_answer
from tests.harness import Harness

TOKEN = "123456:TEST-client-token"
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text=f"Thema {i}", callback_data=f"t:{i}")] for i in range(20)
    ]
)


@pytest.fixture
async def lean_bot() -> AsyncIterator[tuple[BotApiEmulator, Bot]]:
    async with BotApiEmulator(token=TOKEN) as emu:
        api = TelegramAPIServer.from_base(emu.base_url)
        bot = Bot(TOKEN, session=AiohttpSession(api=api, json_loads=loads_answer))
        try:
            yield emu, bot
        finally:
            await bot.session.close()


async def test_a_sent_message_comes_back_without_its_keyboard(
    lean_bot: tuple[BotApiEmulator, Bot],
) -> None:
    emu, bot = lean_bot
    user = emu.user(31)
    sent = await bot.send_message(user.id, "Welche Themen?", reply_markup=KEYBOARD)
    assert sent.reply_markup is None
    assert (sent.chat.id, sent.text) == (user.id, "Welche Themen?")
    edited = await bot.edit_message_text(
        "Gewählt: 1 von 3", chat_id=user.id, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    assert not isinstance(edited, bool)
    assert edited.message_id == sent.message_id and edited.reply_markup is None
    # What the person sees still has it: only our copy of the answer is lean.
    assert len(user.last_message.reply_markup) == 20


async def test_a_pressed_buttons_message_keeps_its_keyboard_in_the_update(
    lean_bot: tuple[BotApiEmulator, Bot],
) -> None:
    emu, bot = lean_bot
    user = emu.user(32)
    await bot.send_message(user.id, "Welche Themen?", reply_markup=KEYBOARD)
    user.press("Thema 3")
    [update] = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.data == "t:3"
    markup = getattr(update.callback_query.message, "reply_markup", None)
    assert markup is not None
    assert [row[0].callback_data for row in markup.inline_keyboard] == [f"t:{i}" for i in range(20)]


@pytest.mark.parametrize(
    "answer",
    [
        {"ok": True, "result": True},
        {"ok": True, "result": [{"update_id": 1, "message": {"reply_markup": {}}}]},
        {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"},
        {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Dialog"}},
    ],
)
def test_other_answers_are_decoded_as_they_are(answer: dict[str, object]) -> None:
    assert loads_answer(json.dumps(answer)) == answer


@pytest.mark.sqlite_only
async def test_the_running_bot_decodes_its_answers_this_way(harness: Harness) -> None:
    """The application's own Bot (bot/app/runtime.py) uses this decoder, not only a Bot built
    here."""
    assert harness.bot.app is not None
    user = harness.emulator.user(33)
    sent = await harness.bot.app.bot.send_message(user.id, "Welche Themen?", reply_markup=KEYBOARD)
    assert sent.reply_markup is None and sent.text == "Welche Themen?"
    assert len(user.last_message.reply_markup) == 20
