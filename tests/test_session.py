"""The lean Bot API session (bot/telegram/session.py) against aiogram's stock session.

The contract: for every Bot API method the bot uses, the lean JSON body carries the same fields
with the same values as aiogram's own form encoding (`AiohttpSession.build_form_data`), a call
with a file stays aiogram's multipart form, and the running bot's calls reach the emulator the
same way with either session. Answers: a sent or edited message is read by its id without
validating the echoed rest; what a pressed button's update carries is untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import ClientDecodeError, TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChat,
    GetChatMember,
    GetMe,
    LeaveChat,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    SetWebhook,
    TelegramMethod,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)

from bot.app import composition
from bot.emulator.faults import Fault
from bot.emulator.server import BotApiEmulator
from bot.telegram.polling import ALLOWED_UPDATES, RawGetUpdates
from bot.telegram.session import LeanSession, bot_api_session, json_body
from tests.harness import Harness, RunningBot, make_settings

TOKEN = "123456:TEST-session-token"
BIG_ID = 8_000_000_123  # above 2^32
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text=f"Thema {i} ✅ & <b>", callback_data=f"t:{i}")]
        for i in range(20)
    ]
    + [[InlineKeyboardButton(text="📄 Datenschutz", url="https://example.org/datenschutz")]]
)
TEXT = "<b>Schritt 1 von 3</b>\nWählen Sie bis zu 3 Themen: „Mobilität & ÖPNV“ 🚌"
FILE = BufferedInputFile(b"\x89PNG...", filename="chart.png")

# Every Bot API method the bot calls, with the kinds of values it sends them (handlers/,
# bot/telegram/, bot/digest/publisher.py, bot/app/runtime.py and doctor.py).
METHODS: list[TelegramMethod[Any]] = [
    SendMessage(chat_id=BIG_ID, text=TEXT, reply_markup=KEYBOARD),
    SendMessage(
        chat_id="@ruhr_dialog", text=TEXT, link_preview_options=LinkPreviewOptions(is_disabled=True)
    ),
    SendMessage(chat_id=-100_123_456_789, text="plain", parse_mode=None, reply_markup=None),
    SendMessage(chat_id=BIG_ID, text=TEXT, reply_parameters=ReplyParameters(message_id=3)),
    EditMessageText(chat_id=BIG_ID, message_id=7, text=TEXT, reply_markup=KEYBOARD),
    EditMessageText(chat_id=BIG_ID, message_id=7, text=TEXT),
    EditMessageReplyMarkup(chat_id=BIG_ID, message_id=7, reply_markup=KEYBOARD),
    EditMessageReplyMarkup(chat_id=BIG_ID, message_id=7, reply_markup=None),
    AnswerCallbackQuery(callback_query_id="4711", text="Mobilität & ÖPNV gewählt – 1 von 3"),
    AnswerCallbackQuery(callback_query_id="4711", text="Bitte höchstens 3", show_alert=True),
    AnswerCallbackQuery(callback_query_id="4711", show_alert=False, cache_time=0),
    AnswerCallbackQuery(callback_query_id="4711", text=""),
    DeleteMessage(chat_id=BIG_ID, message_id=8),
    SetMyCommands(commands=[BotCommand(command="hilfe", description="Hilfe & Befehle")]),
    SetMyCommands(
        commands=[BotCommand(command="help", description="Help")],
        scope=BotCommandScopeChat(chat_id=BIG_ID),
        language_code="en",
    ),
    RawGetUpdates(offset=None, limit=100, timeout=25, allowed_updates=ALLOWED_UPDATES),
    RawGetUpdates(offset=123_456_789, limit=1, timeout=0, allowed_updates=ALLOWED_UPDATES),
    SetWebhook(url="https://bot.example.org/hook", secret_token="s3cr3t", allowed_updates=[]),
    GetMe(),
    GetChat(chat_id="@ruhr_dialog"),
    GetChatMember(chat_id=-100_123_456_789, user_id=BIG_ID),
    LeaveChat(chat_id=-100_987),
]
UPLOADS: list[TelegramMethod[Any]] = [
    SendPhoto(chat_id="@ruhr_dialog", photo=FILE, caption="Stand: <b>42</b> Teilnehmende"),
    SendDocument(chat_id=BIG_ID, document=FILE, caption="Ihre Daten"),
]


def bots() -> list[Bot]:
    return [
        Bot(TOKEN, default=DefaultBotProperties(parse_mode=ParseMode.HTML)),
        Bot(TOKEN),
        # Defaults that are objects, and defaults nested in an object (reply_parameters).
        Bot(
            TOKEN,
            default=DefaultBotProperties(
                parse_mode=ParseMode.HTML,
                link_preview_is_disabled=True,
                protect_content=True,
                allow_sending_without_reply=True,
            ),
        ),
    ]


def stock_form(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
    """aiogram's own encoding of the call: field name to form value (text, or a file)."""
    form = AiohttpSession().build_form_data(bot, method)
    return {options["name"]: value for options, _, value in form._fields}


def assert_same_fields(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
    """The lean body against the stock form: the same names, and each form text the lean value
    as aiogram writes it (text as it is, everything else as JSON)."""
    body = json_body(bot, method)
    assert body is not None, f"{method.__api_method__} would be sent as multipart"
    lean = orjson.loads(body)
    stock = stock_form(bot, method)
    assert set(lean) == set(stock), method.__api_method__
    for name, value in lean.items():
        if isinstance(value, str):
            assert stock[name] == value, (method.__api_method__, name)
        else:
            # JSON on both sides, compared as JSON text: `true` is not `1`.
            decoded = json.loads(stock[name])
            assert json.dumps(decoded, sort_keys=True) == json.dumps(value, sort_keys=True), (
                method.__api_method__,
                name,
            )
    return lean


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__api_method__)
def test_a_lean_body_carries_the_fields_and_values_of_aiograms_form(
    method: TelegramMethod[Any],
) -> None:
    for bot in bots():
        assert_same_fields(bot, method)


def test_the_json_body_is_nested_json_not_json_in_text() -> None:
    html_bot = bots()[0]
    lean = assert_same_fields(html_bot, METHODS[0])
    assert lean["parse_mode"] == "HTML"  # the bot's default, as aiogram resolves it
    assert lean["chat_id"] == BIG_ID
    assert lean["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "t:0"


def test_dates_and_durations_are_unix_seconds_as_aiogram_sends_them() -> None:
    html_bot = bots()[0]
    # A method with a date field; aiogram sends a datetime and a timedelta as Unix seconds.
    from aiogram.methods import BanChatMember

    when = datetime(2027, 3, 31, 12, 0)
    lean = assert_same_fields(html_bot, BanChatMember(chat_id=-1, user_id=2, until_date=when))
    assert lean["until_date"] == round(when.timestamp())
    in_a_day = orjson.loads(
        json_body(html_bot, BanChatMember(chat_id=-1, user_id=2, until_date=timedelta(days=1)))
        or b""
    )
    assert abs(in_a_day["until_date"] - (datetime.now().timestamp() + 86_400)) < 5


@pytest.mark.parametrize("method", UPLOADS, ids=lambda m: m.__api_method__)
def test_a_call_with_a_file_stays_aiograms_multipart_form(method: TelegramMethod[Any]) -> None:
    for bot in bots():
        assert json_body(bot, method) is None
        form = stock_form(bot, method)
        assert any(str(value).startswith("attach://") for value in form.values())


# -- over HTTP, against the emulator -------------------------------------------------------


@pytest.fixture
async def lean_bot() -> AsyncIterator[tuple[BotApiEmulator, Bot]]:
    async with BotApiEmulator(token=TOKEN) as emu:
        api = TelegramAPIServer.from_base(emu.base_url)
        bot = Bot(
            TOKEN,
            session=LeanSession(api=api),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        try:
            yield emu, bot
        finally:
            await bot.session.close()


async def test_a_sent_message_is_read_by_its_id_without_the_rest(
    lean_bot: tuple[BotApiEmulator, Bot],
) -> None:
    emu, bot = lean_bot
    user = emu.user(31)
    sent = await bot.send_message(user.id, "Welche Themen?", reply_markup=KEYBOARD)
    assert isinstance(sent, Message) and sent.message_id == user.last_message.message_id
    assert sent.chat.id == user.id and sent.bot is bot
    # Not validated: neither the echoed text nor the keyboard's twenty-one buttons.
    assert sent.text is None and sent.reply_markup is None
    edited = await bot.edit_message_text(
        "Gewählt: 1 von 3", chat_id=user.id, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    assert isinstance(edited, Message) and edited.message_id == sent.message_id
    # What the person sees has all of it: only our reading of the answer is lean.
    assert user.last_message.text == "Gewählt: 1 von 3"
    assert len(user.last_message.reply_markup) == 21


async def test_errors_and_other_answers_are_read_as_the_stock_session_reads_them(
    lean_bot: tuple[BotApiEmulator, Bot],
) -> None:
    emu, bot = lean_bot
    user = emu.user(34)
    sent = await bot.send_message(user.id, "Hallo")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Hallo", chat_id=user.id, message_id=sent.message_id)
    me = await bot.get_me()  # a result the bot reads whole: validated as aiogram does
    assert me.is_bot and me.username
    # An answer that is not JSON: aiogram's ClientDecodeError around a JSONDecodeError.
    emu.faults.schedule("sendMessage", Fault.html_page(502))
    with pytest.raises(ClientDecodeError) as caught:
        await bot.send_message(user.id, "Hallo")
    assert isinstance(caught.value.original, json.JSONDecodeError)


async def test_a_pressed_buttons_update_keeps_its_keyboard(
    lean_bot: tuple[BotApiEmulator, Bot],
) -> None:
    emu, bot = lean_bot
    user = emu.user(32)
    await bot.send_message(user.id, "Welche Themen?", reply_markup=KEYBOARD)
    user.press("Thema 3 ✅ & <b>")
    [raw] = await bot(RawGetUpdates(allowed_updates=ALLOWED_UPDATES))
    assert isinstance(raw, dict)
    markup = raw["callback_query"]["message"]["reply_markup"]["inline_keyboard"]
    assert [row[0].get("callback_data") for row in markup][:20] == [f"t:{i}" for i in range(20)]
    [update] = await bot.get_updates(offset=raw["update_id"])
    assert update.callback_query is not None and update.callback_query.data == "t:3"


class RecordingSession(LeanSession):
    """The lean session, keeping every call it made."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.made: list[tuple[Bot, TelegramMethod[Any]]] = []

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        self.made.append((bot, method))
        return await super().make_request(bot, method, timeout)


MODERATOR = 900_001
IDEA = "Ein Sozialticket für 9 Euro im ganzen Verkehrsverbund <Rhein-Ruhr> & darüber hinaus"


async def walk(harness: Harness) -> None:
    """A citizen's whole dialog with an idea, a refused fourth topic, the moderator's approval,
    /meinedaten (a file) and /ergebnis."""
    citizen = harness.citizen(5001, language_code="de")
    await citizen.send("/start flyer_essen")
    await citizen.press("Mitmachen")
    for title in ("Mobilität & ÖPNV", "Sport & Events", "Kunst & Kreativität"):
        await citizen.press(title)
    await citizen.press("Talentschulen & Bildung")  # a fourth: refused
    await citizen.press("Weiter")
    await citizen.send(IDEA)
    await citizen.press("Mobilität & ÖPNV")
    await citizen.press("Absenden")
    moderator = harness.citizen(MODERATOR)
    await moderator.press("Freigeben", message_id=moderator.user.last_message.message_id)
    await citizen.send("/meinedaten")
    await citizen.send("/ergebnis")


async def run_walk(
    emulator: BotApiEmulator, database_url: str, *, lean: bool
) -> list[tuple[Bot, TelegramMethod[Any]]]:
    emulator.user(MODERATOR, first_name="Anna")  # has opened the bot once
    settings = make_settings(
        emulator.base_url, database_url, moderators=frozenset({MODERATOR}), lean_session=lean
    )
    running = RunningBot(settings)
    await running.start()
    try:
        await walk(Harness(emulator, running))
        assert running.app is not None
        session = running.app.bot.session
        return list(session.made) if isinstance(session, RecordingSession) else []
    finally:
        await running.stop()


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """The application's Bot gets a recording lean session (bot/app/composition.py)."""

    def session(settings: Any, **options: Any) -> Any:
        built = bot_api_session(settings, **options)
        if isinstance(built, LeanSession):
            return RecordingSession(api=built.api, timeout=built.timeout)
        return built

    monkeypatch.setattr(composition, "bot_api_session", session)


@pytest.mark.sqlite_only
async def test_every_call_of_the_running_bot_is_sent_as_stock_aiogram_would(
    emulator: BotApiEmulator, database_url: str, recording: None
) -> None:
    made = await run_walk(emulator, database_url, lean=True)
    names = {method.__api_method__ for _, method in made}
    expected = {
        "getUpdates",
        "setMyCommands",
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "sendDocument",
    }
    assert expected <= names, expected - names
    for running_bot, method in made:
        if json_body(running_bot, method) is None:
            assert method.__api_method__ in ("sendDocument", "sendPhoto")
            continue
        assert_same_fields(running_bot, method)
    # And every one of them reached the emulator and was accepted there.
    assert not [c for c in emulator.api_calls if c.status != 200]
    assert {c.method for c in emulator.api_calls} == names


@pytest.mark.sqlite_only
async def test_the_emulator_records_the_same_calls_from_either_session(
    database_url: str,
) -> None:
    """The walk once with each session: the same methods with the same values arrive."""
    recorded: dict[bool, list[tuple[str, Any, list[str]]]] = {}
    for lean in (True, False):
        async with BotApiEmulator(token="4242:emulated-token-for-tests") as emu:
            url = database_url.replace("dialogbot.sqlite3", f"{lean}.sqlite3")
            await run_walk(emu, url, lean=lean)
            recorded[lean] = [
                (c.method, comparable(c.params), sorted(f.filename for f in c.files.values()))
                for c in emu.api_calls
                if c.method != "getUpdates"
            ]
    assert recorded[True] == recorded[False]


# A time of day and a date in a text (the consent's time in /meinedaten): the two walks may
# be a minute apart.
CLOCK = re.compile(r"\d{2}:\d{2}|\d{2}\.\d{2}\.\d{4}")


def comparable(params: dict[str, Any]) -> dict[str, Any]:
    """The emulator decodes the form's text for the fields it knows the type of; the rest
    (a user id, say) stays text in a form and is a number in JSON."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = value
            value = decoded if isinstance(decoded, int | bool | dict | list) else value
        if isinstance(value, str) and value.startswith("attach://"):
            value = "attach://"  # a random name per upload
        if isinstance(value, str):
            value = CLOCK.sub("…", value)
        out[name] = value
    return out
