"""Opinion groups, consensus and division from the citizen × impulse rating matrix, the way
Pol.is does it. A pure function of the matrix: no aiogram, no SQL, no clock.

agree = +1, disagree = −1, pass or unrated = 0; only citizens with at least `min_ratings`
ratings take part. The matrix is projected to two dimensions (PCA, on the sparse matrix, centred
implicitly), then k-means groups the citizens, with k in 2..5 chosen by the silhouette score.
An impulse is *consensus* when in every group enough people voted on it and the share who agree
is at least `consensus_share`; it *divides* when the agree shares of the groups differ by at
least `division_gap`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

MIN_RATINGS = 7
K_RANGE = range(2, 6)
CONSENSUS_SHARE = 0.6
DIVISION_GAP = 0.5
MIN_GROUP_VOTES = 3  # ratings a group needs on an impulse for it to count
SILHOUETTE_SAMPLE = 3000
SEED = 7


@dataclass(frozen=True)
class ImpulseStanding:
    impulse_id: int
    agree_shares: tuple[float, ...]  # per group, in group order
    votes: tuple[int, ...]  # ratings per group (agree, disagree, pass)

    @property
    def gap(self) -> float:
        return max(self.agree_shares) - min(self.agree_shares)


@dataclass(frozen=True)
class OpinionGroups:
    participants: int  # citizens with enough ratings
    sizes: tuple[int, ...]  # per group, largest first
    centres: tuple[tuple[float, float], ...]  # group positions in the 2-D projection
    consensus: tuple[ImpulseStanding, ...]  # most agreed first
    divisive: tuple[ImpulseStanding, ...]  # largest gap first
    silhouette: float


@dataclass(frozen=True)
class RatingMatrix:
    """Sparse ratings: row = citizen, column = impulse; values +1 / −1 (0 for pass)."""

    participants: np.ndarray[Any, np.dtype[np.int64]]
    impulses: np.ndarray[Any, np.dtype[np.int64]]
    rows: np.ndarray[Any, np.dtype[np.int64]]
    cols: np.ndarray[Any, np.dtype[np.int64]]
    values: np.ndarray[Any, np.dtype[np.int8]]

    @classmethod
    def from_triples(cls, triples: Sequence[tuple[int, int, int]]) -> RatingMatrix:
        """(participant id, impulse id, value) triples, in any order."""
        data = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        participants, rows = np.unique(data[:, 0], return_inverse=True)
        impulses, cols = np.unique(data[:, 1], return_inverse=True)
        return cls(participants, impulses, rows, cols, data[:, 2].astype(np.int8))


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
    if len(keep) < 2 * K_RANGE.start + 2:
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


@dataclass(frozen=True)
class RatedImpulse:
    """An impulse as /stats and the digest show it: its topic, text and agree share per group."""

    impulse_id: int
    topic_id: str
    text: str
    agree_shares: tuple[float, ...]


@dataclass(frozen=True)
class ConsensusView:
    """The latest opinion groups with the impulses' texts, as computed at `computed_at`."""

    computed_at: datetime
    participants: int
    sizes: tuple[int, ...]
    consensus: tuple[RatedImpulse, ...]
    divisive: tuple[RatedImpulse, ...]

    @classmethod
    def of(
        cls,
        groups: OpinionGroups,
        texts: Mapping[int, tuple[str, str]],
        computed_at: datetime,
    ) -> ConsensusView:
        """Impulses without a text (taken down meanwhile) are left out."""

        def rated(standings: Sequence[ImpulseStanding]) -> tuple[RatedImpulse, ...]:
            return tuple(
                RatedImpulse(s.impulse_id, *texts[s.impulse_id], s.agree_shares)
                for s in standings
                if s.impulse_id in texts
            )

        return cls(
            computed_at,
            groups.participants,
            groups.sizes,
            rated(groups.consensus),
            rated(groups.divisive),
        )
