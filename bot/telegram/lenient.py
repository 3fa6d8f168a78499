"""Reading what Telegram sends when the pinned aiogram's models reject part of it.

Telegram sometimes breaks its own documentation (a hidden-user `forward_origin` without
`sender_user_name`, an `external_reply.story` that is `{}`), and each Bot API release adds values
to unions (a new kind of forward origin) that an older aiogram cannot parse. One such part must
not make the whole update, or the answer to one of our calls, unreadable.

`read_leniently` validates, maps each error's location back to the raw JSON and repairs it there,
and repeats until the value reads or nothing that may go is left:

* a `forward_origin` that cannot be read becomes a hidden-user origin with an empty name: a
  handler still sees that the message was forwarded (the idea step refuses forwarded text);
* any other part that cannot be read is dropped; when the model then misses it (a required
  field), the part that contains it is dropped instead, and so on upwards;
* never the top `keep` levels (for an update: the update and its event): what needs those is
  unreadable and set aside (bot.telegram.pipeline).

Nothing here names a known payload: the repairs follow the errors' locations only. No SQL, no
I/O. Locations and error types are all that is ever reported; pydantic's messages and inputs
carry the update's content (texts, names) and are never looked at.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiogram.exceptions import ClientDecodeError
from aiogram.types import Update
from pydantic import ValidationError

T = TypeVar("T")
Path = tuple[str | int, ...]

MAX_REPAIRS = 64  # each repair removes or replaces one part, so this is never reached in practice
# What a location may show: field names, union tags, list indexes. Anything else ("?") could
# be content (the key of a free-form mapping).
_SAFE_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
SAFE_ORIGIN_KEY = "forward_origin"


@dataclass(frozen=True)
class Problem:
    """Where a value failed and pydantic's error type (`missing`, `union_tag_invalid`, ...)."""

    location: str
    type: str

    def __str__(self) -> str:
        return f"{self.location}: {self.type}"


@dataclass(frozen=True)
class Reading(Generic[T]):
    """The value read (None: unreadable), what was repaired to read it, and, when unreadable,
    why: the errors of the value as it came."""

    value: T | None
    repaired: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()


def location(parts: Sequence[Any]) -> str:
    return (
        ".".join(
            str(p) if isinstance(p, int) or _SAFE_PART.fullmatch(str(p)) else "?" for p in parts
        )
        or "(top)"
    )


def problems_of(error: ValidationError) -> tuple[Problem, ...]:
    """The error's locations and types, without its input or messages."""
    return tuple(
        Problem(location(e["loc"]), e["type"])
        for e in error.errors(include_input=False, include_url=False, include_context=False)
    )


def carries_content(error: BaseException) -> bool:
    """Whether `str(error)` (and so its traceback) would show what failed to read."""
    return isinstance(error, ClientDecodeError | ValidationError)


def describe(error: BaseException) -> str:
    """A log line's worth about a failed validation or decoding, without the content both
    carry (`str()` of either includes the input: texts, names, the whole batch)."""
    original = error.original if isinstance(error, ClientDecodeError) else error
    if isinstance(original, ValidationError):
        return "; ".join(str(p) for p in problems_of(original)) or "invalid"
    if isinstance(error, ClientDecodeError):
        return f"answer is not JSON ({type(original).__name__})"
    return type(error).__name__


def read_leniently(validate: Callable[[Any], T], raw: Any, *, keep: int) -> Reading[T]:
    """Validate `raw`, repairing (in a copy) what fails, below the top `keep` levels."""
    try:
        return Reading(validate(raw))
    except ValidationError as first:
        error = original = first
    data = copy.deepcopy(raw)
    repaired: list[Problem] = []
    replaced: set[Path] = set()
    for _ in range(MAX_REPAIRS):
        details = error.errors(include_input=False, include_url=False, include_context=False)
        target = _existing(data, details[0]["loc"]) if details else ()
        if len(target) < keep or not _repair(data, target, replaced):
            return Reading(None, tuple(repaired), problems_of(original))
        repaired.append(Problem(location(target), details[0]["type"]))
        try:
            return Reading(validate(data), tuple(repaired))
        except ValidationError as again:
            error = again
    return Reading(None, tuple(repaired), problems_of(original))


def read_update(raw: Any, *, context: dict[str, Any] | None = None) -> Reading[Update]:
    """An update from Telegram: the update and its event (`message`, ...) must read."""

    def validate(data: Any) -> Update:
        return Update.model_validate(data, context=context)

    return read_leniently(validate, raw, keep=2)


def update_kind(raw: Any) -> str:
    """The raw update's kind (`message`, `callback_query`, ...), '?' if it has none."""
    if isinstance(raw, dict):
        for key in raw:
            if key != "update_id" and isinstance(key, str) and _SAFE_PART.fullmatch(key):
                return key[:32]
    return "?"


def _existing(data: Any, loc: Sequence[Any]) -> Path:
    """The longest part of `loc` that is in the data: the failing value itself, or for a
    missing field the object that lacks it. Union tags and validator names in between are
    skipped (they are not keys of the data)."""
    node, path = data, []
    for part in loc:
        in_object = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_object or in_list:
            node = node[part]
            path.append(part)
    return tuple(path)


def _repair(data: Any, target: Path, replaced: set[Path]) -> bool:
    parent = data
    for part in target[:-1]:
        parent = parent[part]
    last = target[-1]
    if last == SAFE_ORIGIN_KEY and target not in replaced and isinstance(parent, dict):
        # A forward stays a forward, without anybody's name.
        old = parent[last]
        date = old.get("date") if isinstance(old, dict) else None
        parent[last] = {
            "type": "hidden_user",
            "date": date if isinstance(date, int) else 0,
            "sender_user_name": "",
        }
        replaced.add(target)
        return True
    if isinstance(parent, dict) and isinstance(last, str):
        del parent[last]
        return True
    if isinstance(parent, list) and isinstance(last, int):
        del parent[last]
        return True
    return False
