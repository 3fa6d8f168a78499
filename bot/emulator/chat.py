"""`dialogbot chat`: talk to the real bot in this terminal, through the emulator.

Type text to send it; type a button's number to press it; `/quit` (or Ctrl-D) ends.
This is how a moderator previews the dialog before launch.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from bot.app.config import Settings
from bot.app.runtime import Application
from bot.emulator.demo import DEMO_TOKEN
from bot.emulator.server import BotApiEmulator, EmulatedUser
from bot.telegram.polling import poll


def render(user: EmulatedUser, seen: dict[int, str]) -> list[str]:
    """New or changed bot messages, with numbered buttons of the newest keyboard."""
    out: list[str] = []
    for message in user.messages:
        body = message.text
        if message.document is not None:
            body += f"\n📎 {message.filename} ({len(message.document)} Bytes)"
        if seen.get(message.message_id) != body + repr(message.buttons):
            prefix = "🤖 (bearbeitet)" if message.message_id in seen else "🤖"
            out.append(f"{prefix} {body}")
            seen[message.message_id] = body + repr(message.buttons)
    answers = user.callback_answers
    if answers and answers[-1].text and seen.get(-1) != str(len(answers)):
        out.append(f"ℹ️  {answers[-1].text}")
        seen[-1] = str(len(answers))
    return out


def buttons_of(user: EmulatedUser) -> list[tuple[int, str, str]]:
    """(message id, text, callback data) of the newest keyboard's buttons."""
    keyboards = [m for m in user.messages if m.buttons]
    if not keyboards:
        return []
    newest = keyboards[-1]
    return [(newest.message_id, b.text, b.callback_data) for b in newest.buttons if b.callback_data]


async def run_chat(settings: Settings, *, user_id: int, language: str) -> int:
    with tempfile.TemporaryDirectory(prefix="dialogbot-chat-") as folder:
        async with BotApiEmulator(token=DEMO_TOKEN) as emulator:
            chat_settings = settings.with_overrides(
                token=DEMO_TOKEN,
                api_base=emulator.base_url,
                database_url=f"sqlite+aiosqlite:///{Path(folder) / 'chat.sqlite3'}",
            )
            app = Application.build(chat_settings)
            await app.start()
            stop = asyncio.Event()
            polling = asyncio.create_task(poll(app.bot, app.pipeline, stop, poll_seconds=1))
            try:
                await _converse(emulator, app, emulator.user(user_id, language_code=language))
            finally:
                stop.set()
                await polling
                await app.close()
    return 0


async def _converse(emulator: BotApiEmulator, app: Application, user: EmulatedUser) -> None:
    print(
        "Chat mit dem Bot (über den Emulator). Text eingeben und Enter; eine Zahl drückt den "
        "Knopf mit dieser Nummer; /quit beendet.\n"
    )
    seen: dict[int, str] = {}
    user.send_text("/start")
    while True:
        await emulator.wait_fetched(timeout=10)
        await app.pipeline.wait_idle()
        for line in render(user, seen):
            print(line)
        buttons = buttons_of(user)
        for number, (_, text, _data) in enumerate(buttons, 1):
            print(f"   [{number}] {text}")
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line or line.strip() == "/quit":
            return
        choice = line.strip()
        if choice.isdigit() and 1 <= int(choice) <= len(buttons):
            message_id, _text, data = buttons[int(choice) - 1]
            user.press_data(message_id, data)
        elif choice:
            user.send_text(choice)
