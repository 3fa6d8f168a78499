"""The citizens on the test side: ``EmulatedUser`` sends texts, media and button presses,
edits, blocks the bot, and reads the bot's messages in its private chat; each action enqueues
the update a Telegram client would cause.

Imports the update queue, the chats and their messages.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable

from bot.emulator.chats import CallbackAnswer, Chat, Query, StoredMessage
from bot.emulator.html import utf16_len
from bot.emulator.messages import Messages
from bot.emulator.updates import UpdateQueue
from bot.emulator.validation import Button
from bot.emulator.wire import JSON, now

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def _text_content(text: str) -> JSON:
    """A user's text message; clients mark a leading /command as bot_command."""
    content: JSON = {"text": text}
    match = _COMMAND_RE.match(text)
    if match and (match.end() == len(text) or text[match.end()].isspace()):
        length = utf16_len(match.group())
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return content


class EmulatedUser:
    """A simulated Telegram user talking to the bot; every action enqueues one Update."""

    def __init__(
        self,
        messages: Messages,
        updates: UpdateQueue,
        bot_json: Callable[[], JSON],
        user_id: int,
        *,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self._messages = messages
        self._updates = updates
        self._bot_json = bot_json
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def _chat(self) -> Chat:
        return self._messages.chats[self.id]

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
            chat = self._chat
            content["reply_to_message"] = self._messages.reply_json(chat, reply_to)
        return self._send(content)

    def send_sticker(self) -> int:
        sticker = {
            **self._messages.fake_file("sticker"),
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
            {**self._messages.fake_file("photo"), "width": 90, "height": 67},
            {**self._messages.fake_file("photo"), "width": 1280, "height": 960},
        ]
        content: JSON = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._send(content)

    def send_voice(self) -> int:
        voice = {**self._messages.fake_file("voice"), "duration": 3, "mime_type": "audio/ogg"}
        return self._send({"voice": voice})

    def send_video_note(self) -> int:
        note = {**self._messages.fake_file("video_note"), "length": 240, "duration": 5}
        return self._send({"video_note": note})

    def send_document(self, filename: str = "x.pdf") -> int:
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        document = {
            **self._messages.fake_file("document"),
            "file_name": filename,
            "mime_type": mime,
        }
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
            "id": self._messages.fake_file("poll")["file_unique_id"],
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
        value = 1 + self._updates.next_update_id % 6  # deterministic, always in 1..6
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
        chat = self._messages.chats.get(group_id)
        if chat is None or chat.type not in ("group", "supergroup"):
            raise AssertionError(f"{group_id} is not a group created with emu.add_group()")
        return self._message(chat, _text_content(text))

    def edit_text(self, message_id: int, new_text: str) -> int:
        return self._edit(message_id, new_text)

    def _send(self, content: JSON) -> int:
        return self._message(self._chat, content)

    # -- buttons -------------------------------------------------------------

    def press(self, button_text: str, *, message_id: int | None = None) -> int:
        """Press an inline button by visible text (exact match first, then substring)."""
        chat = self._chat
        message = self._keyboard_message(chat, message_id)
        button = _find_button(message, button_text)
        if button.callback_data is None:
            raise AssertionError(
                f"button {button.text!r} is a {button.kind} button, not a callback"
            )
        return self._press(chat, message.message_id, button.callback_data)

    def press_data(self, message_id: int, data: str) -> int:
        """Send arbitrary (possibly forged) callback data for a message."""
        return self._press(self._chat, message_id, data)

    # -- blocking ------------------------------------------------------------

    def block_bot(self) -> int:
        return self._set_blocked(blocked=True)

    def unblock_bot(self) -> int:
        return self._set_blocked(blocked=False)

    @property
    def blocked(self) -> bool:
        return self._chat.blocked

    # -- reading -------------------------------------------------------------

    @property
    def messages(self) -> list[StoredMessage]:
        """The bot's messages in this private chat (current state, deleted excluded)."""
        return self._chat.visible()

    @property
    def last_message(self) -> StoredMessage:
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has sent no (undeleted) message to user {self.id}")
        return messages[-1]

    @property
    def newest_message(self) -> StoredMessage | None:
        """The bot's newest message in this chat, deleted or not; None before the first
        (cheaper than ``messages``: nothing is sorted)."""
        sent = self._chat.messages
        return sent[max(sent)] if sent else None

    @property
    def last_text(self) -> str:
        return self.last_message.text

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return list(self._messages.answers.get(self.id, []))

    # -- the updates of these actions --------------------------------------

    def _message(self, chat: Chat, content: JSON) -> int:
        message: JSON = {
            "message_id": chat.new_message_id(),
            "from": self.to_json(),
            "chat": chat.to_json(),
            "date": now(),
            **content,
        }
        chat.incoming[message["message_id"]] = message
        return self._updates.enqueue("message", message)

    def _edit(self, message_id: int, new_text: str) -> int:
        chat = self._chat
        original = chat.incoming.get(message_id)
        if original is None or "text" not in original:
            raise AssertionError(f"user {self.id} has no text message {message_id} to edit")
        original.pop("entities", None)
        edited = {**original, **_text_content(new_text), "edit_date": now()}
        chat.incoming[message_id] = edited
        return self._updates.enqueue("edited_message", edited)

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

    def _press(self, chat: Chat, message_id: int, data: str) -> int:
        query_id = str(4_000_000_000_000_000_000 + next(self._messages.counter))
        self._messages.queries[query_id] = Query(self.id)
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            message_json = self._messages.message_json(chat, message)
        else:  # Telegram sends an InaccessibleMessage (date 0) for unknown messages
            message_json = {"chat": chat.to_json(), "message_id": message_id, "date": 0}
        payload = {
            "id": query_id,
            "from": self.to_json(),
            "message": message_json,
            "chat_instance": f"{abs(chat.id) * 7919 % 10**12}",
            "data": data,
        }
        return self._updates.enqueue("callback_query", payload)

    def _set_blocked(self, *, blocked: bool) -> int:
        chat = self._chat
        chat.blocked = blocked
        member: JSON = {"status": "member", "user": self._bot_json()}
        kicked: JSON = {"status": "kicked", "user": self._bot_json(), "until_date": 0}
        payload = {
            "chat": chat.to_json(),
            "from": self.to_json(),
            "date": now(),
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member,
        }
        return self._updates.enqueue("my_chat_member", payload)


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
