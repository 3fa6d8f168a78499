"""The computation of the opinion groups (bot/domain/consensus.py describes the method): PCA
and k-means from scikit-learn on the sparse rating matrix.

numpy, scipy and scikit-learn are imported here, at module level: `ConsensusCache` imports this
module before its first computation, in a worker thread (bot/domain/lazy.py), not at start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from bot.domain.consensus import (
    CONSENSUS_SHARE,
    DIVISION_GAP,
    K_RANGE,
    MIN_GROUP_VOTES,
    MIN_PARTICIPANTS,
    MIN_RATINGS,
    SEED,
    SILHOUETTE_SAMPLE,
    ImpulseStanding,
    OpinionGroups,
    RatingMatrix,
)


def opinion_groups(
    matrix: RatingMatrix,
    *,
    min_ratings: int = MIN_RATINGS,
    consensus_share: float = CONSENSUS_SHARE,
    division_gap: float = DIVISION_GAP,
    min_group_votes: int = MIN_GROUP_VOTES,
    limit: int = 5,
) -> OpinionGroups | None:
    """None when fewer than a handful of citizens rated enough to form groups."""
    shape = (len(matrix.participants), len(matrix.impulses))
    values = sp.csr_matrix(
        (matrix.values.astype(np.float32), (matrix.rows, matrix.cols)), shape=shape
    )
    seen_all = sp.csr_matrix(
        (np.ones(len(matrix.rows), dtype=np.float32), (matrix.rows, matrix.cols)), shape=shape
    )
    rated = np.bincount(matrix.rows, minlength=shape[0])  # passes count as ratings
    keep = np.flatnonzero(rated >= min_ratings)
    if len(keep) < MIN_PARTICIPANTS:
        return None
    votes, seen = values[keep], seen_all[keep]
    points = PCA(n_components=2, svd_solver="arpack", random_state=SEED).fit_transform(votes)
    labels, centres, silhouette = _best_clustering(points)
    k = len(centres)
    # Largest group first.
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    labels = relabel[labels]
    centres = centres[order]
    membership = sp.csr_matrix(
        (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
        shape=(k, len(labels)),
    )
    agree = np.asarray((membership @ (votes > 0).astype(np.float32)).todense())
    cast = np.asarray((membership @ seen).todense())
    # Of those who rated (a pass included), the share who agree; Pol.is-style smoothing
    # (agree + 1) / (rated + 2), so a single vote is no certainty.
    share = (agree + 1.0) / (cast + 2.0)
    enough = (cast >= min_group_votes).all(axis=0)
    standings = [
        ImpulseStanding(
            int(matrix.impulses[j]),
            tuple(round(float(s), 3) for s in share[:, j]),
            tuple(int(v) for v in cast[:, j]),
        )
        for j in np.flatnonzero(enough)
    ]
    consensus = sorted(
        (s for s in standings if min(s.agree_shares) >= consensus_share),
        key=lambda s: (-min(s.agree_shares), s.impulse_id),
    )
    divisive = sorted(
        (s for s in standings if s.gap >= division_gap), key=lambda s: (-s.gap, s.impulse_id)
    )
    return OpinionGroups(
        participants=len(keep),
        sizes=tuple(int(n) for n in np.bincount(labels, minlength=k)),
        centres=tuple((float(x), float(y)) for x, y in centres),
        consensus=tuple(consensus[:limit]),
        divisive=tuple(divisive[:limit]),
        silhouette=silhouette,
    )


def _best_clustering(
    points: np.ndarray[Any, np.dtype[np.float64]],
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float64]], float]:
    best: tuple[Any, Any, float] | None = None
    sample = min(SILHOUETTE_SAMPLE, len(points))
    for k in K_RANGE:
        if k >= len(points):
            break
        model = KMeans(n_clusters=k, n_init=3, random_state=SEED).fit(points)
        if len(set(model.labels_.tolist())) < 2:
            continue
        score = float(
            silhouette_score(points, model.labels_, sample_size=sample, random_state=SEED)
        )
        if best is None or score > best[2]:
            best = (model.labels_, model.cluster_centers_, score)
    if best is None:
        return np.zeros(len(points), dtype=np.int64), points.mean(axis=0, keepdims=True), 0.0
    return np.asarray(best[0], dtype=np.int64), np.asarray(best[1]), best[2]
