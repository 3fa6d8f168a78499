"""The opinion groups, as a pure function on a synthetic matrix with two planted camps."""

from __future__ import annotations

import numpy as np

from bot.domain.consensus import RatingMatrix
from bot.domain.opinion_groups import opinion_groups


def planted(seed: int = 1) -> RatingMatrix:
    """60 citizens in two camps of 40 and 20 over 30 impulses. Camp A agrees with 1..10 and
    rejects 11..20, camp B the opposite; everyone agrees with #99 (the consensus); 21..29 are
    noise. Each citizen rated about 70 % of the impulses."""
    rng = np.random.default_rng(seed)
    triples = []
    for person in range(60):
        camp_a = person < 40
        for impulse in [*range(1, 30), 99]:
            if rng.random() > 0.7:
                continue
            if impulse == 99:
                value = 1 if rng.random() < 0.9 else 0
            elif impulse <= 20:
                side = 1 if impulse <= 10 else -1
                value = side if camp_a else -side
                if rng.random() < 0.1:
                    value = -value
            else:
                value = int(rng.choice([-1, 0, 1]))
            triples.append((1000 + person, impulse, value))
    return RatingMatrix.from_triples(triples)


def test_two_camps_and_the_consensus_impulse_are_found() -> None:
    groups = opinion_groups(planted())
    assert groups is not None
    assert groups.sizes == (40, 20)
    assert [s.impulse_id for s in groups.consensus] == [99]
    divisive = {s.impulse_id for s in groups.divisive}
    assert divisive and divisive <= set(range(1, 21))
    assert all(s.gap >= 0.5 for s in groups.divisive)


def test_too_few_raters_form_no_groups() -> None:
    triples = [(p, i, 1) for p in range(3) for i in range(10)]
    assert opinion_groups(RatingMatrix.from_triples(triples)) is None
