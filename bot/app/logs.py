"""Logging that never shows a bot token.

aiohttp puts the request URL (which contains the token) into some network errors, and those
messages reach the logs through aiogram's exceptions, so every record passes a filter that masks
anything shaped like a token, and the configured token and secret themselves (`cli.main`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.domain.redaction import redact
from bot.telegram.update_context import CURRENT_UPDATE

LOG_FORMATS = ("text", "json")


class RedactTokens(logging.Filter):
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class UpdateId(logging.Filter):
    """Puts the current update's id on the record (`record.update_id`, None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "update_id", None) is None:
            record.update_id = CURRENT_UPDATE.get()
        return True


class TextFormat(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        update_id = getattr(record, "update_id", None)
        if update_id is None or f"update {update_id}" in record.getMessage():
            return line
        head, _, rest = line.partition(": ")
        return f"{head}: [update {update_id}] {rest}"


class JsonFormat(logging.Formatter):
    """One JSON object per line, for log shippers: time (UTC, ISO 8601), level, logger,
    message, update_id when the line is about an update, and the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        update_id = getattr(record, "update_id", None)
        if update_id is not None:
            entry["update_id"] = update_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    *,
    verbose: bool = False,
    quiet: bool = False,
    secrets: tuple[str, ...] = (),
    log_format: str = "text",
) -> None:
    """`quiet`: warnings and errors only, unless `verbose` (for the terminal chat)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormat() if log_format == "json" else TextFormat())
    handler.addFilter(RedactTokens(secrets))
    handler.addFilter(UpdateId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    # Seven lines about alembic's own plugins before every migration say nothing to an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
