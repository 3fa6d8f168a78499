"""The Bot API's wire format: answers and error answers, a proxy's HTML error page, and the
decoding of a request's parameters (query string, form, multipart or JSON body) into typed
values with Telegram's error wording.

The bottom of the emulator: imports only aiohttp and the standard library.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

JSON = dict[str, Any]

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
HTML_ERROR_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Complex parameters arrive JSON-encoded inside form fields (aiogram, most clients).
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "allowed_updates",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "reply_to_message_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
    }
)
_INT_RE = re.compile(r"-?\d{1,20}")


def now() -> int:
    """Telegram's dates: whole seconds of the Unix epoch."""
    return int(time.time())


# --------------------------------------------------------------------------- answers


class ApiError(Exception):
    """A Bot API error answer; ``description`` follows Telegram's wording."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def blocked() -> ApiError:
    return ApiError(403, "Forbidden: bot was blocked by the user")


def json_response(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


def control_error(message: str, status: int = 400) -> web.Response:
    """An error answer of the emulator's own control API (not the Bot API's format)."""
    return web.json_response({"error": message}, status=status)


# --------------------------------------------------------------------------- requests


@dataclass
class UploadedFile:
    """A file the bot uploaded (multipart part) or referenced by file_id/URL."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    source_url: str | None = None


def normalise(values: JSON) -> JSON:
    """Decode form strings to JSON/int/bool where the Bot API defines the type."""
    out: JSON = {}
    for key, value in values.items():
        if isinstance(value, str):
            if key in _JSON_FIELDS:
                with contextlib.suppress(ValueError):
                    value = json.loads(value)  # undecodable stays str; Params rejects it
            elif key in _INT_FIELDS and _INT_RE.fullmatch(value):
                value = int(value)
            elif key in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
                value = value.lower() in ("true", "1")
        out[key] = value
    return out


class Params:
    """Typed access to one request's parameters with Telegram-like errors."""

    def __init__(self, values: JSON, files: dict[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def get(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def text(self, name: str) -> str | None:
        value = self.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and _INT_RE.fullmatch(value):
            return int(value)
        raise bad_request(f'field "{name}" must be of type Integer')

    def number(self, name: str) -> float | None:
        value = self.get(name)
        try:
            return None if value is None else float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Float') from None

    def flag(self, name: str) -> bool:
        return self.get(name) in (True, 1, "true", "True", "1")

    def json(self, name: str, error: str | None = None) -> Any:
        value = self.get(name)
        if isinstance(value, str):
            raise bad_request(error or f"can't parse {name} JSON object")
        return value


async def read_request(request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
    """Collect parameters from the query string and a form, multipart or JSON body."""
    values: JSON = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        values.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        for key, value in form.items():
            if isinstance(value, web.FileField):
                upload = UploadedFile(value.filename, value.file.read(), value.content_type)
                files[key] = upload
            elif isinstance(value, bytes | bytearray):
                values[key] = bytes(value).decode("utf-8", "replace")
            else:
                values[key] = value
    return values, files


async def read_multipart(reader: MultipartReader) -> tuple[JSON, dict[str, UploadedFile]]:
    values: JSON = {}
    files: dict[str, UploadedFile] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        name = part.name or ""
        if part.filename:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files[name] = UploadedFile(part.filename, bytes(await part.read()), content_type)
        else:
            values[name] = await part.text()
    return values, files
