"""Result maths: the share of participants who chose a topic.

Like the original consultation, each participant may choose several topics, so the shares add up to
more than 100 %. The counting itself happens in SQL (GROUP BY); this only ranks and divides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TopicStanding:
    topic_id: str
    votes: int
    share: float  # 0..1 of participants
    rank: int


@dataclass(frozen=True)
class Standings:
    participants: int
    topics: tuple[TopicStanding, ...]

    def for_topic(self, topic_id: str) -> TopicStanding | None:
        return next((t for t in self.topics if t.topic_id == topic_id), None)


def rank_standings(
    topic_ids: Sequence[str], votes: Mapping[str, int], participants: int
) -> Standings:
    """Every configured topic, ranked by votes (ties share a rank, config order breaks them)."""
    order = {topic_id: index for index, topic_id in enumerate(topic_ids)}
    ranked = sorted(topic_ids, key=lambda t: (-votes.get(t, 0), order[t]))
    result: list[TopicStanding] = []
    previous_votes: int | None = None
    rank = 0
    for position, topic_id in enumerate(ranked, start=1):
        count = votes.get(topic_id, 0)
        if count != previous_votes:
            rank, previous_votes = position, count
        share = count / participants if participants else 0.0
        result.append(TopicStanding(topic_id, count, share, rank))
    return Standings(participants, tuple(result))


def percent(share: float) -> int:
    """Whole percent for display, rounded half up (38.5 % reads as 39 %)."""
    return int(share * 100 + 0.5)
