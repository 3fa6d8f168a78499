"""Ratings figures (docs/ratings.md): similar-impulse lookup at 100,000 published impulses and
the opinion groups for 100,000 citizens × 10,000 impulses. Prints JSON.

    .venv/bin/python benchmarks/ratings_bench.py [--impulses 100000] [--citizens 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.domain.consensus import RatingMatrix
from bot.domain.opinion_groups import opinion_groups
from bot.domain.similarity import IndexedImpulse
from bot.domain.similarity_index import SimilarityIndex

WORDS = [
    "Bus",
    "Bahn",
    "Tarif",
    "Ticket",
    "Nachtbus",
    "Radweg",
    "Schule",
    "Lehrkräfte",
    "Kita",
    "Park",
    "Bäume",
    "Grünfläche",
    "Innenstadt",
    "Wohnung",
    "Miete",
    "Ärzte",
    "Pflege",
    "Internet",
    "Förderung",
    "Gründung",
    "Kultur",
    "Theater",
    "Museum",
    "Sport",
    "Verein",
    "Ehrenamt",
    "Hafen",
    "Kanal",
    "Strom",
    "Solar",
    "Wärme",
    "Sicherheit",
    "Polizei",
    "Jugend",
    "Senioren",
    "Arbeit",
    "Ausbildung",
    "Hochschule",
    "Forschung",
    "Tourismus",
    "Brücke",
    "Autobahn",
    "Parkplatz",
    "Spielplatz",
    "Schwimmbad",
    "Bibliothek",
    "Markt",
    "Zeche",
    "Halde",
    "Emscher",
    "Ruhr",
    "Revier",
    "Stadtteil",
    "Quartier",
    "Nachbarschaft",
]
GLUE = [
    "mehr",
    "für",
    "in",
    "den",
    "im",
    "und",
    "mit",
    "ohne",
    "bessere",
    "neue",
    "günstige",
    "sichere",
    "alle",
    "jede",
]


SYLLABLES = [
    "ba",
    "be",
    "bi",
    "bo",
    "bu",
    "da",
    "de",
    "di",
    "do",
    "ka",
    "ke",
    "ki",
    "ko",
    "la",
    "le",
    "li",
    "lo",
    "ma",
    "me",
    "mi",
    "mo",
    "na",
    "ne",
    "ni",
    "no",
    "ra",
    "re",
    "ri",
    "ro",
    "sa",
    "se",
    "si",
    "so",
    "ta",
    "te",
    "ti",
    "to",
    "wa",
    "we",
    "wi",
    "zu",
    "zi",
    "ch",
    "sch",
    "st",
    "ein",
    "ung",
    "heit",
    "ler",
]


def vocabulary(rng: np.random.Generator, size: int = 30_000) -> list[str]:
    """The topical words plus invented ones (German-like compounds of 2 to 5 syllables): real
    impulses use tens of thousands of distinct words, not sixty."""
    invented = ["".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 6)))) for _ in range(size)]
    return WORDS + invented


def sentences(n: int, rng: np.random.Generator) -> list[str]:
    vocab = vocabulary(np.random.default_rng(99))  # the same words for corpus and queries
    # Zipf-like: a few words are everywhere, most are rare.
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    out = []
    for _ in range(n):
        words = rng.choice(vocab, size=int(rng.integers(5, 12)), p=weights)
        glue = rng.choice(GLUE, size=len(words))
        out.append(" ".join(f"{g} {w}" for g, w in zip(glue, words, strict=True)) + ".")
    return out


def bench_similarity(impulses: int, queries: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    texts = sentences(impulses, rng)
    index = SimilarityIndex()
    started = time.perf_counter()
    index.add(IndexedImpulse(i + 1, "t", t) for i, t in enumerate(texts))
    build = time.perf_counter() - started
    started = time.perf_counter()
    index.add([IndexedImpulse(impulses + 1, "t", "Ein gemeinsamer Tarif für Bus und Bahn.")])
    add_one = time.perf_counter() - started
    timings = []
    for text in sentences(queries, rng):
        started = time.perf_counter()
        index.query(text)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "impulses": impulses,
        "build_s": round(build, 2),
        "add_one_ms": round(add_one * 1000, 2),
        "query_median_ms": round(statistics.median(timings), 2),
        "query_p95_ms": round(timings[int(0.95 * len(timings)) - 1], 2),
        "query_max_ms": round(timings[-1], 2),
    }


def bench_groups(citizens: int, impulses: int, per_citizen: int) -> dict[str, float]:
    rng = np.random.default_rng(2)
    rows = np.repeat(np.arange(citizens), per_citizen)
    cols = rng.integers(0, impulses, size=len(rows))
    camp = (np.arange(citizens) % 3 == 0)[rows]
    side = np.where(cols % 2 == 0, 1, -1)
    values = np.where(camp, side, -side)
    noise = rng.random(len(rows))
    values = np.where(noise < 0.15, 0, np.where(noise < 0.25, -values, values))
    consensus = cols % 97 == 0
    values = np.where(consensus, 1, values)
    # Duplicates (same citizen, same impulse) collapse: keep the first.
    keys = rows.astype(np.int64) * impulses + cols
    _, first = np.unique(keys, return_index=True)
    matrix = RatingMatrix(
        participants=np.arange(citizens, dtype=np.int64),
        impulses=np.arange(impulses, dtype=np.int64),
        rows=rows[first].astype(np.int64),
        cols=cols[first].astype(np.int64),
        values=values[first].astype(np.int8),
    )
    started = time.perf_counter()
    groups = opinion_groups(matrix)
    elapsed = time.perf_counter() - started
    assert groups is not None
    return {
        "citizens": citizens,
        "impulses": impulses,
        "ratings": len(first),
        "seconds": round(elapsed, 2),
        "groups": len(groups.sizes),
        "consensus_found": len(groups.consensus),
        "divisive_found": len(groups.divisive),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impulses", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--rated-impulses", type=int, default=10_000)
    parser.add_argument("--per-citizen", type=int, default=20)
    args = parser.parse_args()
    result = {
        "similarity": bench_similarity(args.impulses, args.queries),
        "groups": bench_groups(args.citizens, args.rated_impulses, args.per_citizen),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
