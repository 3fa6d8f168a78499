"""Per-person rate limit: a token bucket per person, checked before anything touches the database.

A flood gets one polite notice; after that the person's input is dropped until the bucket has
refilled. Other people are never slowed down: each person has their own bucket.

Where the buckets live:

* `MemoryRateLimiter` keeps them in this process's memory: the default, right for one instance.
* `bot.telegram.shared_limits.RedisRateLimiter` keeps them in Redis (`[scaling] redis_url` /
  `DIALOGBOT_REDIS_URL`), so several instances behind a load balancer share one limit per
  person instead of each granting the full rate; while Redis cannot be reached it falls back to
  a `MemoryRateLimiter` of its own, so a Redis outage never silences the bot.

Both are a `RateLimiter`: `await check(key)` for a verdict, `forget(key)` on erasure and
`await close()` at shutdown.

The throttling middleware runs on updates that are already in the inbox
(bot/telegram/pipeline.py records every update before handling it). A `FloodGate` in front of
the inbox keeps a button-press flood out of it: see there which updates it may drop, and why
that is safe.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

if TYPE_CHECKING:
    from bot.domain.settings import Settings

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Verdict(Enum):
    ALLOW = "allow"
    NOTIFY = "notify"  # the first refusal of a flood: tell the person once
    DROP = "drop"


@dataclass
class _Bucket:
    tokens: float
    updated: float
    notified: bool = False


class RateLimiter(Protocol):
    """A token bucket per person (`key`: the Telegram user id)."""

    async def check(self, key: int) -> Verdict:
        """Takes a token if there is one; else whether to tell the person (once per flood)."""
        ...

    def forget(self, key: int) -> None:
        """Erasure: nothing about the person stays, not even their rate-limit state."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Token buckets in this process's memory (one instance; also the fallback of Redis)."""

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._swept = clock()

    async def check(self, key: int) -> Verdict:
        return self.take(key)

    def take(self, key: int) -> Verdict:
        """The in-memory check itself: takes a token if there is one."""
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.notified = False
            return Verdict.ALLOW
        if bucket.notified:
            return Verdict.DROP
        bucket.notified = True
        return Verdict.NOTIFY

    def forget(self, key: int) -> None:
        """Erasure: nothing about the person stays, not even their rate-limit state."""
        self._buckets.pop(key, None)

    def clear(self) -> None:
        """Every bucket goes (the Redis limiter's fallback, once Redis answers again)."""
        self._buckets.clear()

    async def close(self) -> None:
        """Nothing to release in memory; the Redis limiter closes its connections."""

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        """Whether a bucket is kept for this person."""
        return key in self._buckets

    def _sweep(self, now: float) -> None:
        """Drop buckets that have refilled completely; they hold nothing worth keeping."""
        if now - self._swept < 60:
            return
        full_after = self._burst / self._rate if self._rate else 0
        stale = [k for k, b in self._buckets.items() if now - b.updated >= full_after]
        for key in stale:
            del self._buckets[key]
        self._swept = now


def build_rate_limiter(
    settings: Settings,
    *,
    extra_burst: int = 0,
    namespace: str | None = None,
    scale: int = 1,
) -> RateLimiter:
    """In Redis when `[scaling] redis_url` is set (several instances), else in memory.

    `extra_burst` and `namespace`: the flood gate's buckets, `extra_burst` larger than the
    throttling's and under keys of their own. `scale`: rate and burst that many times a
    person's (the web chat's buckets per client address, bot.web.app)."""
    policy = settings.abuse
    per_minute = policy.rate_per_minute * scale
    burst = policy.rate_burst * scale + extra_burst
    if settings.redis_url:
        from bot.telegram.shared_limits import (
            RedisRateLimiter,  # only then: the Redis client is 6 MB
        )

        return RedisRateLimiter.from_url(
            settings.redis_url,
            per_minute=per_minute,
            burst=burst,
            secret=settings.secret,
            **({"namespace": namespace} if namespace else {}),
        )
    return MemoryRateLimiter(per_minute=per_minute, burst=burst)


# How many button presses beyond the rate limit's burst still reach the inbox: the first of
# them gets the "langsamer" notice there; the others leave room for a throttling that runs a
# little later than the gate (the updates before them still being handled) and has refilled
# by then. Only presses beyond these are dropped before the inbox.
FLOOD_GATE_MARGIN = 3
FLOOD_GATE_NAMESPACE = "dialogbot:gate:"
# How many recent update ids the gate and the throttling remember their verdict for: more
# than a batch of getUpdates (100) or the updates an instance takes in at once (`max_in_flight`).
GATE_MEMORY = 4_096


class RecentVerdicts:
    """The verdict given per update id, for the last `size` update ids (oldest go first)."""

    def __init__(self, size: int = GATE_MEMORY) -> None:
        self._size = size
        self._verdicts: OrderedDict[int, Verdict] = OrderedDict()

    def get(self, update_id: int) -> Verdict | None:
        return self._verdicts.get(update_id)

    def remember(self, update_id: int, verdict: Verdict) -> None:
        self._verdicts[update_id] = verdict
        while len(self._verdicts) > self._size:
            self._verdicts.popitem(last=False)

    def __len__(self) -> int:
        return len(self._verdicts)


class FloodGate:
    """Drops clearly excessive button presses of one person before they reach the inbox.

    Checked in bot/telegram/pipeline.py before an update is recorded, with a token bucket per person
    of its own (in memory, or in Redis like the throttling's): the same rate, and a burst
    `FLOOD_GATE_MARGIN` larger. Why dropping there is safe:

    * only presses are dropped. A press carries nothing the person typed: it repeats a choice
      already on the screen, and Telegram stops its spinner on its own after a while. A message
      (an idea, an answer, a command) is never dropped unseen: it always goes through the inbox
      and the throttling, which answers the first one over the limit;
    * never the first press over the limit: the gate's burst is larger than the throttling's,
      so the throttling sees that press and answers it with the "langsamer" notice. The gate
      drops a press only once the person pressed more than the burst and the margin within
      the refill time: by then the throttling had refused at least the margin's presses of
      this flood and would drop these too;
    * one bucket per person: other people are never slowed down or dropped; moderators (who
      the throttling exempts) and updates without a person are always let through;
    * a dropped update is confirmed to Telegram like a handled one: it is not sent again;
    * one verdict per update: an update delivered again (the inbox could not record it, the
      database being away, so it was not confirmed and comes with the next getUpdates) gets the
      verdict it got the first time, without taking another token. Otherwise each retry during
      an outage would spend a token of the person's bucket on the same press, until the gate
      dropped presses that were never over the limit. The last `memory` update ids are kept.
    """

    def __init__(
        self, limiter: RateLimiter, exempt: frozenset[int], *, memory: int = GATE_MEMORY
    ) -> None:
        self._limiter = limiter
        self._exempt = exempt
        self._verdicts = RecentVerdicts(memory)
        self.dropped = 0  # since start: how many presses the gate kept out of the inbox

    async def admits(self, update: Update) -> bool:
        press = update.callback_query
        if press is None or press.from_user.id in self._exempt:
            return True
        verdict = self._verdicts.get(update.update_id)
        if verdict is None:
            verdict = await self._limiter.check(press.from_user.id)
            self._verdicts.remember(update.update_id, verdict)
            if verdict is not Verdict.ALLOW:
                self.dropped += 1
        return verdict is Verdict.ALLOW

    def forget(self, key: int) -> None:
        """Erasure: the person's bucket goes too (the remembered verdicts name no person)."""
        self._limiter.forget(key)

    async def close(self) -> None:
        await self._limiter.close()


def build_flood_gate(settings: Settings) -> FloodGate:
    limiter = build_rate_limiter(
        settings, extra_burst=FLOOD_GATE_MARGIN, namespace=FLOOD_GATE_NAMESPACE
    )
    return FloodGate(limiter, settings.moderators)


class ThrottlingMiddleware(BaseMiddleware):
    """Registered on `dispatcher.update`, before language and storage middlewares.

    One verdict per update, as the flood gate's: a step run again in this process (it failed
    because the database or the Bot API was away for a moment) is not charged a token again,
    and a refused one stays refused, without a second notice."""

    def __init__(
        self,
        limiter: RateLimiter,
        exempt: frozenset[int],
        i18n: I18n,
        *,
        memory: int = GATE_MEMORY,
    ) -> None:
        self._limiter = limiter
        self._exempt = exempt
        self._i18n = i18n
        self._verdicts = RecentVerdicts(memory)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.id in self._exempt or not isinstance(event, Update):
            return await handler(event, data)
        earlier = self._verdicts.get(event.update_id)
        if earlier is None:
            verdict = await self._limiter.check(user.id)
            self._verdicts.remember(event.update_id, verdict)
        else:
            verdict = earlier
        if verdict is Verdict.ALLOW:
            return await handler(event, data)
        await self._refuse(event, user, notify=verdict is Verdict.NOTIFY and earlier is None)
        return None

    async def _refuse(self, update: Update, user: User, *, notify: bool) -> None:
        with self._i18n.context(), self._i18n.use_locale(self._locale(user)):
            text = _("Bitte etwas langsamer: Wir kommen nicht hinterher. Gleich geht es weiter.")
        if update.callback_query is not None:
            # A button press must always be answered, or the button keeps spinning.
            await update.callback_query.answer(text if notify else None)
        elif notify and update.message is not None and update.message.chat.type == "private":
            await update.message.answer(text)

    def _locale(self, user: User) -> str:
        code = (user.language_code or "").split("-")[0]
        return code if code in self._i18n.available_locales else self._i18n.default_locale
