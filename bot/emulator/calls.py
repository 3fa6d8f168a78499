"""The emulated Bot API methods by name, their execution, and the record of every call the bot
made, as tests read it.

Imports the wire format, the notifier of the update queue, and aiogram's method models (for
deprecated parameters).
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator.updates import Notifier
from bot.emulator.wire import JSON, ApiError, Params, UploadedFile, normalise

_log = logging.getLogger(__name__)

# One emulated Bot API method.
Handler = Callable[[Params], Awaitable[Any]]
# Told of every call once it is recorded (benchmarks/load.py follows its citizens so).
CallObserver = Callable[["ApiCall"], None]


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


class Calls:
    """The method table and the call log (``api_calls``, shared with the emulator)."""

    def __init__(self, notifier: Notifier, table: dict[str, Handler]) -> None:
        self._notifier = notifier
        self._handlers = {name.lower(): (name, handler) for name, handler in table.items()}
        self.log: list[ApiCall] = []
        # Parameters aiogram's own method models mark deprecated, as (method, parameter).
        self.deprecated: list[tuple[str, str]] = []
        self.observers: list[CallObserver] = []

    def knows(self, method: str) -> bool:
        return method.lower() in self._handlers

    def name(self, key: str) -> str:
        """The method's name as the Bot API spells it."""
        return self._handlers[key][0]

    def key(self, method: str) -> str:
        """The lower-case key of an emulated method; ValueError for any other."""
        if not self.knows(method):
            known = sorted(name for name, _ in self._handlers.values())
            raise ValueError(f"unknown Bot API method {method!r}; emulated: {known}")
        return method.lower()

    async def invoke(
        self,
        key: str,
        values: JSON,
        files: dict[str, UploadedFile],
        *,
        fault: str | None = None,
        source: str = "http",
    ) -> tuple[int, JSON, ApiCall]:
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
        call = self.record(key, values, files, started, status, fault, source)
        return status, body, call

    def record(
        self,
        key: str,
        values: JSON,
        files: dict[str, UploadedFile],
        started: float,
        status: int,
        fault: str | None,
        source: str = "http",
    ) -> ApiCall:
        params = normalise(values)
        chat_id = params.get("chat_id")
        method = self._handlers[key][0]
        deprecated = deprecated_params(method)
        self.deprecated.extend((method, name) for name in params if name in deprecated)
        call = ApiCall(
            seq=len(self.log) + 1,
            method=method,
            params=params,
            files=files,
            time=started,
            chat_id=chat_id if isinstance(chat_id, int | str) else None,
            status=status,
            fault=fault,
            source=source,
        )
        self.log.append(call)
        self._notifier.notify()
        for observer in self.observers:
            observer(call)
        return call
