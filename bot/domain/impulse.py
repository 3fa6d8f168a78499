"""Rules for an impulse: one short idea as free text."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from enum import Enum


class ImpulseProblem(Enum):
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    CONTACT_DATA = "contact_data"  # links or phone numbers where the policy refuses them
    DUPLICATE = "duplicate"  # the person sent (nearly) the same idea before


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


# Links (with or without scheme), e-mail addresses and phone numbers (7+ digits, with the
# usual separators): the things that turn an idea into an advert or expose someone.
_LINK = re.compile(
    r"(?i)\b(?:https?://|www\.|t\.me/)\S+|\b[\w.-]+\.(?:de|com|org|net|info|nrw|ruhr)\b"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<!\w)(?<!\d\.)(?:\+|00)?\d(?:[\s/()-]?\d){6,}(?!\w|\.\d)")


def contact_data(text: str) -> set[str]:
    """Which kinds of contact data the text contains: "link", "email", "phone"."""
    found = set()
    if _EMAIL.search(text):
        found.add("email")
    if _LINK.search(_EMAIL.sub(" ", text)):
        found.add("link")
    if _PHONE.search(text):
        found.add("phone")
    return found


def _normalised(text: str) -> str:
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    words = re.findall(r"\w+", visible.casefold())
    return " ".join(words)


def near_identical(a: str, b: str, *, threshold: float = 0.9) -> bool:
    """Same idea sent again: equal after case, punctuation and spacing, or nearly so."""
    left, right = _normalised(a), _normalised(b)
    if left == right:
        return True
    return SequenceMatcher(None, left, right, autojunk=False).ratio() >= threshold
