"""What Telegram refuses before anything happens: the length limits of texts, captions and
callback answers, ``parse_mode`` and explicit entities, inline and reply keyboards, uploaded
images, bot commands and their scopes. Each check raises the ``ApiError`` Telegram answers.

Imports the wire format and the HTML parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.html import EntityParseError, ParsedText, parse_html, utf16_len
from bot.emulator.wire import JSON, Params, UploadedFile, bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
DOCUMENT_LIMIT = 50 * 1024 * 1024
_PHOTO_LIMIT = 10 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_OTHER_BUTTON_KINDS = (
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_RE = re.compile(r"(?:https?|tg)://\S+")
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_RE = re.compile(r"[a-z]{2}")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")


# --------------------------------------------------------------------------- texts


def _trim(parsed: ParsedText) -> ParsedText:
    """Strip outer whitespace like Telegram does, shifting and clipping entities."""
    whitespace = " \t\n\r\v\f"
    left = parsed.text.lstrip(whitespace)
    shift = utf16_len(parsed.text[: len(parsed.text) - len(left)])
    text = left.rstrip(whitespace)
    total = utf16_len(text)
    entities: list[JSON] = []
    for entity in parsed.entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(text, entities)


def _explicit_entities(value: Any) -> list[JSON]:
    if value is None:
        return []
    valid = isinstance(value, list) and all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        for e in value
    )
    if not valid:
        raise bad_request("can't parse entities JSON object")
    return [dict(e) for e in value]


def render(raw: str, parse_mode: str | None, entities: Any, *, caption: bool) -> ParsedText:
    """Apply parse_mode and Telegram's length rules to a text or caption."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            parsed = parse_html(raw)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from exc
    elif mode == "":
        parsed = ParsedText(raw, _explicit_entities(entities))
    elif mode in ("markdown", "markdownv2"):
        parsed = ParsedText(raw)  # accepted but not parsed: the bot uses HTML
    else:
        raise bad_request("unsupported parse_mode")
    parsed = _trim(parsed)
    length = utf16_len(parsed.text)
    if caption and length > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    if not caption and length == 0:
        raise bad_request("message text is empty")
    if not caption and length > TEXT_LIMIT:
        raise bad_request("message is too long")
    return parsed


# --------------------------------------------------------------------------- keyboards


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the bot sent it."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    kind: str = "callback_data"


@dataclass
class Markup:
    buttons: list[list[Button]] = field(default_factory=list)
    inline_json: JSON | None = None
    reply_keyboard: list[list[str]] | None = None


def _inline_button(raw: Any) -> Button:
    if not isinstance(raw, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    if "callback_data" in raw:
        data = raw["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
        return Button(text, callback_data=data)
    if "url" in raw:
        url = raw["url"]
        if not isinstance(url, str) or not _URL_RE.fullmatch(url):
            raise bad_request("BUTTON_URL_INVALID")
        return Button(text, url=url, kind="url")
    for kind in _OTHER_BUTTON_KINDS:
        if kind in raw:
            return Button(text, kind=kind)
    raise bad_request(
        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    )


def _rows(value: Any) -> list[list[Any]]:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return value


def _keyboard_text(raw: Any) -> str:
    text = raw.get("text") if isinstance(raw, dict) else raw
    if not isinstance(text, str) or not text:
        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    return text


def parse_markup(value: Any, *, inline_only: bool = False) -> Markup:
    if value is None:
        return Markup()
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = [[_inline_button(b) for b in row] for row in _rows(value["inline_keyboard"])]
        return Markup(rows, value if any(rows) else None)
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in value:
        return Markup(
            reply_keyboard=[[_keyboard_text(b) for b in r] for r in _rows(value["keyboard"])]
        )
    if value.get("remove_keyboard") or value.get("force_reply"):
        return Markup()
    raise bad_request("can't parse reply keyboard markup JSON object")


# --------------------------------------------------------------------------- records


def markup(p: Params, *, inline_only: bool = False) -> Markup:
    """The request's ``reply_markup``, checked."""
    raw = p.json("reply_markup", "can't parse reply keyboard markup JSON object")
    return parse_markup(raw, inline_only=inline_only)


# --------------------------------------------------------------------------- files and commands


def image_size(data: bytes) -> tuple[int, int]:
    if data.startswith(_IMAGE_MAGIC[0]) and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 1280, 720  # good enough for formats whose header we do not decode


def check_image(upload: UploadedFile) -> None:
    if upload.source_url is not None:
        return  # Telegram would download it; offline we accept the URL as is
    if len(upload.data) > _PHOTO_LIMIT:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    is_webp = upload.data.startswith(b"RIFF") and upload.data[8:12] == b"WEBP"
    if not upload.data.startswith(_IMAGE_MAGIC[:-1]) and not is_webp:
        raise bad_request("IMAGE_PROCESS_FAILED")


def bot_command(raw: Any) -> JSON:
    if not isinstance(raw, dict):
        raise bad_request("can't parse BotCommand: BotCommand must be an Object")
    command, description = raw.get("command"), raw.get("description")
    if not isinstance(command, str) or not _COMMAND_NAME_RE.fullmatch(command):
        raise bad_request("BOT_COMMAND_INVALID")
    if not isinstance(description, str) or not 1 <= len(description) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return {"command": command, "description": description}


def commands_key(p: Params) -> tuple[str, str]:
    """The scope (as canonical JSON) and language a command list is stored under."""
    scope = p.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    language = p.text("language_code") or ""
    if language and not _LANGUAGE_RE.fullmatch(language):
        raise bad_request("invalid language code specified")
    return json.dumps(scope, sort_keys=True), language
