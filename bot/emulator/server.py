"""Offline Telegram Bot API emulator.

No machine of this project reaches Telegram, so the bot is tested and demonstrated
against this aiohttp server. It speaks the real Bot API over HTTP (the bot only swaps
the base URL via ``TelegramAPIServer.from_base``) and is as strict as Telegram where
strictness catches bugs: HTML entity parsing, length limits, button data limits,
"message is not modified", unknown messages and callback queries, blocked users.

Tests run it in their own event loop and drive simulated users in-process::

    async with BotApiEmulator(token=TOKEN) as emu:
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        user = emu.user(42)
        user.send_text("/start")
        await emu.wait_for(lambda: "Willkommen" in user.last_text)

Other processes use the HTTP control API under ``/_emulator/`` and
``python -m bot.emulator.server --port 8081 --token 123:abc`` runs it standalone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import logging
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import (
    web,
)

from bot.emulator.calls import ApiCall, deprecated_params
from bot.emulator.chats import (
    ADMIN_RIGHTS,
    MEMBER_STATUSES,
    RESTRICTED_RIGHTS,
    CallbackAnswer,
    Chat,
    Query,
    StoredMessage,
)
from bot.emulator.faults import Fault, FaultPlan
from bot.emulator.html import EntityParseError, ParsedText, parse_html, utf16_len
from bot.emulator.updates import Notifier, UpdateQueue
from bot.emulator.validation import (
    CALLBACK_ANSWER_LIMIT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    CHAT_ACTIONS,
    DOCUMENT_LIMIT,
    TEXT_LIMIT,
    Button,
    Markup,
    bot_command,
    check_image,
    commands_key,
    image_size,
    markup,
    render,
)
from bot.emulator.webhooks import Webhook, Webhooks
from bot.emulator.wire import (
    JSON,
    NOT_MODIFIED,
    QUERY_INVALID,
    ApiError,
    Params,
    UploadedFile,
    bad_request,
    control_error,
    json_response,
    normalise,
    now,
    read_request,
)
from bot.emulator.wire import blocked as _blocked

__all__ = [
    "CALLBACK_ANSWER_LIMIT",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "Button",
    "CallbackAnswer",
    "EmulatedUser",
    "EntityParseError",
    "Fault",
    "FaultPlan",
    "ParsedText",
    "StoredMessage",
    "UploadedFile",
    "main",
    "parse_html",
    "utf16_len",
]
T = TypeVar("T")
_log = logging.getLogger(__name__)

_MAX_UPLOAD = 60 * 1024 * 1024  # above Telegram's 50 MB so we can answer 413 ourselves
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


# --------------------------------------------------------------------------- parameters


def _text_content(text: str) -> JSON:
    """A user's text message; clients mark a leading /command as bot_command."""
    content: JSON = {"text": text}
    match = _COMMAND_RE.match(text)
    if match and (match.end() == len(text) or text[match.end()].isspace()):
        length = utf16_len(match.group())
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return content


def _bot_id_from_token(token: str) -> int:
    # The numeric token prefix is the bot's user id; aiogram's bot.id relies on it.
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 1_000_000_001


_Handler = Callable[[Params], Awaitable[Any]]
# A raw answer to a call (BotApiEmulator.answer_with): a body, or a function of the real one.
RawAnswer = str | JSON | Callable[[JSON], "str | JSON"]


# --------------------------------------------------------------------------- users


class EmulatedUser:
    """A simulated Telegram user talking to the bot; every action enqueues one Update."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        user_id: int,
        *,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self._emu = emulator
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    def __repr__(self) -> str:
        return f"EmulatedUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    # -- sending -------------------------------------------------------------

    def send_text(self, text: str, *, reply_to: int | None = None) -> int:
        """A text message; `reply_to`: the id of a message in this chat it replies to (swiped
        or long-pressed "Reply" in the client), sent with it as `reply_to_message`."""
        if not text:
            raise ValueError("Telegram clients cannot send an empty text")
        content = _text_content(text)
        if reply_to is not None:
            chat = self._emu._private_chat(self)
            content["reply_to_message"] = self._emu._reply_json(chat, reply_to)
        return self._send(content)

    def send_sticker(self) -> int:
        sticker = {
            **self._emu._fake_file("sticker"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._send({"sticker": sticker})

    def send_photo(self, caption: str | None = None) -> int:
        sizes = [
            {**self._emu._fake_file("photo"), "width": 90, "height": 67},
            {**self._emu._fake_file("photo"), "width": 1280, "height": 960},
        ]
        content: JSON = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._send(content)

    def send_voice(self) -> int:
        voice = {**self._emu._fake_file("voice"), "duration": 3, "mime_type": "audio/ogg"}
        return self._send({"voice": voice})

    def send_video_note(self) -> int:
        note = {**self._emu._fake_file("video_note"), "length": 240, "duration": 5}
        return self._send({"video_note": note})

    def send_document(self, filename: str = "x.pdf") -> int:
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        document = {**self._emu._fake_file("document"), "file_name": filename, "mime_type": mime}
        return self._send({"document": {**document, "file_size": 1024}})

    def send_location(self, lat: float, lon: float) -> int:
        return self._send({"location": {"latitude": lat, "longitude": lon}})

    def send_contact(self, phone: str) -> int:
        contact = {"phone_number": phone, "first_name": self.first_name, "user_id": self.id}
        return self._send({"contact": contact})

    def send_poll(self, question: str) -> int:
        options = [
            {"persistent_id": str(i), "text": text, "voter_count": 0}
            for i, text in enumerate(("Ja", "Nein"))
        ]
        poll = {
            "id": self._emu._fake_file("poll")["file_unique_id"],
            "question": question,
            "options": options,
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": True,
            "members_only": False,
        }
        return self._send({"poll": poll})

    def send_dice(self, emoji: str = "🎲") -> int:
        value = 1 + self._emu.updates.next_update_id % 6  # deterministic, always in 1..6
        return self._send({"dice": {"emoji": emoji, "value": value}})

    def forward_text(self, text: str) -> int:
        origin_user = {"id": 4242, "is_bot": False, "first_name": "Weitergeleitet"}
        origin = {"type": "user", "date": now() - 3600, "sender_user": origin_user}
        return self._send({"text": text, "forward_origin": origin})

    def send_raw(self, content: JSON) -> int:
        """A message in the private chat with any content, as raw JSON: also what a newer Bot
        API, or a Telegram that breaks its documentation, would send."""
        return self._send(content)

    def send_text_in_group(self, group_id: int, text: str) -> int:
        chat = self._emu._chats.get(group_id)
        if chat is None or chat.type not in ("group", "supergroup"):
            raise AssertionError(f"{group_id} is not a group created with emu.add_group()")
        return self._emu._user_message(self, chat, _text_content(text))

    def edit_text(self, message_id: int, new_text: str) -> int:
        return self._emu._edit_user_message(self, message_id, new_text)

    def _send(self, content: JSON) -> int:
        return self._emu._user_message(self, self._emu._private_chat(self), content)

    # -- buttons -------------------------------------------------------------

    def press(self, button_text: str, *, message_id: int | None = None) -> int:
        """Press an inline button by visible text (exact match first, then substring)."""
        chat = self._emu._private_chat(self)
        message = self._emu._keyboard_message(chat, message_id)
        button = _find_button(message, button_text)
        if button.callback_data is None:
            raise AssertionError(
                f"button {button.text!r} is a {button.kind} button, not a callback"
            )
        return self._emu._press(self, chat, message.message_id, button.callback_data)

    def press_data(self, message_id: int, data: str) -> int:
        """Send arbitrary (possibly forged) callback data for a message."""
        return self._emu._press(self, self._emu._private_chat(self), message_id, data)

    # -- blocking ------------------------------------------------------------

    def block_bot(self) -> int:
        return self._emu._set_blocked(self, blocked=True)

    def unblock_bot(self) -> int:
        return self._emu._set_blocked(self, blocked=False)

    @property
    def blocked(self) -> bool:
        return self._emu._private_chat(self).blocked

    # -- reading -------------------------------------------------------------

    @property
    def messages(self) -> list[StoredMessage]:
        """The bot's messages in this private chat (current state, deleted excluded)."""
        return self._emu._private_chat(self).visible()

    @property
    def last_message(self) -> StoredMessage:
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has sent no (undeleted) message to user {self.id}")
        return messages[-1]

    @property
    def last_text(self) -> str:
        return self.last_message.text

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return list(self._emu._answers.get(self.id, []))


def _find_button(message: StoredMessage, text: str) -> Button:
    buttons = message.buttons
    for candidates in (
        [b for b in buttons if b.text == text],
        [b for b in buttons if text in b.text],
    ):
        if candidates:
            return candidates[0]
    raise AssertionError(
        f"no button {text!r} in message {message.message_id} ({message.text[:60]!r}); "
        f"available buttons: {message.button_texts}"
    )


# --------------------------------------------------------------------------- emulator


class BotApiEmulator:
    """An in-process Telegram Bot API server with a test-side API for simulated users."""

    def __init__(
        self,
        *,
        token: str,
        bot_id: int | None = None,
        bot_username: str = "dialogbot_demo_bot",
        bot_first_name: str = "Dialogbot",
    ) -> None:
        self._token = token
        self.bot_id = bot_id if bot_id is not None else _bot_id_from_token(token)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.api_calls: list[ApiCall] = []
        self._users: dict[int, EmulatedUser] = {}
        self._chats: dict[int, Chat] = {}
        self._usernames: dict[str, int] = {}
        self._queries: dict[str, Query] = {}
        self._answers: dict[int, list[CallbackAnswer]] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._files: dict[str, UploadedFile] = {}
        self._counter = itertools.count(1)
        self._notifier = Notifier()
        self.updates = UpdateQueue(self._notifier, lambda: self.webhooks.hook is not None)
        self.webhooks = Webhooks(self.updates, self._invoke_from, self._knows)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._handlers = self._build_handlers()
        self.faults = FaultPlan(self._method_key)
        # Parameters aiogram's own method models mark deprecated, as (method, parameter).
        self.deprecated_params: list[tuple[str, str]] = []

    # -- lifecycle -----------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_post("/_emulator/users/{user_id}/text", self._control_text)
        app.router.add_post("/_emulator/users/{user_id}/press", self._control_press)
        app.router.add_get("/_emulator/chats/{chat_id}", self._control_chat)
        app.router.add_get("/_emulator/events", self._control_events)
        # handler_cancellation ends long polls of clients that went away.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.updates.closing = False
        self._base_url = f"http://{host}:{runner.addresses[0][1]}"
        return self._base_url

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook delivery and close the server."""
        self.updates.closing = True
        self._notifier.notify()
        await self.webhooks.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._base_url = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("emulator not started; call await emu.start()")
        return self._base_url

    @property
    def token(self) -> str:
        return self._token

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- test-side API: world ------------------------------------------------

    def user(
        self,
        user_id: int,
        *,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "de",
    ) -> EmulatedUser:
        """The simulated user with this id (created on first use, same object afterwards)."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = EmulatedUser(
            self,
            user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self._users[user_id] = user
        self._chats[user_id] = Chat(user_id, "private", user=user)
        return user

    def add_channel(self, username: str = "@ruhr_dialog", title: str | None = None) -> int:
        """Create a channel the bot can post to (by id or @username); returns its id."""
        chat_id = -1_001_000_000_000 - next(self._counter)
        name = username if username.startswith("@") else f"@{username}"
        self._chats[chat_id] = Chat(
            chat_id,
            "channel",
            title or name[1:],
            name,
            bot_status="administrator",
            bot_rights={"can_post_messages": True, "can_edit_messages": True},
        )
        self._usernames[name.lower()] = chat_id
        return chat_id

    def add_group(self, title: str) -> int:
        """Create a group the bot is a member of; returns its (negative) id."""
        chat_id = -4_000_000_000 - next(self._counter)
        self._chats[chat_id] = Chat(chat_id, "group", title, bot_status="member")
        return chat_id

    def set_bot_membership(self, chat: int | str, status: str, **rights: bool) -> None:
        """The bot's status in a channel or group as getChatMember reports it: "creator",
        "administrator" (with rights such as can_post_messages), "member", "restricted" (with
        can_send_messages), "left" or "kicked". A channel refuses the bot's posts unless it is
        the creator or an administrator with can_post_messages; a group unless it is a member
        allowed to send."""
        found = self._lookup(chat)
        if found is None or found.type == "private":
            raise KeyError(f"no channel or group {chat!r}")
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        found.bot_status, found.bot_rights = status, dict(rights)
        found.left = status in ("left", "kicked")

    def chat_messages(
        self, chat: int | str, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """The bot's messages in any chat (id or @username), oldest first."""
        found = self._lookup(chat)
        if found is None:
            raise KeyError(f"unknown chat {chat!r}")
        if include_deleted:
            return sorted(found.messages.values(), key=lambda m: m.message_id)
        return found.visible()

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for this scope and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return [dict(c) for c in self._commands.get(key, [])]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (case-insensitive)."""
        return [c for c in self.api_calls if c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> int:
        return len(self.updates.pending)

    @property
    def webhook_url(self) -> str | None:
        return None if self.webhooks.hook is None else self.webhooks.hook.url

    def update_enqueued_at(self, update_id: int) -> float:
        """time.monotonic() when the update was enqueued."""
        return self.updates.enqueued_at[update_id]

    # -- test-side API: faults -----------------------------------------------

    def inject_fault(
        self, method: str, *, status: int, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of executing."""
        self.faults.schedule(method, *[Fault.error(status, retry_after=retry_after)] * times)

    def inject_disconnect(self, method: str, times: int = 1) -> None:
        """Close the connection without answering the next ``times`` calls of ``method``."""
        self.faults.schedule(method, *[Fault.dropped(execute=False)] * times)

    def answer_with(
        self, method: str, body: RawAnswer, *, status: int = 200, times: int = 1
    ) -> None:
        """Execute the next ``times`` calls of ``method``, then answer each with ``body`` and
        ``status`` instead of the real answer: a string is sent as it is, a dict as JSON, a
        function gets the real answer (a dict) and returns the body. The call's effect stays
        (a resend is visible); its recorded status is ``status``, its fault "raw answer"."""
        if callable(body):
            made = body

            def raw(_status: int, real: JSON) -> str | bytes | JSON:
                return made(real)

        else:
            raw = body  # type: ignore[assignment]
        fault = Fault(status, execute=True, body=raw, label="raw answer")
        self.faults.schedule(method, *[fault] * times)

    def deliver_raw(self, kind: str, payload: JSON) -> int:
        """Enqueue an update of any ``kind`` with ``payload`` as it is (no checks); returns
        its update id. A button press's ``id`` can be answered (answerCallbackQuery) as the
        press of the user ``payload["from"]`` names, if it names one."""
        sender = payload.get("from")
        if kind == "callback_query" and isinstance(payload.get("id"), str):
            user_id = sender.get("id") if isinstance(sender, dict) else None
            self._queries[payload["id"]] = Query(user_id if isinstance(user_id, int) else 0)
        return self.updates.enqueue(kind, payload)

    @property
    def _webhook(self) -> Webhook | None:
        # Kept for the tests that read the webhook's last error directly.
        return self.webhooks.hook

    def _knows(self, method: str) -> bool:
        return method.lower() in self._handlers

    async def _invoke_from(
        self, key: str, values: JSON, files: dict[str, UploadedFile], source: str
    ) -> object:
        return await self._invoke(key, values, files, source=source)

    def _method_key(self, method: str) -> str:
        if method.lower() not in self._handlers:
            known = sorted(name for name, _ in self._handlers.values())
            raise ValueError(f"unknown Bot API method {method!r}; emulated: {known}")
        return method.lower()

    # -- test-side API: synchronisation --------------------------------------

    async def wait_fetched(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - by design
        """Return once every enqueued update was delivered and confirmed by the bot."""
        if not await self._notifier.wait_until(lambda: not self.updates.pending, timeout):
            ids = [u.update_id for u in self.updates.pending]
            raise TimeoutError(
                f"updates {ids} not fetched and confirmed within {timeout}s "
                "(is the bot polling with increasing offsets, or is the webhook failing?)"
            )

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the condition, by design
    ) -> T:
        """Re-check ``predicate`` after every API call; return its first truthy value.

        AssertionError/LookupError from the predicate (e.g. ``user.last_text`` before any
        message) count as "not yet".
        """
        result: list[T] = []
        errors: list[BaseException] = []

        def check() -> bool:
            try:
                value = predicate()
            except (AssertionError, LookupError) as exc:
                errors[:] = [exc]
                return False
            if value:
                result.append(value)
            return bool(value)

        if await self._notifier.wait_until(check, timeout):
            return result[0]
        raise TimeoutError(self._wait_for_report(predicate, timeout, errors))

    def _wait_for_report(
        self, predicate: Callable[[], object], timeout: float, errors: list[BaseException]
    ) -> str:
        try:
            source = inspect.getsource(predicate).strip()
        except (OSError, TypeError):
            source = repr(predicate)
        recent = "; ".join(
            f"{c.method}(chat_id={c.chat_id}) -> {c.status}" for c in self.api_calls[-5:]
        )
        report = (
            f"condition not met within {timeout}s: {source}\nlast API calls: {recent or 'none'}"
        )
        if errors:
            report += f"\nlast predicate error: {errors[0]!r}"
        return report

    # -- updates -------------------------------------------------------------

    def _fake_file(self, kind: str) -> JSON:
        number = next(self._counter)
        return {"file_id": f"{kind}-{number:08d}-emu", "file_unique_id": f"u{kind[:2]}{number}"}

    def _private_chat(self, user: EmulatedUser) -> Chat:
        return self._chats[user.id]

    def _lookup(self, ref: int | str) -> Chat | None:
        if isinstance(ref, str) and ref.startswith("@"):
            chat_id = self._usernames.get(ref.lower())
            return None if chat_id is None else self._chats.get(chat_id)
        try:
            return self._chats.get(int(ref))
        except ValueError:
            return None

    def _user_message(self, user: EmulatedUser, chat: Chat, content: JSON) -> int:
        message: JSON = {
            "message_id": chat.new_message_id(),
            "from": user.to_json(),
            "chat": chat.to_json(),
            "date": now(),
            **content,
        }
        chat.incoming[message["message_id"]] = message
        return self.updates.enqueue("message", message)

    def _edit_user_message(self, user: EmulatedUser, message_id: int, new_text: str) -> int:
        chat = self._private_chat(user)
        original = chat.incoming.get(message_id)
        if original is None or "text" not in original:
            raise AssertionError(f"user {user.id} has no text message {message_id} to edit")
        original.pop("entities", None)
        edited = {**original, **_text_content(new_text), "edit_date": now()}
        chat.incoming[message_id] = edited
        return self.updates.enqueue("edited_message", edited)

    def _keyboard_message(self, chat: Chat, message_id: int | None) -> StoredMessage:
        visible = chat.visible()
        if message_id is not None:
            for message in visible:
                if message.message_id == message_id:
                    return message
            raise AssertionError(f"no (undeleted) bot message {message_id} in chat {chat.id}")
        for message in reversed(visible):
            if message.reply_markup:
                return message
        texts = [m.text[:40] for m in visible[-5:]]
        raise AssertionError(
            f"no bot message with an inline keyboard in chat {chat.id}; last: {texts}"
        )

    def _press(self, user: EmulatedUser, chat: Chat, message_id: int, data: str) -> int:
        query_id = str(4_000_000_000_000_000_000 + next(self._counter))
        self._queries[query_id] = Query(user.id)
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            message_json = self._message_json(chat, message)
        else:  # Telegram sends an InaccessibleMessage (date 0) for unknown messages
            message_json = {"chat": chat.to_json(), "message_id": message_id, "date": 0}
        payload = {
            "id": query_id,
            "from": user.to_json(),
            "message": message_json,
            "chat_instance": f"{abs(chat.id) * 7919 % 10**12}",
            "data": data,
        }
        return self.updates.enqueue("callback_query", payload)

    def _set_blocked(self, user: EmulatedUser, *, blocked: bool) -> int:
        chat = self._private_chat(user)
        chat.blocked = blocked
        member: JSON = {"status": "member", "user": self._bot_json()}
        kicked: JSON = {"status": "kicked", "user": self._bot_json(), "until_date": 0}
        payload = {
            "chat": chat.to_json(),
            "from": user.to_json(),
            "date": now(),
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member,
        }
        return self.updates.enqueue("my_chat_member", payload)

    # -- HTTP: Bot API -------------------------------------------------------

    def _build_handlers(self) -> dict[str, tuple[str, _Handler]]:
        table: dict[str, _Handler] = {
            "getMe": self._get_me,
            "getUpdates": self.updates.get_updates,
            "setWebhook": self.webhooks.set_webhook,
            "deleteWebhook": self.webhooks.delete_webhook,
            "getWebhookInfo": self.webhooks.get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._send_chat_action,
            "leaveChat": self._leave_chat,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "close": self._always_true,
            "logOut": self._always_true,
        }
        return {name.lower(): (name, handler) for name, handler in table.items()}

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self._token:
            return json_response(401, ApiError(401, "Unauthorized").payload())
        key = request.match_info["method"].lower()
        if key not in self._handlers:
            return json_response(404, ApiError(404, "Not Found").payload())
        try:
            values, files = await read_request(request)
        except ApiError as exc:
            return json_response(exc.status, exc.payload())
        fault = self.faults.take(key)
        if fault is not None:
            return await self._answer_fault(request, key, values, files, fault)
        status, body = await self._invoke(key, values, files)
        return json_response(status, body)

    async def _answer_fault(
        self,
        request: web.Request,
        key: str,
        values: JSON,
        files: dict[str, UploadedFile],
        fault: Fault,
    ) -> web.StreamResponse:
        """Answer one call as ``fault`` says: after running it or without, late, with another
        status or body, or not at all."""
        self.faults.injected.append((self._handlers[key][0], fault.label))
        answered = 0 if fault.drop else fault.status
        if fault.execute:
            # The real answer, for a body made from it; the status the bot sees is the fault's
            # (200: the real one).
            real_status, real = await self._invoke(key, values, files, fault=fault.label)
            call = self.api_calls[-1]  # recorded with no await since
            status = real_status if fault.status == 200 and not fault.drop else fault.status
            call.status = 0 if fault.drop else status
            body = real if status == real_status else fault.error_payload()
        else:
            status, body = fault.status, fault.error_payload()
            real = body
            self._record(key, values, files, time.monotonic(), answered, fault.label)
        if fault.delay:
            await asyncio.sleep(fault.delay)  # a client that gave up has gone by now
        if fault.drop:
            return self._drop_connection(request)
        if fault.body is None:
            return json_response(status, body)
        raw = fault.body(status, copy.deepcopy(real)) if callable(fault.body) else fault.body
        if isinstance(raw, dict):
            return json_response(status, raw)
        return web.Response(
            status=status,
            body=raw.encode() if isinstance(raw, str) else raw,
            content_type=fault.content_type,
        )

    def _drop_connection(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()  # the client sees the server disconnect
        return web.Response(status=500)  # never reaches the client

    async def _invoke(
        self,
        key: str,
        values: JSON,
        files: dict[str, UploadedFile],
        *,
        fault: str | None = None,
        source: str = "http",
    ) -> tuple[int, JSON]:
        """Execute one method and record the call (``fault``: the label of a fault that
        follows the execution)."""
        started = time.monotonic()
        try:
            result = await self._handlers[key][1](Params(normalise(values), files))
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.status, exc.payload()
        except Exception as exc:  # an emulator bug: answer like Telegram, keep the traceback
            _log.exception("emulator failed to execute %s", key)
            status, body = 500, ApiError(500, f"Internal Server Error: {exc!r}").payload()
        self._record(key, values, files, started, status, fault, source)
        return status, body

    def _record(
        self,
        key: str,
        values: JSON,
        files: dict[str, UploadedFile],
        started: float,
        status: int,
        fault: str | None,
        source: str = "http",
    ) -> None:
        params = normalise(values)
        chat_id = params.get("chat_id")
        method = self._handlers[key][0]
        deprecated = deprecated_params(method)
        self.deprecated_params.extend((method, name) for name in params if name in deprecated)
        call = ApiCall(
            seq=len(self.api_calls) + 1,
            method=method,
            params=params,
            files=files,
            time=started,
            chat_id=chat_id if isinstance(chat_id, int | str) else None,
            status=status,
            fault=fault,
            source=source,
        )
        self.api_calls.append(call)
        self._notifier.notify()

    # -- methods: bot and updates --------------------------------------------

    def _bot_json(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def _get_me(self, _: Params) -> JSON:
        return {
            **self._bot_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _always_true(self, _: Params) -> bool:
        return True

    # -- methods: messages ---------------------------------------------------

    def _chat_for(self, p: Params, *, send: bool = True) -> Chat:
        """Resolve chat_id; ``send`` applies the rules for writing into the chat."""
        ref = p.get("chat_id")
        if ref is None:
            raise bad_request("chat_id is empty")
        chat = self._lookup(ref) if isinstance(ref, int | str) else None
        if chat is None:
            is_user = isinstance(ref, int) and ref > 0
            raise _blocked() if send and is_user else bad_request("chat not found")
        if send and chat.blocked:
            raise _blocked()
        if send and chat.left:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        if send and not chat.bot_may_post():
            raise bad_request(
                "need administrator rights in the channel chat"
                if chat.type == "channel"
                else "not enough rights to send text messages to the chat"
            )
        return chat

    def _reply_target(self, chat: Chat, p: Params) -> int | None:
        parameters = p.json("reply_parameters")
        if isinstance(parameters, dict):
            target = parameters.get("message_id")
            lenient = bool(parameters.get("allow_sending_without_reply"))
        else:
            target, lenient = (
                p.integer("reply_to_message_id"),
                p.flag("allow_sending_without_reply"),
            )
        if target is None:
            return None
        known = chat.messages.get(target)
        if target in chat.incoming or (known is not None and not known.deleted):
            return int(target)
        if lenient:
            return None
        raise bad_request("message to be replied not found")

    def _store(self, chat: Chat, message: StoredMessage) -> JSON:
        chat.messages[message.message_id] = message
        return self._message_json(chat, message)

    def _message_json(self, chat: Chat, message: StoredMessage, *, nested: bool = True) -> JSON:
        data: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat.to_json(),
        }
        if chat.type == "channel":
            data["sender_chat"] = chat.to_json()
        else:
            data["from"] = self._bot_json()
        if message.kind == "text":
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        else:
            data[message.kind] = message.media_json
            if message.caption:
                data["caption"] = message.caption
                if message.entities:
                    data["caption_entities"] = message.entities
        if message.markup_json is not None:
            data["reply_markup"] = message.markup_json
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if nested and message.reply_to_message_id is not None:
            data["reply_to_message"] = self._reply_json(chat, message.reply_to_message_id)
        return data

    def _reply_json(self, chat: Chat, message_id: int) -> JSON:
        if message_id in chat.incoming:
            return chat.incoming[message_id]
        return self._message_json(chat, chat.messages[message_id], nested=False)

    async def _send_message(self, p: Params) -> JSON:
        chat = self._chat_for(p)
        raw, mode = p.text("text") or "", p.text("parse_mode")
        parsed = render(raw, mode, p.json("entities"), caption=False)
        keyboard = markup(p)
        message = StoredMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            kind="text",
            raw_text=raw,
            parse_mode=mode,
            text=parsed.text,
            date=now(),
            entities=parsed.entities,
            reply_markup=keyboard.buttons,
            markup_json=keyboard.inline_json,
            reply_keyboard=keyboard.reply_keyboard,
            reply_to_message_id=self._reply_target(chat, p),
        )
        return self._store(chat, message)

    def _input_file(self, p: Params, name: str) -> UploadedFile:
        """A file given as multipart part, attach:// reference, known file_id or URL."""
        if name in p.files:
            return p.files[name]
        value = p.get(name)
        if not isinstance(value, str):
            raise bad_request(f"there is no {name} in the request")
        if value.startswith("attach://"):
            upload = p.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"there is no {name} in the request")
            return upload
        if value in self._files:
            return self._files[value]
        if re.match(r"https?://", value):
            filename = value.rstrip("/").rsplit("/", 1)[-1] or name
            return UploadedFile(filename, b"", source_url=value)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _register_file(self, upload: UploadedFile, kind: str) -> JSON:
        ids = self._fake_file(kind)
        self._files[ids["file_id"]] = upload
        return {**ids, "file_size": len(upload.data)}

    def _media_message(
        self, p: Params, chat: Chat, kind: str, upload: UploadedFile
    ) -> StoredMessage:
        if upload.source_url is None and not upload.data:
            raise bad_request("file must be non-empty")
        raw, mode = p.text("caption") or "", p.text("parse_mode")
        parsed = render(raw, mode, p.json("caption_entities"), caption=True)
        keyboard = markup(p)
        return StoredMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            kind=kind,
            raw_text=raw,
            parse_mode=mode,
            text=parsed.text,
            date=now(),
            entities=parsed.entities,
            reply_markup=keyboard.buttons,
            markup_json=keyboard.inline_json,
            reply_keyboard=keyboard.reply_keyboard,
            caption=parsed.text,
            reply_to_message_id=self._reply_target(chat, p),
        )

    async def _send_photo(self, p: Params) -> JSON:
        chat = self._chat_for(p)
        upload = self._input_file(p, "photo")
        message = self._media_message(p, chat, "photo", upload)
        check_image(upload)
        width, height = image_size(upload.data)
        thumb_width = min(width, 90)
        thumb_height = max(1, thumb_width * height // max(width, 1))
        message.photo = upload.data
        message.media_json = [
            {**self._register_file(upload, "photo"), "width": thumb_width, "height": thumb_height},
            {**self._register_file(upload, "photo"), "width": width, "height": height},
        ]
        return self._store(chat, message)

    async def _send_document(self, p: Params) -> JSON:
        chat = self._chat_for(p)
        upload = self._input_file(p, "document")
        if len(upload.data) > DOCUMENT_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        message = self._media_message(p, chat, "document", upload)
        mime = mimetypes.guess_type(upload.filename)[0] or upload.content_type
        message.document, message.filename = upload.data, upload.filename
        message.media_json = {
            **self._register_file(upload, "document"),
            "file_name": upload.filename,
            "mime_type": mime,
        }
        return self._store(chat, message)

    # -- methods: editing ----------------------------------------------------

    def _message_to_edit(self, p: Params) -> tuple[Chat, StoredMessage]:
        if p.get("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
        chat = self._chat_for(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            if message_id in chat.incoming:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return chat, message

    def _apply_edit(
        self, chat: Chat, message: StoredMessage, parsed: ParsedText | None, markup: Markup
    ) -> JSON:
        """Apply new content/markup, or answer "not modified" as Telegram does."""
        same_text = parsed is None or (
            parsed.text == message.text and parsed.entities == message.entities
        )
        if same_text and markup.inline_json == message.markup_json:
            raise bad_request(NOT_MODIFIED)
        if parsed is not None:
            message.history.append(message.text)
            message.text, message.entities = parsed.text, parsed.entities
        message.reply_markup, message.markup_json = markup.buttons, markup.inline_json
        message.edit_count += 1
        message.edit_date = now()
        return self._message_json(chat, message)

    async def _edit_message_text(self, p: Params) -> JSON:
        chat, message = self._message_to_edit(p)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        raw, mode = p.text("text") or "", p.text("parse_mode")
        parsed = render(raw, mode, p.json("entities"), caption=False)
        result = self._apply_edit(chat, message, parsed, markup(p, inline_only=True))
        message.raw_text, message.parse_mode = raw, mode
        return result

    async def _edit_message_caption(self, p: Params) -> JSON:
        chat, message = self._message_to_edit(p)
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        raw, mode = p.text("caption") or "", p.text("parse_mode")
        parsed = render(raw, mode, p.json("caption_entities"), caption=True)
        result = self._apply_edit(chat, message, parsed, markup(p, inline_only=True))
        message.raw_text, message.parse_mode, message.caption = raw, mode, parsed.text
        return result

    async def _edit_message_reply_markup(self, p: Params) -> JSON:
        chat, message = self._message_to_edit(p)
        return self._apply_edit(chat, message, None, markup(p, inline_only=True))

    async def _delete_message(self, p: Params) -> bool:
        chat = self._chat_for(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            return True
        if chat.incoming.pop(message_id, None) is not None:
            return True
        raise bad_request("message to delete not found")

    # -- methods: misc -------------------------------------------------------

    async def _answer_callback_query(self, p: Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(QUERY_INVALID)
        text = p.text("text")
        if text is not None and utf16_len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(query_id, text, p.flag("show_alert"), p.text("url"))
        self._answers.setdefault(query.user_id, []).append(answer)
        return True

    async def _set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        validated = [bot_command(c) for c in commands]
        self._commands[commands_key(p)] = validated
        return True

    async def _get_my_commands(self, p: Params) -> list[JSON]:
        return self._commands.get(commands_key(p), [])

    async def _delete_my_commands(self, p: Params) -> bool:
        self._commands.pop(commands_key(p), None)
        return True

    async def _send_chat_action(self, p: Params) -> bool:
        self._chat_for(p)
        if p.text("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _leave_chat(self, p: Params) -> bool:
        chat = self._chat_for(p, send=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        chat.left = True
        return True

    async def _get_chat(self, p: Params) -> JSON:
        chat = self._chat_for(p, send=False)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        accepted = dict.fromkeys((*gifts, "gifts_from_channels"), False)
        return {
            **chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": accepted,
        }

    async def _get_chat_member(self, p: Params) -> JSON:
        chat = self._chat_for(p, send=False)
        user_id = p.integer("user_id")
        if user_id is None:
            raise bad_request("user_id is empty")
        if user_id == self.bot_id and chat.type != "private":
            status = chat.bot_status or "member"
            member: JSON = {"status": status, "user": self._bot_json()}
            if status == "administrator":
                member.update(can_be_edited=False, is_anonymous=False, **ADMIN_RIGHTS)
                member.update(chat.bot_rights)
            elif status == "restricted":
                member.update(RESTRICTED_RIGHTS, until_date=0, is_member=True)
                member.update(chat.bot_rights)
            elif status == "creator":
                member["is_anonymous"] = False
            elif status == "kicked":
                member["until_date"] = 0
            return member
        user = self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        status = "member" if chat.type != "private" or chat.id == user_id else "left"
        return {"status": status, "user": user.to_json()}

    # -- HTTP: control API ---------------------------------------------------

    def _control_user(self, request: web.Request, body: JSON) -> EmulatedUser:
        user = self.user(int(request.match_info["user_id"]))
        for attribute in ("first_name", "last_name", "username", "language_code"):
            if isinstance(body.get(attribute), str):
                setattr(user, attribute, body[attribute])
        return user

    def _update_response(self, update_id: int) -> web.Response:
        enqueued = self.updates.enqueued_at[update_id]
        return web.json_response({"update_id": update_id, "enqueued_at": enqueued})

    async def _control_text(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            text = body["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            update_id = self._control_user(request, body).send_text(text)
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(f"{type(exc).__name__}: {exc}")
        return self._update_response(update_id)

    async def _control_press(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            user = self._control_user(request, body)
            message_id = body.get("message_id")
            if "data" in body:
                update_id = user.press_data(int(message_id), str(body["data"]))
            else:
                target = None if message_id is None else int(message_id)
                update_id = user.press(str(body["button"]), message_id=target)
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            return control_error(f"{type(exc).__name__}: {exc}")
        return self._update_response(update_id)

    async def _control_chat(self, request: web.Request) -> web.Response:
        ref = request.match_info["chat_id"]
        include_deleted = request.query.get("include_deleted") in ("1", "true")
        try:
            messages = self.chat_messages(ref, include_deleted=include_deleted)
        except KeyError as exc:
            return control_error(str(exc), status=404)
        return web.json_response([m.to_dict() for m in messages])

    async def _control_events(self, request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
            timeout = min(float(request.query.get("timeout", "0")), 60.0)
        except ValueError as exc:
            return control_error(str(exc))
        await self._notifier.wait_until(
            lambda: len(self.api_calls) > after or self.updates.closing, timeout
        )
        return web.json_response([c.to_event() for c in self.api_calls[max(after, 0) :]])


# --------------------------------------------------------------------------- CLI


async def _serve(host: str, port: int, token: str, username: str) -> None:
    emulator = BotApiEmulator(token=token, bot_username=username)
    print(await emulator.start(host, port), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Offline Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", required=True, help="bot token the emulator accepts")
    parser.add_argument("--bot-username", default="dialogbot_demo_bot")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token, args.bot_username))


if __name__ == "__main__":
    main()
