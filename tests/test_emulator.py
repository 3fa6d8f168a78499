"""Tests of the Bot API emulator, driven by a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import struct
import sys
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from aiohttp import ClientError, ClientSession, FormData, web

from bot.emulator.server import BotApiEmulator, Fault, parse_html

TOKEN = "123456:TEST-emulator-token"
ROOT = Path(__file__).resolve().parents[1]


class _QuickCloseSession(AiohttpSession):
    """aiogram sleeps 250 ms on close for TLS shutdown; local plain HTTP needs none."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d)] for t, d in buttons]
    )


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    session = _QuickCloseSession(api=TelegramAPIServer.from_base(emu.base_url))
    telegram_bot = Bot(TOKEN, session=session)
    yield telegram_bot
    await telegram_bot.session.close()


# --------------------------------------------------------------------------- basics


async def test_get_me_returns_bot_identity(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "dialogbot_demo_bot"
    assert me.first_name == "Dialogbot"


async def test_wrong_token_unknown_method_and_case_insensitive_names(
    emu: BotApiEmulator,
) -> None:
    async with ClientSession() as http:
        async with http.post(f"{emu.base_url}/bot999:wrong/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{emu.base_url}/bot{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found"
        async with http.get(f"{emu.base_url}/bot{TOKEN}/GETME") as resp:
            assert resp.status == 200
            assert (await resp.json())["result"]["id"] == 123456
    wrong = Bot(
        "999:wrong", session=_QuickCloseSession(api=TelegramAPIServer.from_base(emu.base_url))
    )
    with pytest.raises(TelegramUnauthorizedError):
        await wrong.get_me()
    await wrong.session.close()


async def test_parameters_from_json_query_form_and_multipart(emu: BotApiEmulator) -> None:
    user = emu.user(5)
    url = f"{emu.base_url}/bot{TOKEN}"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with ClientSession() as http:
        body = {"chat_id": 5, "text": "<b>json</b>", "parse_mode": "HTML", "reply_markup": markup}
        async with http.post(f"{url}/sendMessage", json=body) as resp:
            assert (await resp.json())["result"]["entities"][0]["type"] == "bold"
        async with http.get(f"{url}/sendMessage", params={"chat_id": "5", "text": "query"}):
            pass
        form = {"chat_id": "5", "text": "form", "reply_markup": json.dumps(markup)}
        async with http.post(f"{url}/sendMessage", data=form):
            pass
        data = FormData()
        data.add_field("chat_id", "5")
        data.add_field("document", b"a;b\n1;2\n", filename="export.csv")
        async with http.post(f"{url}/sendDocument", data=data) as resp:
            assert resp.status == 200
    assert [m.text for m in user.messages[:3]] == ["json", "query", "form"]
    assert user.messages[0].button_texts == ["A"]
    assert user.messages[2].reply_markup[0][0].callback_data == "a"
    assert user.last_message.document == b"a;b\n1;2\n"
    assert user.last_message.filename == "export.csv"
    assert emu.calls_to("sendMessage")[0].params["chat_id"] == 5


# --------------------------------------------------------------------------- updates


async def test_long_poll_waits_and_returns_as_soon_as_an_update_arrives(
    emu: BotApiEmulator, bot: Bot
) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0) == []
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)  # let the long poll reach the server
    assert not poll.done()
    update_id = emu.user(7).send_text("hallo")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None
    assert updates[0].message.text == "hallo"
    assert time.monotonic() - started < 2
    assert emu.update_enqueued_at(update_id) <= time.monotonic()


async def test_offset_confirms_updates_and_wait_fetched(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(11)
    ids = [user.send_text(text) for text in ("eins", "zwei", "drei")]
    assert ids == sorted(ids)
    with pytest.raises(TimeoutError, match="not fetched"):
        await emu.wait_fetched(timeout=0.05)
    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    again = await bot.get_updates()  # nothing confirmed yet: Telegram redelivers
    assert [u.update_id for u in again] == ids
    assert emu.pending_updates == 3
    rest = await bot.get_updates(offset=ids[1] + 1)
    assert [u.update_id for u in rest] == ids[2:]
    assert emu.pending_updates == 1
    assert await bot.get_updates(offset=ids[2] + 1) == []
    await emu.wait_fetched(timeout=0.5)


async def test_allowed_updates_filters_update_types(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(12)
    await bot.send_message(user.id, "Frage?", reply_markup=_keyboard(("Ja", "yes")))
    user.send_text("ignored")
    press_id = user.press("Ja")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.update_id for u in updates] == [press_id]
    user.send_text("also ignored")
    assert emu.pending_updates == 1


async def test_concurrent_get_updates_terminates_the_older_poll(bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, 2)


async def test_user_actions_produce_updates_aiogram_parses(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(13, first_name="Jörg", username="joerg")
    group = emu.add_group("Quartiersrat")
    user.send_text("/start kampagne_7")
    user.send_sticker()
    user.send_photo(caption="Schlagloch")
    user.send_voice()
    user.send_video_note()
    user.send_document("plan.pdf")
    user.send_location(51.51, 7.46)
    user.send_contact("+49 231 0000")
    user.send_poll("Mehr Bänke?")
    user.send_dice()
    user.forward_text("weitergeleitet")
    user.send_text_in_group(group, "/abstimmen@dialogbot_demo_bot jetzt")
    updates = await bot.get_updates()
    messages = [u.message for u in updates]
    assert all(m is not None for m in messages)
    first = messages[0]
    assert first is not None
    assert first.text == "/start kampagne_7"
    assert first.entities is not None
    assert (first.entities[0].type, first.entities[0].length) == ("bot_command", 6)
    assert first.from_user is not None
    assert first.from_user.username == "joerg"
    assert first.from_user.language_code == "de"
    kinds = [
        "sticker",
        "photo",
        "voice",
        "video_note",
        "document",
        "location",
        "contact",
        "poll",
        "dice",
    ]
    for message, kind in zip(messages[1:10], kinds, strict=True):
        assert getattr(message, kind) is not None, kind
    assert messages[2] is not None and messages[2].caption == "Schlagloch"
    assert messages[5] is not None and messages[5].document is not None
    assert messages[5].document.file_name == "plan.pdf"
    assert messages[10] is not None and messages[10].forward_origin is not None
    in_group = messages[11]
    assert in_group is not None
    assert (in_group.chat.id, in_group.chat.type) == (group, "group")
    assert in_group.entities is not None
    assert in_group.entities[0].length == len("/abstimmen@dialogbot_demo_bot")
    private_ids = [m.message_id for m in messages[:11] if m is not None]
    assert len(set(private_ids)) == len(private_ids)

    edit_id = user.edit_text(private_ids[0], "/start geändert")
    edited = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert edited[0].update_id == edit_id
    assert edited[0].edited_message is not None
    assert edited[0].edited_message.text == "/start geändert"
    assert edited[0].edited_message.message_id == private_ids[0]


async def test_user_id_beyond_32_bits(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(8_000_000_000, first_name="Groß")
    user.send_text("hi")
    updates = await bot.get_updates()
    message = updates[0].message
    assert message is not None and message.from_user is not None
    assert message.from_user.id == 8_000_000_000
    assert message.chat.id == 8_000_000_000
    sent = await bot.send_message(8_000_000_000, "Antwort")
    assert sent.chat.id == 8_000_000_000
    assert user.last_text == "Antwort"
    assert emu.calls_to("sendMessage")[-1].chat_id == 8_000_000_000


# --------------------------------------------------------------------------- text rules


async def test_send_message_with_valid_html(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(21)
    source = (
        f"{html.escape('<b>kein Tag</b> & Co')} <b>fett</b> "
        '<a href="https://example.org/?a=1&amp;b=2">Link</a> 😀<i>kursiv</i>'
    )
    sent = await bot.send_message(user.id, source, parse_mode="HTML")
    expected = "<b>kein Tag</b> & Co fett Link 😀kursiv"
    assert sent.text == expected
    stored = user.last_message
    assert stored.text == expected
    assert stored.raw_text == source
    assert stored.parse_mode == "HTML"
    entities = [(e["type"], e["offset"], e["length"], e.get("url")) for e in stored.entities]
    assert entities == [
        ("bold", 21, 4, None),
        ("text_link", 26, 4, "https://example.org/?a=1&b=2"),
        ("italic", 33, 6, None),  # the emoji counts as two UTF-16 code units
    ]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<b>offen", 'Can\'t find end tag corresponding to start tag "b"'),
        ("Müller & Söhne", 'Character "&"'),
        ("1 < 2", "Unsupported start tag"),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;"'),
        ('<span class="rot">x</span>', "tg-spoiler"),
    ],
)
async def test_invalid_html_is_rejected(
    emu: BotApiEmulator, bot: Bot, source: str, reason: str
) -> None:
    user = emu.user(22)
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as error:
        await bot.send_message(user.id, source, parse_mode="HTML")
    assert reason in error.value.message
    assert user.messages == []
    assert emu.calls_to("sendMessage")[-1].status == 400


def test_html_parser_entities() -> None:
    parsed = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>Zitat</blockquote><tg-spoiler>geheim</tg-spoiler>"
        '<span class="tg-spoiler">s</span>&#228;&#x1F600;&quot;<tg-emoji emoji-id="5">👍</tg-emoji>'
    )
    assert parsed.text == 'x = 1Zitatgeheimsä😀"👍'
    types = [(e["type"], e["offset"], e["length"]) for e in parsed.entities]
    assert types == [
        ("pre", 0, 5),
        ("expandable_blockquote", 5, 5),
        ("spoiler", 10, 6),
        ("spoiler", 16, 1),
        ("custom_emoji", 21, 2),
    ]
    assert parsed.entities[0]["language"] == "python"
    assert parsed.entities[-1]["custom_emoji_id"] == "5"


async def test_text_length_limits_count_utf16_after_parsing(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(23)
    await bot.send_message(user.id, "x" * 4096)
    await bot.send_message(user.id, "😀" * 2048)
    await bot.send_message(user.id, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    assert [len(m.text) for m in user.messages] == [4096, 2048, 4096]
    for too_long in ("x" * 4097, "😀" * 2049):
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            await bot.send_message(user.id, too_long)
    for empty in ("", "   \n", "<b></b>"):
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(user.id, empty, parse_mode="HTML")
    assert len(user.messages) == 3


async def test_callback_data_limit_and_button_text(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(24)
    await bot.send_message(user.id, "ok", reply_markup=_keyboard(("A", "a" * 64)))
    for data in ("a" * 65, "ä" * 33):
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(user.id, "zu lang", reply_markup=_keyboard(("A", data)))
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(user.id, "leer", reply_markup=_keyboard(("", "x")))
    assert [m.text for m in user.messages] == ["ok"]


# --------------------------------------------------------------------------- buttons


async def test_press_produces_callback_query_and_answer(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(31)
    older = await bot.send_message(user.id, "Alt", reply_markup=_keyboard(("Alt-Knopf", "old")))
    await bot.send_message(
        user.id, "Einverstanden?", reply_markup=_keyboard(("Zustimmen ✅", "c:y"), ("Nein", "c:n"))
    )
    await bot.send_message(user.id, "ohne Tastatur")
    exact = user.press("Nein")
    partial = user.press("Zustimmen")
    by_id = user.press("Alt-Knopf", message_id=older.message_id)
    forged = user.press_data(older.message_id, "admin:delete_all")
    with pytest.raises(AssertionError, match=r"available buttons: \['Zustimmen ✅', 'Nein'\]"):
        user.press("Vielleicht")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [exact, partial, by_id, forged]
    queries = [u.callback_query for u in updates]
    assert [q.data for q in queries if q is not None] == ["c:n", "c:y", "old", "admin:delete_all"]
    first = queries[0]
    assert first is not None and first.from_user.id == 31
    assert isinstance(first.message, Message)
    assert first.message.text == "Einverstanden?"

    assert await bot.answer_callback_query(first.id, text="Gespeichert", show_alert=True)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(first.id)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("123")
    second = queries[1]
    assert second is not None
    with pytest.raises(TelegramBadRequest):
        await bot.answer_callback_query(second.id, text="x" * 201)
    await bot.answer_callback_query(second.id)
    assert [(a.text, a.show_alert) for a in user.callback_answers] == [
        ("Gespeichert", True),
        (None, False),
    ]


async def test_edit_message_and_not_modified(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(32)
    sent = await bot.send_message(user.id, "Frage", reply_markup=_keyboard(("Ja", "y")))
    edited = await bot.edit_message_text(
        text="<b>Danke</b>", chat_id=user.id, message_id=sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message)
    assert edited.text == "Danke"
    assert edited.edit_date is not None
    stored = user.last_message
    assert (stored.text, stored.edit_count, stored.history) == ("Danke", 1, ["Frage"])
    assert stored.reply_markup == []  # no reply_markup in the edit removes the keyboard
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="<b>Danke</b>", chat_id=user.id, message_id=sent.message_id, parse_mode="HTML"
        )
    await bot.edit_message_reply_markup(
        chat_id=user.id, message_id=sent.message_id, reply_markup=_keyboard(("Neu", "n"))
    )
    assert user.last_message.button_texts == ["Neu"]
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=_keyboard(("Neu", "n"))
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=user.id, message_id=999)
    assert user.last_message.edit_count == 2


async def test_delete_message(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(33)
    keep = await bot.send_message(user.id, "bleibt")
    gone = await bot.send_message(user.id, "weg")
    assert await bot.delete_message(user.id, gone.message_id)
    assert [m.message_id for m in user.messages] == [keep.message_id]
    assert emu.chat_messages(user.id, include_deleted=True)[-1].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, gone.message_id)


# --------------------------------------------------------------------------- media, commands


async def test_send_photo_and_document_store_bytes(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(41)
    png = _png(3, 2)
    photo = await bot.send_photo(
        user.id, BufferedInputFile(png, "chart.png"), caption="<b>Ergebnis</b>", parse_mode="HTML"
    )
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 2)
    assert photo.caption == "Ergebnis"
    stored = user.last_message
    assert (stored.kind, stored.photo, stored.caption) == ("photo", png, "Ergebnis")

    again = await bot.send_photo(user.id, photo.photo[-1].file_id)  # resend by file_id
    assert again.photo is not None
    assert user.last_message.photo == png

    report = b"%PDF-1.4 Bericht"
    document = await bot.send_document(user.id, BufferedInputFile(report, "bericht.pdf"))
    assert document.document is not None
    assert document.document.file_name == "bericht.pdf"
    assert document.document.mime_type == "application/pdf"
    assert (user.last_message.document, user.last_message.filename) == (report, "bericht.pdf")

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user.id, BufferedInputFile(b"not an image", "x.png"))
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_photo(user.id, BufferedInputFile(png, "c.png"), caption="x" * 1025)
    assert len(user.messages) == 3


async def test_set_my_commands_is_recorded(emu: BotApiEmulator, bot: Bot) -> None:
    commands = [
        BotCommand(command="start", description="Beteiligung starten"),
        BotCommand(command="hilfe", description="Hilfe anzeigen"),
    ]
    scope = BotCommandScopeAllPrivateChats()
    assert await bot.set_my_commands(commands, scope=scope, language_code="de")
    call = emu.calls_to("setMyCommands")[-1]
    assert call.params["language_code"] == "de"
    assert call.params["commands"] == [c.model_dump(exclude_none=True) for c in commands]
    assert emu.commands(scope={"type": "all_private_chats"}, language_code="de")[1] == {
        "command": "hilfe",
        "description": "Hilfe anzeigen",
    }
    stored = await bot.get_my_commands(scope=scope, language_code="de")
    assert [c.command for c in stored] == ["start", "hilfe"]
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start!", description="x")])
    assert await bot.delete_my_commands(scope=scope, language_code="de")
    assert emu.commands(scope={"type": "all_private_chats"}, language_code="de") == []


async def test_chat_action_get_chat_channel_and_group(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(42, first_name="Ada", last_name="L.")
    channel = emu.add_channel("@ruhr_dialog")
    group = emu.add_group("Bürgerforum")
    assert channel < 0 and group < 0
    assert await bot.send_chat_action(user.id, "typing")
    with pytest.raises(TelegramBadRequest):
        await bot.send_chat_action(user.id, "dancing")
    chat = await bot.get_chat(user.id)
    assert (chat.first_name, chat.last_name, chat.type) == ("Ada", "L.", "private")
    by_name = await bot.send_message("@ruhr_dialog", "Neue Umfrage")
    by_id = await bot.send_photo(channel, BufferedInputFile(_png(1, 1), "p.png"))
    assert by_name.chat.id == channel and by_name.sender_chat is not None
    assert [m.message_id for m in emu.chat_messages("@ruhr_dialog")] == [
        by_name.message_id,
        by_id.message_id,
    ]
    await bot.send_message(group, "Hallo Gruppe")
    assert emu.chat_messages(group)[0].text == "Hallo Gruppe"
    assert await bot.leave_chat(group)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(group, "noch da?")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message("@unbekannt", "x")


# --------------------------------------------------------------------------- faults, blocking


async def test_faults_surface_as_aiogram_errors_in_order(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(51)
    emu.inject_fault("sendMessage", status=429, retry_after=7)
    emu.inject_fault("SENDMESSAGE", status=502)
    emu.inject_disconnect("sendMessage")
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(user.id, "a")
    assert retry.value.retry_after == 7
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(user.id, "b")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(user.id, "c")
    await bot.send_message(user.id, "d")
    assert [m.text for m in user.messages] == ["d"]
    assert [c.fault for c in emu.calls_to("sendMessage")] == [
        "status 429",
        "status 502",
        "disconnect",
        None,
    ]
    with pytest.raises(ValueError, match="unknown Bot API method"):
        emu.inject_fault("sendMesage", status=500)


async def test_fault_answers_as_a_proxy_or_network_would(emu: BotApiEmulator) -> None:
    """Each Fault, seen as raw HTTP: whether the method ran, the status, the body."""
    user = emu.user(61)
    emu.faults.schedule(
        "sendMessage",
        Fault.html_page(502),
        Fault.cut_off(),
        Fault.dropped(),
        Fault.not_admin(),
        Fault(200, body='{"ok": true, "result": {"no": "message"}}', label="raw"),
    )
    url = f"{emu.base_url}/bot{TOKEN}/sendMessage"
    async with ClientSession() as http:
        async with http.post(url, data={"chat_id": user.id, "text": "a"}) as resp:
            assert resp.status == 502 and resp.content_type == "text/html"
            assert "<title>502 Bad Gateway</title>" in await resp.text()
        async with http.post(url, data={"chat_id": user.id, "text": "b"}) as resp:
            body = await resp.text()
            assert resp.status == 200 and body.startswith('{"ok": true')
            with pytest.raises(ValueError):
                json.loads(body)
        with pytest.raises(ClientError):  # the connection closes, after the message went out
            async with http.post(url, data={"chat_id": user.id, "text": "c"}) as resp:
                await resp.read()
        async with http.post(url, data={"chat_id": user.id, "text": "d"}) as resp:
            assert resp.status == 400
            assert "need administrator rights" in (await resp.json())["description"]
        async with http.post(url, data={"chat_id": user.id, "text": "e"}) as resp:
            assert json.loads(await resp.text()) == {"ok": True, "result": {"no": "message"}}
    # Not executed: the HTML page, the 400 and the raw body; executed: the cut-off and the drop.
    assert [m.text for m in user.messages] == ["b", "c"]
    assert [(c.status, c.fault) for c in emu.calls_to("sendMessage")] == [
        (502, "html 502"),
        (200, "cut off"),
        (0, "dropped after"),
        (400, "status 400"),
        (200, "raw"),
    ]


async def test_a_slow_answer_times_the_client_out_after_the_method_ran(
    emu: BotApiEmulator,
) -> None:
    user = emu.user(62)
    emu.faults.schedule("sendMessage", Fault.slow(2.0))
    session = _QuickCloseSession(api=TelegramAPIServer.from_base(emu.base_url), timeout=0.5)
    client = Bot(TOKEN, session=session)
    try:
        with pytest.raises(TelegramNetworkError, match="timeout"):
            await client.send_message(user.id, "spät")
        assert [m.text for m in user.messages] == ["spät"]
        await client.send_message(user.id, "pünktlich")  # only the scheduled call was slow
    finally:
        await client.session.close()
    assert [m.text for m in user.messages] == ["spät", "pünktlich"]


async def test_random_faults_repeat_with_their_seed_and_hit_every_tenth_call_at_least(
    emu: BotApiEmulator, bot: Bot
) -> None:
    user = emu.user(63)

    async def run(seed: int) -> list[str | None]:
        emu.api_calls.clear()
        emu.faults.at_random(
            seed, rate=0.05, pool={"*": [Fault.error(502), Fault.error(500)]}, at_least_every=10
        )
        for n in range(60):
            with contextlib.suppress(TelegramServerError):
                await bot.send_message(user.id, f"{n}")
        emu.faults.calm()
        return [c.fault for c in emu.calls_to("sendMessage")]

    first = await run(7)
    assert first == await run(7)  # the seed repeats the schedule
    assert first != await run(8)
    for start in range(0, 51):  # every window of ten calls has a fault
        assert any(first[start : start + 10]), start


async def test_deprecated_parameters_are_recorded_not_refused(
    emu: BotApiEmulator, bot: Bot
) -> None:
    user = emu.user(64)
    await bot.send_message(user.id, "mit Vorschau?", disable_web_page_preview=True)
    await bot.send_message(
        user.id, "ohne", link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    assert [m.text for m in user.messages] == ["mit Vorschau?", "ohne"]
    assert emu.deprecated_params == [("sendMessage", "disable_web_page_preview")]


async def test_blocked_user_gets_forbidden(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(52)
    await bot.send_message(user.id, "vorher")
    blocked_id = user.block_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user.id, "nachher")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(999_999, "niemand")
    updates = await bot.get_updates()
    assert updates[0].update_id == blocked_id
    member_update = updates[0].my_chat_member
    assert member_update is not None
    assert member_update.new_chat_member.status == "kicked"
    user.unblock_bot()
    await bot.send_message(user.id, "wieder da")
    assert [m.text for m in user.messages] == ["vorher", "wieder da"]


# --------------------------------------------------------------------------- whole bot


async def test_dispatcher_polling_end_to_end(emu: BotApiEmulator, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        name = message.from_user.first_name if message.from_user else ""
        await message.answer(
            f"<b>Willkommen</b>, {html.escape(name)}!",
            parse_mode="HTML",
            reply_markup=_keyboard(("Zustimmen", "consent:yes"), ("Ablehnen", "consent:no")),
        )

    @router.callback_query(F.data == "consent:yes")
    async def consent(query: CallbackQuery) -> None:
        await query.answer("Danke!")
        if isinstance(query.message, Message):
            await query.message.edit_text("Zustimmung gespeichert")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    try:
        user = emu.user(61, first_name="Anna <3")
        user.send_text("/start")
        welcome = await emu.wait_for(lambda: user.last_message)
        assert welcome.text == "Willkommen, Anna <3!"
        assert welcome.button_texts == ["Zustimmen", "Ablehnen"]
        user.press("Zustimmen")
        answers = await emu.wait_for(lambda: user.callback_answers)
        assert answers[0].text == "Danke!"
        await emu.wait_for(lambda: user.last_text == "Zustimmung gespeichert")
        await emu.wait_fetched()
        assert user.last_message.message_id == welcome.message_id
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_wait_for_reports_clearly_on_timeout(emu: BotApiEmulator) -> None:
    user = emu.user(62)
    with pytest.raises(TimeoutError, match="condition not met") as error:
        await emu.wait_for(lambda: user.last_text == "nie", timeout=0.05)
    assert "last predicate error" in str(error.value)


# --------------------------------------------------------------------------- other processes


async def test_http_control_api(emu: BotApiEmulator, bot: Bot) -> None:
    base = f"{emu.base_url}/_emulator"
    async with ClientSession() as http:
        body = {"text": "/start", "first_name": "Bea", "language_code": "en"}
        async with http.post(f"{base}/users/77/text", json=body) as resp:
            posted = await resp.json()
        updates = await bot.get_updates()
        message = updates[0].message
        assert message is not None and message.from_user is not None
        assert updates[0].update_id == posted["update_id"]
        assert (message.from_user.first_name, message.from_user.language_code) == ("Bea", "en")
        assert posted["enqueued_at"] == emu.update_enqueued_at(posted["update_id"])

        await bot.send_message(
            77, "<i>Hallo</i>", parse_mode="HTML", reply_markup=_keyboard(("Ja", "y"))
        )
        async with http.get(f"{base}/chats/77") as resp:
            chat = await resp.json()
        assert chat[0]["text"] == "Hallo"
        assert chat[0]["raw_text"] == "<i>Hallo</i>"
        assert chat[0]["reply_markup"] == [[{"text": "Ja", "callback_data": "y", "url": None}]]

        async with http.post(f"{base}/users/77/press", json={"button": "Ja"}) as resp:
            pressed = await resp.json()
        async with http.post(f"{base}/users/77/press", json={"button": "Nein"}) as resp:
            assert resp.status == 400
            assert "available buttons" in (await resp.json())["error"]
        forged = {"message_id": chat[0]["message_id"], "data": "forged"}
        async with http.post(f"{base}/users/77/press", json=forged) as resp:
            assert resp.status == 200
        callbacks = await bot.get_updates(offset=posted["update_id"] + 1)
        assert callbacks[0].update_id == pressed["update_id"]
        assert [u.callback_query.data for u in callbacks if u.callback_query] == ["y", "forged"]

        async with http.get(f"{base}/events", params={"after": "0"}) as resp:
            events = await resp.json()
        assert ("sendMessage", 77) in [(e["method"], e["chat_id"]) for e in events]
        last = events[-1]["seq"]
        waiting = asyncio.create_task(
            http.get(f"{base}/events", params={"after": str(last), "timeout": "5"})
        )
        await bot.send_chat_action(77, "typing")
        async with await asyncio.wait_for(waiting, 2) as resp:
            newer = await resp.json()
        assert [e["method"] for e in newer] == ["sendChatAction"]
        async with http.get(f"{base}/chats/404") as resp:
            assert resp.status == 404


async def test_webhook_delivery_with_secret_retry_and_reply(emu: BotApiEmulator, bot: Bot) -> None:
    user = emu.user(81)
    received: list[tuple[dict[str, Any], str | None]] = []
    statuses = [500]  # the first delivery fails, the emulator must retry

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((await request.json(), secret))
        if statuses:
            return web.Response(status=statuses.pop(0))
        return web.json_response({"method": "sendMessage", "chat_id": user.id, "text": "pong"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        assert await bot.set_webhook(url, secret_token="s3cret_Token-1")
        update_id = user.send_text("ping")
        await emu.wait_fetched(timeout=3)
        assert [(u["update_id"], secret) for u, secret in received] == [
            (update_id, "s3cret_Token-1"),
            (update_id, "s3cret_Token-1"),
        ]
        assert received[-1][0]["message"]["text"] == "ping"
        assert user.last_text == "pong"  # method returned in the webhook answer was executed
        assert emu.calls_to("sendMessage")[-1].source == "webhook-reply"
        info = await bot.get_webhook_info()
        assert info.url == url
        assert info.last_error_message is not None and "500" in info.last_error_message
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        with pytest.raises(TelegramBadRequest, match="secret token"):
            await bot.set_webhook(url, secret_token="nicht erlaubt!")
        assert await bot.delete_webhook()
        assert await bot.get_updates() == []
        assert emu.webhook_url is None
    finally:
        await runner.cleanup()


async def test_command_line_entry_point() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.emulator.server",
        "--port",
        "0",
        "--token",
        TOKEN,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        base_url = line.decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        async with ClientSession() as http, http.get(f"{base_url}/bot{TOKEN}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "dialogbot_demo_bot"
    finally:
        process.terminate()
        await process.wait()
