"""The record of the Bot API calls the bot made, as tests read it.

Imports only the wire format and aiogram's method models (for deprecated parameters).
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass

from bot.emulator.wire import JSON, UploadedFile


@dataclass
class ApiCall:
    """One Bot API request the bot made (time is time.monotonic() at arrival)."""

    seq: int
    method: str
    params: JSON
    files: dict[str, UploadedFile]
    time: float
    chat_id: int | str | None
    status: int = 200
    fault: str | None = None
    source: str = "http"  # or "webhook-reply"

    def to_event(self) -> JSON:
        return {
            "seq": self.seq,
            "method": self.method,
            "chat_id": self.chat_id,
            "time": self.time,
            "status": self.status,
            "fault": self.fault,
        }


@functools.cache
def deprecated_params(method: str) -> frozenset[str]:
    """The parameters of ``method`` that aiogram's own method model marks deprecated (the Bot
    API documentation no longer has them): the emulator records every use of one."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()
    try:
        module = importlib.import_module(f"aiogram.methods.{snake}")
        model = getattr(module, method[0].upper() + method[1:])
        fields = model.model_fields
    except (ImportError, AttributeError):
        return frozenset()
    return frozenset(
        name
        for name, info in fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("deprecated")
    )
