"""Rules for an impulse: one short idea as free text."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from enum import Enum, StrEnum

# Every check below reads at most this many characters of a text (Telegram's own limit for a
# message), and each is linear in what it reads: no user text can make one take long.
MAX_CHECKED = 4096


class ImpulseStatus(StrEnum):
    """Where an impulse stands; storage keeps the value (`impulses.status`)."""

    PENDING = "pending"  # waiting for a moderator (pre-moderation)
    APPROVED = "approved"  # published
    REJECTED = "rejected"
    REMOVED = "removed"  # taken down after publication (post-moderation)
    MERGED = "merged"  # a duplicate, merged into another impulse (bot.domain.ratings)


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
# The patterns are written so that each text position is tried in constant time: a domain is
# found at its ".tld" (preceded by a word character), an address at its "@" (and the host after
# it, whose character classes cannot overlap), so nothing backtracks over the rest of the text.
_LINK = re.compile(
    r"(?i)\b(?:https?://|www\.|t\.me/)\S|(?<=\w)\.(?:de|com|org|net|info|nrw|ruhr)\b"
)
_EMAIL = re.compile(r"(?<=[\w.+-])@[\w-]+\.\w")
_PHONE = re.compile(r"(?<!\w)(?<!\d\.)(?:\+|00)?\d(?:[\s/()-]?\d){6,}(?!\w|\.\d)")


def contact_data(text: str) -> set[str]:
    """Which kinds of contact data the text contains: "link", "email", "phone"."""
    text = text[:MAX_CHECKED]
    found = set()
    if _EMAIL.search(text):
        found.add("email")
    if _LINK.search(_EMAIL.sub(" ", text)):
        found.add("link")
    if _PHONE.search(text):
        found.add("phone")
    return found


def _normalised(text: str) -> str:
    visible = "".join(ch for ch in text[:MAX_CHECKED] if unicodedata.category(ch) != "Cf")
    words = re.findall(r"\w+", visible.casefold())
    return " ".join(words)


def shingles(text: str) -> Counter[str]:
    """The text as a multiset of three-character shingles (after case, punctuation and spacing
    are normalised): at most MAX_CHECKED of them, built in one pass."""
    return _shingles_of(_normalised(text))


def _shingles_of(normalised: str) -> Counter[str]:
    if len(normalised) < 3:
        return Counter([normalised])
    return Counter(normalised[i : i + 3] for i in range(len(normalised) - 2))


def resemblance(left: Counter[str], right: Counter[str]) -> float:
    """Dice coefficient of two shingle multisets: 1.0 for the same text, 0.0 for nothing shared.
    Linear in the number of distinct shingles (unlike an edit distance, which is quadratic)."""
    total = left.total() + right.total()
    if total == 0:
        return 1.0
    if len(left) > len(right):
        left, right = right, left
    shared = sum(min(count, right[shingle]) for shingle, count in left.items() if shingle in right)
    return 2 * shared / total


# One changed word in a typical idea of 60 characters leaves about 0.93; the same idea in other
# words about 0.7 or less (examples in tests/test_user_text.py).
THRESHOLD = 0.85


def near_identical(a: str, b: str, *, threshold: float = THRESHOLD) -> bool:
    """Same idea sent again: equal after case, punctuation and spacing, or nearly so."""
    if _normalised(a) == _normalised(b):
        return True
    return resemblance(shingles(a), shingles(b)) >= threshold


def is_duplicate(text: str, earlier: Iterable[str], *, threshold: float = THRESHOLD) -> bool:
    """Whether `text` nearly repeats any of the earlier texts: its shingles are built once, so
    the work is linear in the length of all texts together."""
    normalised = _normalised(text)
    mine = _shingles_of(normalised)
    for other in earlier:
        theirs = _normalised(other)
        if theirs == normalised or resemblance(mine, _shingles_of(theirs)) >= threshold:
            return True
    return False


# Whole answers at the idea step that mean "no idea from me" rather than an idea: taken as a
# skip, never sent to moderation. Compared after case, punctuation, emoji and spacing are
# normalised (`_skip_key`); German (standard and plain), English and Turkish, whatever the
# reader's language, since people answer in the language they think in. ("ja", "yes", "evet"
# are not among them: they may mean "yes, I will write one"; too short, they are asked again.)
# fmt: off
SKIP_PHRASES = frozenset(
    {
        # German and Leichte Sprache
        "ok", "okay", "ok danke", "okay danke", "danke", "nein", "nein danke",
        "nee", "nee danke", "nö", "nein nichts", "nichts", "nix", "gar nichts", "nichts weiter",
        "keine", "kein", "keins", "keine idee", "keine ideen", "keine eigene idee",
        "keine weitere idee", "ich habe keine idee", "hab keine idee", "keine ahnung",
        "weiß nicht", "weiß ich nicht", "ich weiß nicht", "ich weiß es nicht", "weiss nicht",
        "überspringen", "weiter", "später", "vielleicht später", "ich will nicht",
        "ich möchte nicht", "möchte ich nicht", "kein kommentar", "passt", "passt schon",
        "alles gut", "gut",
        # English
        "no", "nope", "no thanks", "no thank you", "thanks", "thank you", "none", "nothing",
        "no idea", "no ideas", "i have no idea", "dont know", "i dont know", "idk", "skip",
        "pass", "later", "maybe later", "not now", "no comment", "fine", "all good", "next",
        # Turkish
        "tamam", "hayır", "hayir", "hayır teşekkürler", "hayir tesekkurler",
        "teşekkürler", "tesekkurler", "sağ ol", "sağol", "sagol", "yok", "fikrim yok",
        "bir fikrim yok", "fikir yok", "bilmiyorum", "bilmem", "geç", "gec", "atla",
        "sonra", "daha sonra", "hiçbir şey", "hicbir sey", "yorum yok",
    }
)
# fmt: on


def _skip_key(text: str) -> str:
    """Case, apostrophes, punctuation, emoji and spacing do not count: "Nein, danke!" and
    "nein danke" are one answer; "don't" is "dont"."""
    visible = "".join(ch for ch in text[:MAX_CHECKED] if unicodedata.category(ch) != "Cf")
    visible = visible.replace("'", "").replace("\u2019", "")
    words = re.findall(r"[^\W_]+", visible.casefold())
    return " ".join(words)


_SKIP_KEYS = frozenset(_skip_key(phrase) for phrase in SKIP_PHRASES)


def is_skip(text: str) -> bool:
    """True when the whole message says "no idea" ("ok", "nein danke", "keine Idee", "weiß
    nicht", "no thanks", "yok", ...): the person skips the idea step. Only the whole answer
    counts: an idea that merely starts with such words is an idea."""
    if len(text) > 60:  # longer than any phrase, with room for punctuation and emoji
        return False
    key = _skip_key(text)
    return bool(key) and key in _SKIP_KEYS
