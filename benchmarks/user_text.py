"""How long the checks on user text take with the worst inputs we could construct.

Every check that reads what a citizen typed (the near-duplicate check, the contact-data
patterns, HTML escaping and shortening, the similar-idea lookup) must be linear in the text's
length and bounded: one crafted message must not stall the bot for everybody else. This script
times each one with adversarial inputs at 1,000 characters (the longest impulse) and at 4,096
(the longest Telegram message), and, for comparison, the quadratic methods they replaced.

    .venv/bin/python benchmarks/user_text.py [--impulses 100000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from difflib import SequenceMatcher
from html import escape
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ratings_bench import GLUE, vocabulary

from bot.digest.text import split_html, truncate_html
from bot.domain import similarity_index
from bot.domain.impulse import _EMAIL, _LINK, _PHONE, is_duplicate, near_identical
from bot.domain.similarity import IndexedImpulse
from bot.domain.similarity_index import SimilarityIndex

# The patterns before they were made linear, for comparison only.
OLD_LINK = re.compile(
    r"(?i)\b(?:https?://|www\.|t\.me/)\S+|\b[\w.-]+\.(?:de|com|org|net|info|nrw|ruhr)\b"
)
OLD_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")

PIECES = ["a", ".", "-", "@", "1", " ", "+", "/", "(", "_", "www.", "http://", "de", "x.de", "ä"]


def ms(call: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 3)


def adversarial(length: int) -> list[str]:
    """Two-piece repetitions of everything the patterns care about, plus a dangling tail."""
    texts = []
    for a, b in itertools.product(PIECES, repeat=2):
        unit = a + b
        body = unit * (length // len(unit))
        texts += [body[:length], body[: length - 1] + "@", body[: length - 2] + "x!"]
    return texts


def bench_duplicates() -> dict[str, float]:
    stored, crafted = ("ab " * 333)[:999], ("ba " * 333)[:999]
    old_short = ("ab " * 100)[:299], ("ba " * 100)[:299]
    many = [f"{i} " + ("ab " * 333)[:990] for i in range(100)]
    return {
        "old_sequencematcher_300_chars_ms": ms(
            lambda: SequenceMatcher(None, *old_short, autojunk=False).ratio(), repeat=1
        ),
        "shingles_999_chars_ms": ms(lambda: near_identical(stored, crafted)),
        "shingles_4096_chars_ms": ms(lambda: near_identical("ab " * 1366, "ba " * 1366)),
        "against_100_earlier_of_1000_chars_ms": ms(lambda: is_duplicate(crafted, many)),
    }


def bench_patterns() -> dict[str, float]:
    out: dict[str, float] = {}
    for length in (1000, 4096):
        texts = adversarial(length)
        for name, pattern in (("link", _LINK), ("email", _EMAIL), ("phone", _PHONE)):
            out[f"{name}_worst_{length}_ms"] = max(
                ms(lambda t=t, p=pattern: p.search(t)) for t in texts
            )
    texts = [t for t in adversarial(1000) if set(t[:4]) <= set("a.-@")]
    out["old_link_worst_1000_ms"] = max(ms(lambda t=t: OLD_LINK.search(t), repeat=1) for t in texts)
    out["old_email_worst_1000_ms"] = max(
        ms(lambda t=t: OLD_EMAIL.search(t), repeat=1) for t in texts
    )
    worst_html = escape("&<>\"' " * 700)
    out["escape_truncate_split_4096_ms"] = ms(
        lambda: split_html(truncate_html(worst_html, 1000), 300)
    )
    return out


def sentences(n: int, rng: np.random.Generator) -> list[str]:
    """Like benchmarks/ratings_bench.py (Zipf-distributed words), drawn in one go."""
    vocab = np.array(vocabulary(np.random.default_rng(99)))
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    words = rng.choice(vocab, size=12 * n, p=weights / weights.sum())
    glue = rng.choice(np.array(GLUE), size=12 * n)
    lengths = rng.integers(5, 12, size=n)
    return [
        " ".join(
            f"{g} {w}"
            for g, w in zip(glue[12 * i : 12 * i + k], words[12 * i : 12 * i + k], strict=True)
        )
        + "."
        for i, k in enumerate(lengths)
    ]


def bench_similarity(impulses: int) -> dict[str, float | int]:
    rng = np.random.default_rng(1)
    index = SimilarityIndex()
    index.add(IndexedImpulse(i + 1, "t", t) for i, t in enumerate(sentences(impulses, rng)))
    # The crafted lookup: as many distinct moderately common n-grams as fit into 1,000
    # characters, each just under the "too common to read" line.
    words = " ".join(sentences(3000, np.random.default_rng(7))).split()
    crafted = " ".join(dict.fromkeys(w for w in words if len(w) > 4))[:1000]
    typical = sentences(200, np.random.default_rng(3))

    def postings(text: str) -> int:
        q = similarity_index._term_frequencies([text])
        df = index._df[q.indices]
        rare = df[
            df <= max(similarity_index.STOP_DF_MIN, similarity_index.STOP_DF_SHARE * impulses)
        ]
        return int(rare.sum())

    timings = sorted(ms(lambda t=t: index.query(t), repeat=1) for t in typical)
    out: dict[str, float | int] = {
        "impulses": impulses,
        "typical_median_ms": round(statistics.median(timings), 3),
        "typical_max_ms": timings[-1],
        "typical_median_postings": int(statistics.median(postings(t) for t in typical)),
        "typical_max_postings": max(postings(t) for t in typical),
        "crafted_postings_unbounded": postings(crafted),
        "crafted_ms": ms(lambda: index.query(crafted)),
        "budget_postings": similarity_index.MAX_POSTINGS,
    }
    bound = similarity_index.MAX_POSTINGS
    similarity_index.MAX_POSTINGS = 10**12
    out["crafted_ms_without_budget"] = ms(lambda: index.query(crafted))
    similarity_index.MAX_POSTINGS = bound
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impulses", type=int, default=100_000)
    args = parser.parse_args()
    result = {
        "near_duplicate": bench_duplicates(),
        "patterns": bench_patterns(),
        "similar_lookup": bench_similarity(args.impulses),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
