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

``BotApiEmulator`` only composes the parts (see the package docstring for where each lives)
and offers the test-side API; it may import every other module of the emulator and re-exports
the names tests use (``Fault``, ``EmulatedUser``, ``parse_html``...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.emulator.calls import ApiCall, CallObserver, Calls, Handler
from bot.emulator.chats import (
    MEMBER_STATUSES,
    CallbackAnswer,
    Chat,
    Query,
    StoredMessage,
)
from bot.emulator.citizens import EmulatedUser
from bot.emulator.faults import Fault, FaultPlan
from bot.emulator.html import EntityParseError, ParsedText, parse_html, utf16_len
from bot.emulator.http import HttpSurface
from bot.emulator.messages import Messages
from bot.emulator.updates import Notifier, UpdateQueue
from bot.emulator.validation import (
    CALLBACK_ANSWER_LIMIT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Button,
)
from bot.emulator.webhooks import Webhook, Webhooks
from bot.emulator.wire import (
    JSON,
    ApiError,
    Params,
    UploadedFile,
)

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


def _bot_id_from_token(token: str) -> int:
    # The numeric token prefix is the bot's user id; aiogram's bot.id relies on it.
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 1_000_000_001


# A raw answer to a call (BotApiEmulator.answer_with): a body, or a function of the real one.
RawAnswer = str | JSON | Callable[[JSON], "str | JSON"]


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
        self._users: dict[int, EmulatedUser] = {}  # the simulated citizens
        self._notifier = Notifier()
        self.messages = Messages(self._bot_json, lambda: self.bot_id)
        self.updates = UpdateQueue(self._notifier, lambda: self.webhooks.hook is not None)
        self.webhooks = Webhooks(self.updates, self._invoke_from, self._knows)
        self.calls = Calls(self._notifier, self._method_table())
        self.faults = FaultPlan(self.calls.key)
        self.http = HttpSurface(
            token, self.calls, self.faults, self.updates, self.user, self._chat_messages
        )
        self.api_calls: list[ApiCall] = self.calls.log
        # Parameters aiogram's own method models mark deprecated, as (method, parameter).
        self.deprecated_params: list[tuple[str, str]] = self.calls.deprecated
        self._base_url: str | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL."""
        self._base_url = await self.http.start(host, port)
        self.updates.closing = False
        return self._base_url

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook delivery and close the server."""
        self.updates.closing = True
        self._notifier.notify()
        await self.webhooks.stop()
        await self.http.stop()
        self._base_url = None

    def _method_table(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self.updates.get_updates,
            "setWebhook": self.webhooks.set_webhook,
            "deleteWebhook": self.webhooks.delete_webhook,
            "getWebhookInfo": self.webhooks.get_webhook_info,
            "sendMessage": self.messages.send_message,
            "editMessageText": self.messages.edit_message_text,
            "editMessageReplyMarkup": self.messages.edit_message_reply_markup,
            "editMessageCaption": self.messages.edit_message_caption,
            "deleteMessage": self.messages.delete_message,
            "answerCallbackQuery": self.messages.answer_callback_query,
            "sendPhoto": self.messages.send_photo,
            "sendDocument": self.messages.send_document,
            "setMyCommands": self.messages.set_my_commands,
            "getMyCommands": self.messages.get_my_commands,
            "deleteMyCommands": self.messages.delete_my_commands,
            "sendChatAction": self.messages.send_chat_action,
            "leaveChat": self.messages.leave_chat,
            "getChat": self.messages.get_chat,
            "getChatMember": self.messages.get_chat_member,
            "close": self._always_true,
            "logOut": self._always_true,
        }

    def _chat_messages(self, chat: str, include_deleted: bool) -> list[StoredMessage]:
        return self.chat_messages(chat, include_deleted=include_deleted)

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
            self.messages,
            self.updates,
            self._bot_json,
            user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self._users[user_id] = self.messages.users[user_id] = user
        self.messages.chats[user_id] = Chat(user_id, "private", user=user)
        return user

    def add_channel(self, username: str = "@ruhr_dialog", title: str | None = None) -> int:
        """Create a channel the bot can post to (by id or @username); returns its id."""
        chat_id = -1_001_000_000_000 - next(self.messages.counter)
        name = username if username.startswith("@") else f"@{username}"
        self.messages.chats[chat_id] = Chat(
            chat_id,
            "channel",
            title or name[1:],
            name,
            bot_status="administrator",
            bot_rights={"can_post_messages": True, "can_edit_messages": True},
        )
        self.messages.usernames[name.lower()] = chat_id
        return chat_id

    def add_group(self, title: str) -> int:
        """Create a group the bot is a member of; returns its (negative) id."""
        chat_id = -4_000_000_000 - next(self.messages.counter)
        self.messages.chats[chat_id] = Chat(chat_id, "group", title, bot_status="member")
        return chat_id

    def set_bot_membership(self, chat: int | str, status: str, **rights: bool) -> None:
        """The bot's status in a channel or group as getChatMember reports it: "creator",
        "administrator" (with rights such as can_post_messages), "member", "restricted" (with
        can_send_messages), "left" or "kicked". A channel refuses the bot's posts unless it is
        the creator or an administrator with can_post_messages; a group unless it is a member
        allowed to send."""
        found = self.messages.lookup(chat)
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
        found = self.messages.lookup(chat)
        if found is None:
            raise KeyError(f"unknown chat {chat!r}")
        if include_deleted:
            return sorted(found.messages.values(), key=lambda m: m.message_id)
        return found.visible()

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for this scope and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return [dict(c) for c in self.messages.commands.get(key, [])]

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

    # -- test-side API: long runs (benchmarks/load.py) -----------------------

    def observe_calls(self, observer: CallObserver) -> None:
        """Tell ``observer`` of every Bot API call once it is recorded."""
        self.calls.observers.append(observer)

    def has_user(self, user_id: int) -> bool:
        """Whether a simulated user with this id exists (and was not forgotten)."""
        return user_id in self._users

    def forget_user(self, user_id: int) -> None:
        """Drop a simulated user with their private chat and button answers, so a run with
        many users keeps only the ones still active."""
        self._users.pop(user_id, None)
        self.messages.users.pop(user_id, None)
        self.messages.chats.pop(user_id, None)
        self.messages.answers.pop(user_id, None)

    def callback_query_user(self, query_id: str, *, forget: bool = False) -> int | None:
        """The id of the user whose button press ``query_id`` is (``forget``: drop the press
        afterwards; it can no longer be answered)."""
        queries = self.messages.queries
        query = queries.pop(query_id, None) if forget else queries.get(query_id)
        return None if query is None else query.user_id

    def forget_update(self, update_id: int) -> float:
        """Like ``update_enqueued_at``, and drop that record."""
        return self.updates.enqueued_at.pop(update_id)

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
            self.messages.queries[payload["id"]] = Query(user_id if isinstance(user_id, int) else 0)
        return self.updates.enqueue(kind, payload)

    @property
    def _webhook(self) -> Webhook | None:
        # Kept for the tests that read the webhook's last error directly.
        return self.webhooks.hook

    def _private_chat(self, user: EmulatedUser) -> Chat:
        # Kept for the tests that read what a person sent.
        return self.messages.chats[user.id]

    def _knows(self, method: str) -> bool:
        return self.calls.knows(method)

    async def _invoke_from(
        self, key: str, values: JSON, files: dict[str, UploadedFile], source: str
    ) -> object:
        return await self.calls.invoke(key, values, files, source=source)

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
