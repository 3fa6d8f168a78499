"""What a Bot API call costs in our process, stock aiogram session against the lean one.

Per call of the dialog: encoding the request (aiogram's form, every nested object a JSON string
of its own, against one orjson body; bot/telegram/session.py) and reading the answer (aiogram's
`check_response`, json.loads and the whole echoed message validated into pydantic models,
against orjson and the message read by its id). And per update: its JSON for the inbox (the
validated model dumped again, against the object as received, re-encoded by orjson). No
network: only the CPU each side spends in this process. Best of five rounds (`--rounds`).

    .venv/bin/python benchmarks/session.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.telegram.lean_aiogram import import_aiogram

import_aiogram()  # as `dialogbot` does

# ruff: noqa: E402 - import_aiogram() has to come before the imports that load aiogram

import orjson
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ParseMode
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.app.config import load_settings
from bot.telegram.session import LeanSession, json_body

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:benchmark-token"
CHAT = 8_000_000_123


def topics_keyboard() -> InlineKeyboardMarkup:
    """The topics step's keyboard: the 19 topics of config.example.toml in two columns, and
    the last button."""
    settings = load_settings(ROOT / "config.example.toml", env={})
    buttons = [
        InlineKeyboardButton(text=f"✅ {t.title}" if i < 2 else t.title, callback_data=f"t:{t.id}")
        for i, t in enumerate(settings.consultation.topics)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(text="Weiter · 2 von 3 gewählt", callback_data="t:done")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


TEXT = (
    "<b>Schritt 1 von 3: Ihre Prioritäten</b>\nWelche Themen soll die Region zuerst angehen? "
    "Tippen Sie bis zu 3 Themen an.\n\nGewählt: 2 von 3\n"
    "• Mobilität &amp; ÖPNV\n• Sport &amp; Events"
)


def calls() -> dict[str, TelegramMethod[Any]]:
    keyboard = topics_keyboard()
    return {
        "sendMessage (topics keyboard)": SendMessage(
            chat_id=CHAT, text=TEXT, reply_markup=keyboard
        ),
        "editMessageText (topics keyboard)": EditMessageText(
            chat_id=CHAT, message_id=42, text=TEXT, reply_markup=keyboard
        ),
        "answerCallbackQuery (a notice)": AnswerCallbackQuery(
            callback_query_id="5817302871627317", text="Sport & Events gewählt – 2 von 3"
        ),
    }


def answer_to(method: TelegramMethod[Any]) -> bytes:
    """What Telegram answers: true, or the whole message with its keyboard."""
    if isinstance(method, AnswerCallbackQuery):
        return b'{"ok":true,"result":true}'
    fields = method.model_dump(exclude_none=True)
    message = {
        "message_id": 42,
        "from": {"id": 4242, "is_bot": True, "first_name": "Dialog", "username": "dialog_bot"},
        "chat": {"id": CHAT, "first_name": "Ada", "type": "private"},
        "date": 1_764_800_000,
        "text": "Schritt 1 von 3: Ihre Prioritäten\nWelche Themen …",
        "entities": [{"type": "bold", "offset": 0, "length": 33}],
        "reply_markup": fields["reply_markup"],
    }
    if isinstance(method, EditMessageText):
        message["edit_date"] = 1_764_800_005
    return orjson.dumps({"ok": True, "result": message})


def a_press() -> dict[str, Any]:
    """A topic tap as getUpdates delivers it: the pressed message comes with its keyboard."""
    keyboard = topics_keyboard().model_dump(exclude_none=True)
    user = {"id": CHAT, "is_bot": False, "first_name": "Ada", "language_code": "de"}
    return {
        "update_id": 700_000_001,
        "callback_query": {
            "id": "5817302871627317",
            "from": user,
            "chat_instance": "-2736112891",
            "data": "t:sport",
            "message": {
                "message_id": 42,
                "from": {"id": 4242, "is_bot": True, "first_name": "Dialog"},
                "chat": {"id": CHAT, "first_name": "Ada", "type": "private"},
                "date": 1_764_800_000,
                "text": "Schritt 1 von 3: Ihre Prioritäten",
                "reply_markup": keyboard,
            },
        },
    }


ROUNDS = 5


def per_call(work: Callable[[], Any], n: int) -> float:
    """µs per call, best of `ROUNDS` rounds of `n` (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(n):
            work()
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def stock_encode(session: AiohttpSession, bot: Bot, method: TelegramMethod[Any]) -> bytes:
    """aiogram's request body: its form, encoded as aiohttp sends it."""
    payload = session.build_form_data(bot, method)()
    return bytes(payload._value)


def without_keyboard(content: str) -> Any:
    """The decoder the lean session replaced: json.loads, then the echoed keyboard dropped
    before aiogram validates the message."""
    answer = json.loads(content)
    if isinstance(answer, dict) and isinstance(answer.get("result"), dict):
        answer["result"].pop("reply_markup", None)
    return answer


def main() -> None:
    global ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds; the best counts")
    args = parser.parse_args()
    n = args.calls
    ROUNDS = args.rounds
    bot = Bot(TOKEN, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    stock, lean = AiohttpSession(), LeanSession()
    before = AiohttpSession(json_loads=without_keyboard)
    rows: list[tuple[str, str, float, float, float]] = []
    for name, method in calls().items():
        encoded = stock_encode(stock, bot, method), json_body(bot, method)
        assert encoded[1] is not None
        rows.append(
            (
                name,
                f"encode ({len(encoded[0])} / {len(encoded[1])} bytes)",
                stock_us := per_call(lambda m=method: stock_encode(stock, bot, m), n),
                stock_us,
                per_call(lambda m=method: json_body(bot, m), n),
            )
        )
        raw = answer_to(method)
        text = raw.decode()
        rows.append(
            (
                name,
                "read the answer",
                per_call(lambda m=method, t=text: stock.check_response(bot, m, 200, t), n),
                per_call(lambda m=method, t=text: before.check_response(bot, m, 200, t), n),
                per_call(lambda m=method, r=raw: lean.read_answer(bot, m, 200, r), n),
            )
        )
    press = a_press()
    update = Update.model_validate(press, context={"bot": bot})
    rows.append(
        (
            "a topic tap (getUpdates)",
            "its JSON for the inbox",
            stock_us := per_call(lambda: update.model_dump_json(exclude_unset=True), n),
            stock_us,
            per_call(lambda: orjson.dumps(press).decode(), n),
        )
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# benchmarks/session.py, {when}, {platform.python_version()}, {platform.machine()}")
    print(f"# µs per call, best of {ROUNDS} rounds of {n}")
    # before: this project with the replaced decoder (the keyboard dropped, the rest validated).
    print("| call | what | stock | before | lean | lean / stock |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    # A topic tap: the update in, its notice and the edited keyboard out.
    tap = ("a topic tap in all (update in, notice and edit out)", "", 0.0, 0.0, 0.0)
    for row in rows:
        name, what, stock_us, before_us, lean_us = row
        print(
            f"| {name} | {what} | {stock_us:.1f} | {before_us:.1f} | {lean_us:.1f} "
            f"| {lean_us / stock_us:.2f} |"
        )
        if not name.startswith("sendMessage"):
            tap = (tap[0], "", tap[2] + stock_us, tap[3] + before_us, tap[4] + lean_us)
    print(f"| {tap[0]} | | {tap[2]:.1f} | {tap[3]:.1f} | {tap[4]:.1f} | {tap[4] / tap[2]:.2f} |")


if __name__ == "__main__":
    main()
