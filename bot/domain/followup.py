"""Closing the loop: at the end of the dialog a citizen may ask to hear what came of the
consultation; a moderator's outcome message goes to exactly those people. No aiogram, no SQL.

The outbox (storage/followup.py) has one row per outcome message and one per recipient,
written before anything is sent. A message goes from draft (the moderator's preview) to
sending (on "Senden", which fixes the recipients) to sent; each delivery from pending to
sending (recorded before the call) to sent, gone (the person blocked the bot: marked
unreachable and skipped) or failed. A delivery left "sending" by a crash is in doubt and is
never sent again: at most once per person and message, also across a restart.

Sending is paced (`Pacer`): Telegram allows about 30 messages a second to different people
in all; the outcome message takes `RATE` of them, so that answers to people who are using the
bot meanwhile still go out at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

RATE = 25.0  # outcome messages per second, below Telegram's ~30 for all messages together
BATCH = 25  # recipients read at once; the lease is renewed with every batch
LEASE = timedelta(minutes=2)  # another process may take over a send after this
TEXT_MAX = 3500  # leaves room below Telegram's 4096 for the frame and the escaping
MAX_ATTEMPTS = 3  # a delivery Telegram refused as overloaded (429, 5xx) is tried this often


class MessageStatus(StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"
    DROPPED = "dropped"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # in flight; left so by a crash: in doubt, never sent again
    SENT = "sent"
    GONE = "gone"  # blocked the bot or deleted the account
    FAILED = "failed"


@dataclass(frozen=True)
class Recipient:
    participant_id: int
    chat_id: int
    locale: str


@dataclass(frozen=True)
class Draft:
    id: int
    text: str
    status: MessageStatus
    chat_id: int | None


@dataclass(frozen=True)
class Summary:
    """How a sent outcome message fared, per delivery status."""

    message_id: int
    chat_id: int | None
    sent: int
    gone: int
    failed: int
    in_doubt: int


def valid_text(text: str) -> bool:
    return bool(text.strip()) and len(text) <= TEXT_MAX


def next_status_after_overload(attempts: int) -> DeliveryStatus:
    """Telegram did not take the message (429, 5xx): try again later, up to MAX_ATTEMPTS."""
    return DeliveryStatus.PENDING if attempts < MAX_ATTEMPTS else DeliveryStatus.FAILED


class Pacer:
    """At most `rate` calls a second: `wait()` before each call sleeps until its slot."""

    def __init__(
        self,
        rate: float = RATE,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: float | None = None

    async def wait(self) -> None:
        now = self._monotonic()
        if self._next is not None and now < self._next:
            await self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval
