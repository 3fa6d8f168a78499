"""aiogram imported with its models built on first use (bot/telegram/lean_aiogram.py) behaves as
usual.

Each check runs in a fresh interpreter: in this one, aiogram is long imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

LEAN = "from bot.telegram.lean_aiogram import import_aiogram; import_aiogram()\n"

# A private chat message with a reply, a keyboard and an entity: nested and recursive types.
SAMPLE = textwrap.dedent(
    """
    import json
    from aiogram.client.session.base import BaseSession
    from aiogram.methods import EditMessageText, SendMessage
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from aiogram.client.default import DefaultBotProperties

    payload = {
        "update_id": 7,
        "callback_query": {
            "id": "q1", "chat_instance": "c", "data": "t:mobility:choose",
            "from": {"id": 8000000000, "is_bot": False, "first_name": "Ada"},
            "message": {
                "message_id": 5, "date": 1700000000, "text": "Welche Themen?",
                "chat": {"id": 8000000000, "type": "private"},
                "entities": [{"type": "bold", "offset": 0, "length": 7}],
                "reply_to_message": {
                    "message_id": 4, "date": 1700000000, "text": "/start",
                    "chat": {"id": 8000000000, "type": "private"},
                },
                "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
            },
        },
    }
    update = Update.model_validate(payload)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Weiter", callback_data="next")]]
    )
    class Session(BaseSession):
        async def close(self): ...
        async def make_request(self, *a, **k): ...
        async def stream_content(self, *a, **k): ...
    class FakeBot:
        default = DefaultBotProperties(parse_mode="HTML")
    session = Session()
    sent = [
        {
            key: session.prepare_value(value, FakeBot(), {})
            for key, value in method.model_dump(warnings=False).items()
        }
        for method in (
            SendMessage(chat_id=8000000000, text="<b>Hallo</b>", reply_markup=keyboard),
            EditMessageText(chat_id=1, message_id=5, text="x", reply_markup=keyboard),
        )
    ]
    print(json.dumps({
        "update": update.model_dump(mode="json", exclude_none=True),
        "reply_type": type(update.callback_query.message.reply_to_message).__name__,
        "sent": sent,
    }, sort_keys=True, default=str))
    """
)


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_models_are_deferred_and_every_one_builds() -> None:
    result = json.loads(
        run(
            LEAN
            + textwrap.dedent(
                """
                import json
                from pydantic import BaseModel
                def subclasses(cls):
                    for sub in cls.__subclasses__():
                        yield sub
                        yield from subclasses(sub)
                models = {m for m in subclasses(BaseModel) if m.__module__.startswith("aiogram.")}
                deferred = sum(not m.__pydantic_complete__ for m in models)
                for model in models:
                    model.model_rebuild()
                broken = sorted(m.__qualname__ for m in models if not m.__pydantic_complete__)
                print(json.dumps({"models": len(models), "deferred": deferred, "broken": broken}))
                """
            )
        )
    )
    assert result["models"] > 500
    assert result["deferred"] == result["models"]
    assert result["broken"] == []


def test_validates_and_serialises_like_an_eager_import() -> None:
    lean, eager = json.loads(run(LEAN + SAMPLE)), json.loads(run(SAMPLE))
    assert lean["reply_type"] == "Message"
    assert lean["update"]["callback_query"]["message"]["entities"][0]["type"] == "bold"
    assert lean == eager


def test_does_nothing_once_aiogram_is_imported() -> None:
    out = run(
        "import aiogram.types\n"
        + LEAN
        + "from aiogram.types import Message; print(Message.__pydantic_complete__)"
    )
    assert out.strip() == "True"


def test_the_dialogbot_command_imports_aiogram_this_way() -> None:
    """`dialogbot` (bot/app/cli.py main) takes the lean import before anything else loads
    aiogram."""
    out = run(
        textwrap.dedent(
            """
            import sys
            import bot.app.cli
            print("aiogram" in sys.modules)
            bot.app.cli.main(["inbox", "--config", "/nonexistent/config.toml"])
            from aiogram.types import Message
            print(Message.__pydantic_complete__)
            """
        )
    )
    assert out.split() == ["False", "False"]
