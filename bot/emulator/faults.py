"""Faults of a real Bot API and a real network, and which calls get one.

A new fault rule goes here: a ``Fault`` constructor for its answer (status, Telegram's
description, a raw body, a delay or a dropped connection, run before or instead of the method),
and ``FaultPlan`` to schedule it per method or at random with a seed.

Imports only the wire format.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.emulator.wire import HTML_ERROR_PAGE, JSON, NOT_MODIFIED, QUERY_INVALID, REASONS, ApiError

# A raw body: text or bytes as they are, a dict as JSON, or made from the real status and answer.
Body = str | bytes | JSON | Callable[[int, JSON], "str | bytes | JSON"]


@dataclass(frozen=True)
class Fault:
    """How the emulator answers one Bot API call instead of its normal answer.

    ``execute``: run the method first, so its effects happen (the message is sent, the updates
    are handed out), then answer as below; otherwise the method is not run at all.
    ``status``, ``description``, ``retry_after``: the answer's HTTP status and, unless ``body``
    is given, Telegram's error JSON for them (status 200 with ``execute``: the real answer).
    ``body``: the raw body to answer instead: text or bytes as they are, a dict as JSON, or a
    function of the real status and JSON answer (with ``execute``; else Telegram's error JSON)
    that returns one of those.
    ``content_type``: of that body. ``delay``: seconds to wait before answering (more than the
    client's timeout: a slow answer). ``drop``: close the connection instead of answering.
    ``label``: what ``ApiCall.fault`` says for the call.
    """

    status: int = 200
    execute: bool = False
    description: str | None = None
    retry_after: int | None = None
    body: Body | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    drop: bool = False
    label: str = "fault"

    # -- the faults of a real Bot API and a real network -------------------------------

    @classmethod
    def error(
        cls, status: int, description: str | None = None, *, retry_after: int | None = None
    ) -> Fault:
        """Telegram's JSON error answer; the method is not executed."""
        return cls(
            status, description=description, retry_after=retry_after, label=f"status {status}"
        )

    @classmethod
    def html_page(cls, status: int = 502) -> Fault:
        """A proxy's HTML error page (nginx while the Bot API restarts); not executed."""
        page = HTML_ERROR_PAGE.format(status=status, reason=REASONS.get(status, "Error"))
        return cls(status, body=page, content_type="text/html", label=f"html {status}")

    @classmethod
    def cut_off(cls, *, execute: bool = True) -> Fault:
        """The real answer, cut off in the middle (by default after the method ran)."""
        return cls(execute=execute, body=_cut_off, label="cut off")

    @classmethod
    def slow(cls, seconds: float, *, execute: bool = True) -> Fault:
        """The answer, ``seconds`` late: longer than the client waits, it sees a timeout."""
        return cls(execute=execute, delay=seconds, label="slow")

    @classmethod
    def dropped(cls, *, execute: bool = True) -> Fault:
        """The connection closes without an answer (by default after the method ran: the
        message went out, the bot sees an error)."""
        return cls(execute=execute, drop=True, label="dropped after" if execute else "disconnect")

    @classmethod
    def not_modified(cls) -> Fault:
        """An edit answered "message is not modified" after it was applied (as when an earlier
        try of the same edit went through)."""
        return cls(
            400, execute=True, description=f"Bad Request: {NOT_MODIFIED}", label="not modified"
        )

    @classmethod
    def edit_gone(cls) -> Fault:
        return replace(cls.error(400, "Bad Request: message to edit not found"), label="edit gone")

    @classmethod
    def cannot_edit(cls) -> Fault:
        return replace(cls.error(400, "Bad Request: message can't be edited"), label="cannot edit")

    @classmethod
    def query_too_old(cls) -> Fault:
        return replace(cls.error(400, f"Bad Request: {QUERY_INVALID}"), label="query too old")

    @classmethod
    def blocked(cls) -> Fault:
        return cls.error(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def deactivated(cls) -> Fault:
        return cls.error(403, "Forbidden: user is deactivated")

    @classmethod
    def chat_not_found(cls) -> Fault:
        return cls.error(400, "Bad Request: chat not found")

    @classmethod
    def not_admin(cls) -> Fault:
        """The bot may not post in the channel: it is no administrator there."""
        return cls.error(400, "Bad Request: need administrator rights in the channel chat")

    @classmethod
    def not_member(cls) -> Fault:
        return cls.error(403, "Forbidden: bot is not a member of the channel chat")

    @classmethod
    def unauthorized(cls) -> Fault:
        """The token was revoked."""
        return cls.error(401, "Unauthorized")

    def error_payload(self) -> JSON:
        status = self.status if self.status >= 400 else 500
        if status == 429:
            retry = self.retry_after if self.retry_after is not None else 1
            return ApiError(
                429, f"Too Many Requests: retry after {retry}", retry_after=retry
            ).payload()
        described = {
            400: "Bad Request: injected fault",
            403: "Forbidden: injected fault",
            409: "Conflict: injected fault",
        }.get(status, REASONS.get(status, f"Error {status}: injected fault"))
        description = self.description or described
        return ApiError(status, description, retry_after=self.retry_after).payload()


def _cut_off(_status: int, answer: JSON) -> str:
    text = json.dumps(answer, ensure_ascii=False)
    return text[: max(len(text) // 2, 1)]


class FaultPlan:
    """Which calls get a fault: scheduled ones first (per method, in order), then, if switched
    on, random ones drawn with a seed.

    ``emulator.faults.schedule("sendMessage", Fault.html_page(), Fault.dropped())`` answers the
    next two sendMessage calls so. ``emulator.faults.at_random(seed, rate=0.15, pool={...})``
    hits each call with probability ``rate`` with a fault drawn from the pool of its method
    (``pool[method] + pool["*"]``), and at least one in every ``at_least_every`` calls of each
    method. ``injected`` lists every fault answered, as (method, label).
    """

    def __init__(self, known: Callable[[str], str]) -> None:
        self._known = known  # checks a method name, returns its key
        self._scheduled: dict[str, deque[Fault]] = {}
        self._random: random.Random | None = None
        self._rate = 0.0
        self._pool: dict[str, tuple[Fault, ...]] = {}
        self._every: int | None = None
        self._since: dict[str, int] = {}
        self.seed: int | None = None
        self.injected: list[tuple[str, str]] = []

    def schedule(self, method: str, *faults: Fault) -> None:
        self._scheduled.setdefault(self._known(method), deque()).extend(faults)

    def at_random(
        self,
        seed: int,
        *,
        rate: float,
        pool: dict[str, Sequence[Fault]],
        at_least_every: int | None = None,
    ) -> None:
        for method in pool:
            if method != "*":
                self._known(method)
        self.seed = seed
        self._random = random.Random(seed)  # noqa: S311 - a test schedule, repeatable by its seed
        self._rate = rate
        self._pool = {
            (m if m == "*" else self._known(m)): tuple(faults) for m, faults in pool.items()
        }
        self._every = at_least_every
        self._since = {}

    def calm(self) -> None:
        """No more random faults (scheduled ones stay)."""
        self._random = None

    def clear(self) -> None:
        self.calm()
        self._scheduled.clear()

    def take(self, key: str) -> Fault | None:
        """The fault for this call of method ``key``, if any."""
        queue = self._scheduled.get(key)
        if queue:
            return queue.popleft()
        if self._random is None:
            return None
        pool = self._pool.get(key, ()) + self._pool.get("*", ())
        if not pool:
            return None
        since = self._since.get(key, 0)
        due = self._every is not None and since + 1 >= self._every
        if not due and self._random.random() >= self._rate:
            self._since[key] = since + 1
            return None
        self._since[key] = 0
        return self._random.choice(pool)
