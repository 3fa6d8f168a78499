"""Rules for an impulse: one short idea as free text."""

from __future__ import annotations

import unicodedata
from enum import Enum


class ImpulseProblem(Enum):
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"


def meaningful_length(text: str) -> int:
    """Length as a reader sees it: invisible format characters (zero-width spaces, direction
    overrides) and surrounding whitespace do not count towards the minimum."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return len(visible.strip())


def check_impulse(text: str, *, min_length: int, max_length: int) -> ImpulseProblem | None:
    """None when acceptable. The text itself is stored exactly as sent."""
    meaningful = meaningful_length(text)
    if meaningful == 0:
        return ImpulseProblem.EMPTY
    if meaningful < min_length:
        return ImpulseProblem.TOO_SHORT
    if len(text) > max_length:
        return ImpulseProblem.TOO_LONG
    return None
