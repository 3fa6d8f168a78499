"""Chats and the messages in them: the bot's stored messages with their edits, the users'
incoming messages, button presses waiting for an answer, and the bot's membership in channels
and groups.

Imports the wire format and the keyboards of the validation module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.emulator.validation import Button
from bot.emulator.wire import JSON


class Person(Protocol):
    """The user of a private chat, as the chat shows them."""

    id: int
    first_name: str
    last_name: str | None
    username: str | None

    def to_json(self) -> JSON: ...


@dataclass
class StoredMessage:
    """A message the bot sent, in its current state (edits applied)."""

    message_id: int
    chat_id: int
    kind: str  # "text", "photo" or "document"
    raw_text: str  # text or caption exactly as sent (HTML source)
    parse_mode: str | None
    text: str  # plain text after entity parsing (the caption for media)
    date: int
    entities: list[JSON] = field(default_factory=list)
    reply_markup: list[list[Button]] = field(default_factory=list)
    markup_json: JSON | None = None
    reply_keyboard: list[list[str]] | None = None
    photo: bytes | None = None
    caption: str | None = None
    document: bytes | None = None
    filename: str | None = None
    media_json: Any = None
    edit_count: int = 0
    edit_date: int | None = None
    history: list[str] = field(default_factory=list)  # previous plain texts
    deleted: bool = False
    reply_to_message_id: int | None = None

    @property
    def buttons(self) -> list[Button]:
        return [button for row in self.reply_markup for button in row]

    @property
    def button_texts(self) -> list[str]:
        return [button.text for button in self.buttons]

    def to_dict(self) -> JSON:
        """JSON view for the control API (file contents as sizes)."""
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "kind": self.kind,
            "text": self.text,
            "raw_text": self.raw_text,
            "parse_mode": self.parse_mode,
            "entities": self.entities,
            "reply_markup": [
                [{"text": b.text, "callback_data": b.callback_data, "url": b.url} for b in row]
                for row in self.reply_markup
            ],
            "reply_keyboard": self.reply_keyboard,
            "caption": self.caption,
            "photo_size": None if self.photo is None else len(self.photo),
            "document_size": None if self.document is None else len(self.document),
            "filename": self.filename,
            "edit_count": self.edit_count,
            "deleted": self.deleted,
            "date": self.date,
        }


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to one button press."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None = None


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: Person | None = None
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    incoming: dict[int, JSON] = field(default_factory=dict)
    blocked: bool = False
    left: bool = False
    # The bot's own membership (getChatMember): in a channel an administrator who may post, in
    # a group a member, unless a test says otherwise (BotApiEmulator.set_bot_membership).
    bot_status: str = ""
    bot_rights: dict[str, bool] = field(default_factory=dict)

    def bot_may_post(self) -> bool:
        if self.type == "private" or self.bot_status in ("", "creator"):
            return True
        if self.type == "channel":
            return self.bot_status == "administrator" and self.bot_rights.get(
                "can_post_messages", False
            )
        if self.bot_status == "restricted":
            return self.bot_rights.get("can_send_messages", False)
        return self.bot_status in ("member", "administrator")

    def new_message_id(self) -> int:
        # Shared by users and bot so message ids are unique within the chat.
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def visible(self) -> list[StoredMessage]:
        return sorted(
            (m for m in self.messages.values() if not m.deleted), key=lambda m: m.message_id
        )

    def to_json(self) -> JSON:
        if self.user is not None:
            data: JSON = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
            return data
        data = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            data["username"] = self.username.lstrip("@")
        return data


MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
# ChatMemberAdministrator's rights (all required by the Bot API); a test sets the ones it needs.
ADMIN_RIGHTS = dict.fromkeys(
    (
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
        "can_send_welcome_messages",
    ),
    False,
)
RESTRICTED_RIGHTS = dict.fromkeys(
    (
        "can_send_messages",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_react_to_messages",
        "can_edit_tag",
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_manage_topics",
    ),
    False,
)


@dataclass
class Query:
    user_id: int
    answered: bool = False
