"""The update being handled in the current task, for the log lines written meanwhile.

The pipeline (bot/telegram/pipeline.py) sets it; bot/app/logs.py puts it on every record
(`update_id` in JSON lines, "[update N]" in text lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

CURRENT_UPDATE: ContextVar[int | None] = ContextVar("dialogbot_update", default=None)


@contextmanager
def about_update(update_id: int) -> Iterator[None]:
    """Log lines written inside carry this update's id."""
    token = CURRENT_UPDATE.set(update_id)
    try:
        yield
    finally:
        CURRENT_UPDATE.reset(token)
