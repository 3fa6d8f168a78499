"""The similarity index itself: hashed character n-gram TF-IDF, sparse matrices and cosine
similarity (bot/domain/similarity.py explains the method).

numpy, scipy and scikit-learn are imported here, at module level: `SimilarImpulses` imports this
module with the first published impulse, in a worker thread (bot/domain/lazy.py), not at start.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from bot.domain.similarity import MAX_HINTS, THRESHOLD, IndexedImpulse, SimilarImpulse

N_FEATURES = 2**20
STOP_DF_SHARE, STOP_DF_MIN = 0.1, 200
# The most index entries one lookup reads: at 100,000 impulses a typical idea reads up to about
# 700,000 (benchmarks/user_text.py), a crafted one of 1,000 characters over 3,000,000.
MAX_POSTINGS = 1_000_000
_NON_WORD = re.compile(r"[\W_]+")


def _prepare(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


_VECTORIZER = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(3, 5),
    n_features=N_FEATURES,
    alternate_sign=False,
    norm=None,
    preprocessor=_prepare,
    dtype=np.float32,
)


def _term_frequencies(texts: Sequence[str]) -> sp.csr_matrix:
    """Sublinear term frequencies (1 + log count), one row per text."""
    counts = sp.csr_matrix(_VECTORIZER.transform(texts), dtype=np.float32)
    counts.data = 1.0 + np.log(counts.data)
    return counts


class SimilarityIndex:
    """An in-memory index of the published impulses. Not thread-safe: one owner."""

    def __init__(self) -> None:
        self._tf_chunks: list[sp.csr_matrix] = []
        self._rows = 0
        self._df = np.zeros(N_FEATURES, dtype=np.int32)
        self._idf = np.ones(N_FEATURES, dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        # Transposed (feature × impulse): a query reads only the rows of its own n-grams.
        self._weighted_t = sp.csr_matrix((N_FEATURES, 0), dtype=np.float32)
        self._weighted_rows = 0  # rows of _tf covered by _weighted at the current IDF
        self._tail = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
        self._items: dict[int, IndexedImpulse] = {}
        self._inactive: set[int] = set()

    def __len__(self) -> int:
        return len(self._items) - len(self._inactive)

    def add(self, impulses: Iterable[IndexedImpulse]) -> None:
        new = list({i.impulse_id: i for i in impulses if i.impulse_id not in self._items}.values())
        if not new:
            return
        tf = _term_frequencies([i.text for i in new])
        for impulse in new:
            self._items[impulse.impulse_id] = impulse
        self._ids = np.concatenate([self._ids, [i.impulse_id for i in new]])
        self._tf_chunks.append(tf)
        self._rows += tf.shape[0]
        np.add.at(self._df, tf.indices, 1)
        if self._rows >= 1.1 * self._weighted_rows + 10:
            self._reweight()
        else:
            self._tail = sp.vstack([self._tail, self._weigh(tf)], format="csr")

    def deactivate(self, impulse_ids: Iterable[int]) -> None:
        """No longer published (taken down, merged, held): never suggested again."""
        self._inactive.update(i for i in impulse_ids if i in self._items)

    def reactivate(self, impulse_ids: Iterable[int]) -> None:
        self._inactive.difference_update(impulse_ids)

    def query(
        self, text: str, *, limit: int = MAX_HINTS, threshold: float = THRESHOLD
    ) -> list[SimilarImpulse]:
        if not self._items:
            return []
        q = self._weigh(_term_frequencies([text]))
        if q.nnz == 0:
            return []
        # Only the query's n-grams, and of those not the very common ones (in more than a tenth
        # of all impulses): they weigh little and would make the lookup read most of the index.
        # Then the rarest first, and only as many as fit into MAX_POSTINGS entries of the index:
        # a crafted text full of moderately common n-grams reads no more than any other.
        df = self._df[q.indices]
        rare = np.flatnonzero(df <= max(STOP_DF_MIN, STOP_DF_SHARE * self._rows))
        rare = rare[np.argsort(df[rare], kind="stable")]
        rare = rare[np.cumsum(df[rare]) <= MAX_POSTINGS]
        head = self._weighted_t[q.indices[rare]]
        head_scores = np.asarray(head.T @ q.data[rare], dtype=np.float32).ravel()
        scores = np.concatenate([head_scores, _dot(self._tail, q)])
        candidates = np.flatnonzero(scores >= threshold)
        if candidates.size == 0:
            return []
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        found = []
        for row in order:
            impulse_id = int(self._ids[row])
            if impulse_id in self._inactive:
                continue
            item = self._items[impulse_id]
            found.append(SimilarImpulse(impulse_id, item.topic_id, item.text, float(scores[row])))
            if len(found) == limit:
                break
        return found

    def score(self, a: str, b: str) -> float:
        """Cosine similarity of two texts under the current weights (for tuning and tests)."""
        left, right = self._weigh(_term_frequencies([a])), self._weigh(_term_frequencies([b]))
        return float(left.multiply(right).sum())

    def _reweight(self) -> None:
        tf = sp.vstack(self._tf_chunks, format="csr")
        self._tf_chunks = [tf]
        n = self._rows
        self._idf = (np.log((1.0 + n) / (1.0 + self._df)) + 1.0).astype(np.float32)
        self._weighted_t = self._weigh(tf).T.tocsr()
        self._weighted_rows = n
        self._tail = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)

    def _weigh(self, tf: sp.csr_matrix) -> sp.csr_matrix:
        weighted = tf.copy()
        weighted.data = weighted.data * self._idf[weighted.indices]
        result: sp.csr_matrix = normalize(weighted, norm="l2", copy=False)
        return result


def _dot(matrix: sp.csr_matrix, query: sp.csr_matrix) -> np.ndarray[Any, np.dtype[np.float32]]:
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    # Only the query's few hundred columns matter: a dense vector over them, times the matrix.
    dense = np.zeros(N_FEATURES, dtype=np.float32)
    dense[query.indices] = query.data
    result: np.ndarray[Any, np.dtype[np.float32]] = matrix @ dense
    return result
