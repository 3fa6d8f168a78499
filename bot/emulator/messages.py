"""The Bot API methods on chats and messages: sending texts, photos and documents, editing
and deleting them, answering button presses, bot commands, chat actions and what getChat and
getChatMember report; with the state they work on (every chat, file, press and command list).

Imports the wire format, validation and the chats.
"""

from __future__ import annotations

import itertools
import mimetypes
import re
from collections.abc import Callable

from bot.emulator.chats import (
    ADMIN_RIGHTS,
    RESTRICTED_RIGHTS,
    CallbackAnswer,
    Chat,
    Person,
    Query,
    StoredMessage,
)
from bot.emulator.html import ParsedText, utf16_len
from bot.emulator.validation import (
    CALLBACK_ANSWER_LIMIT,
    CHAT_ACTIONS,
    DOCUMENT_LIMIT,
    Markup,
    bot_command,
    check_image,
    commands_key,
    image_size,
    markup,
    render,
)
from bot.emulator.wire import (
    JSON,
    NOT_MODIFIED,
    QUERY_INVALID,
    ApiError,
    Params,
    UploadedFile,
    bad_request,
    now,
)
from bot.emulator.wire import blocked as _blocked


class Messages:
    """Every chat (by id and @username) with its messages, the users the bot may look up, the
    files it sent, the button presses waiting for an answer and the stored command lists."""

    def __init__(self, bot_json: Callable[[], JSON], bot_id: Callable[[], int]) -> None:
        self._bot_json = bot_json  # the bot as a message's "from" shows it
        self._bot_id = bot_id
        self.chats: dict[int, Chat] = {}
        self.usernames: dict[str, int] = {}
        self.users: dict[int, Person] = {}
        self.queries: dict[str, Query] = {}
        self.answers: dict[int, list[CallbackAnswer]] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.files: dict[str, UploadedFile] = {}
        self.counter = itertools.count(1)

    def fake_file(self, kind: str) -> JSON:
        number = next(self.counter)
        return {"file_id": f"{kind}-{number:08d}-emu", "file_unique_id": f"u{kind[:2]}{number}"}

    def lookup(self, ref: int | str) -> Chat | None:
        if isinstance(ref, str) and ref.startswith("@"):
            chat_id = self.usernames.get(ref.lower())
            return None if chat_id is None else self.chats.get(chat_id)
        try:
            return self.chats.get(int(ref))
        except ValueError:
            return None

    # -- methods: messages ---------------------------------------------------

    def chat_for(self, p: Params, *, send: bool = True) -> Chat:
        """Resolve chat_id; ``send`` applies the rules for writing into the chat."""
        ref = p.get("chat_id")
        if ref is None:
            raise bad_request("chat_id is empty")
        chat = self.lookup(ref) if isinstance(ref, int | str) else None
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

    def store(self, chat: Chat, message: StoredMessage) -> JSON:
        chat.messages[message.message_id] = message
        return self.message_json(chat, message)

    def message_json(self, chat: Chat, message: StoredMessage, *, nested: bool = True) -> JSON:
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
            data["reply_to_message"] = self.reply_json(chat, message.reply_to_message_id)
        return data

    def reply_json(self, chat: Chat, message_id: int) -> JSON:
        if message_id in chat.incoming:
            return chat.incoming[message_id]
        return self.message_json(chat, chat.messages[message_id], nested=False)

    async def send_message(self, p: Params) -> JSON:
        chat = self.chat_for(p)
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
        return self.store(chat, message)

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
        if value in self.files:
            return self.files[value]
        if re.match(r"https?://", value):
            filename = value.rstrip("/").rsplit("/", 1)[-1] or name
            return UploadedFile(filename, b"", source_url=value)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _register_file(self, upload: UploadedFile, kind: str) -> JSON:
        ids = self.fake_file(kind)
        self.files[ids["file_id"]] = upload
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

    async def send_photo(self, p: Params) -> JSON:
        chat = self.chat_for(p)
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
        return self.store(chat, message)

    async def send_document(self, p: Params) -> JSON:
        chat = self.chat_for(p)
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
        return self.store(chat, message)

    # -- methods: editing ----------------------------------------------------

    def _message_to_edit(self, p: Params) -> tuple[Chat, StoredMessage]:
        if p.get("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
        chat = self.chat_for(p)
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
        return self.message_json(chat, message)

    async def edit_message_text(self, p: Params) -> JSON:
        chat, message = self._message_to_edit(p)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        raw, mode = p.text("text") or "", p.text("parse_mode")
        parsed = render(raw, mode, p.json("entities"), caption=False)
        result = self._apply_edit(chat, message, parsed, markup(p, inline_only=True))
        message.raw_text, message.parse_mode = raw, mode
        return result

    async def edit_message_caption(self, p: Params) -> JSON:
        chat, message = self._message_to_edit(p)
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        raw, mode = p.text("caption") or "", p.text("parse_mode")
        parsed = render(raw, mode, p.json("caption_entities"), caption=True)
        result = self._apply_edit(chat, message, parsed, markup(p, inline_only=True))
        message.raw_text, message.parse_mode, message.caption = raw, mode, parsed.text
        return result

    async def edit_message_reply_markup(self, p: Params) -> JSON:
        chat, message = self._message_to_edit(p)
        return self._apply_edit(chat, message, None, markup(p, inline_only=True))

    async def delete_message(self, p: Params) -> bool:
        chat = self.chat_for(p)
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

    async def answer_callback_query(self, p: Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        query = self.queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(QUERY_INVALID)
        text = p.text("text")
        if text is not None and utf16_len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(query_id, text, p.flag("show_alert"), p.text("url"))
        self.answers.setdefault(query.user_id, []).append(answer)
        return True

    async def set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        validated = [bot_command(c) for c in commands]
        self.commands[commands_key(p)] = validated
        return True

    async def get_my_commands(self, p: Params) -> list[JSON]:
        return self.commands.get(commands_key(p), [])

    async def delete_my_commands(self, p: Params) -> bool:
        self.commands.pop(commands_key(p), None)
        return True

    async def send_chat_action(self, p: Params) -> bool:
        self.chat_for(p)
        if p.text("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def leave_chat(self, p: Params) -> bool:
        chat = self.chat_for(p, send=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        chat.left = True
        return True

    async def get_chat(self, p: Params) -> JSON:
        chat = self.chat_for(p, send=False)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        accepted = dict.fromkeys((*gifts, "gifts_from_channels"), False)
        return {
            **chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": accepted,
        }

    async def get_chat_member(self, p: Params) -> JSON:
        chat = self.chat_for(p, send=False)
        user_id = p.integer("user_id")
        if user_id is None:
            raise bad_request("user_id is empty")
        if user_id == self._bot_id() and chat.type != "private":
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
        user = self.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        status = "member" if chat.type != "private" or chat.id == user_id else "left"
        return {"status": status, "user": user.to_json()}
