"""Opinion groups, consensus and division from the citizen × impulse rating matrix, the way
Pol.is does it. A pure function of the matrix: no aiogram, no SQL, no clock.

agree = +1, disagree = −1, pass or unrated = 0; only citizens with at least `min_ratings`
ratings take part. The matrix is projected to two dimensions (PCA, on the sparse matrix, centred
implicitly), then k-means groups the citizens, with k in 2..5 chosen by the silhouette score.
An impulse is *consensus* when in every group enough people voted on it and the share who agree
is at least `consensus_share`; it *divides* when the agree shares of the groups differ by at
least `division_gap`.

The computation is `opinion_groups` in bot/domain/opinion_groups.py: it needs numpy, scipy and
scikit-learn, which load with the first computation, not at start (bot/domain/lazy.py). This module
holds what the rest of the bot shows and passes around.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.domain.lazy import importing

if TYPE_CHECKING:
    import numpy as np

MIN_RATINGS = 7
K_RANGE = range(2, 6)
CONSENSUS_SHARE = 0.6
DIVISION_GAP = 0.5
MIN_GROUP_VOTES = 3  # ratings a group needs on an impulse for it to count
SILHOUETTE_SAMPLE = 3000
SEED = 7
MIN_PARTICIPANTS = 2 * K_RANGE.start + 2  # citizens with enough ratings, or no groups


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
    def from_triples(cls, triples: Sequence[Sequence[int]]) -> RatingMatrix:
        """(participant id, impulse id, value) triples, in any order."""
        with importing():  # numpy: not at start (bot/domain/lazy.py)
            import numpy as np

        data = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        participants, rows = np.unique(data[:, 0], return_inverse=True)
        impulses, cols = np.unique(data[:, 1], return_inverse=True)
        return cls(participants, impulses, rows, cols, data[:, 2].astype(np.int8))


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
