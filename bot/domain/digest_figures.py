"""What a digest says, as plain data: the figures (stored for the next digest's trends), the
facts handed to the composer, and the composed content (stored so a retry sends the same).

JSON round trips live here so storage keeps strings and the domain keeps types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.consensus import ConsensusView
from bot.domain.standings import Standings


@dataclass(frozen=True)
class TopicFigure:
    topic_id: str
    votes: int
    share: float
    rank: int


@dataclass(frozen=True)
class DigestFigures:
    """The standings at `as_of` (as `dialogbot export` shows them) plus the window's news."""

    as_of: datetime
    participants: int
    new_participants: int
    approved_impulses: int
    topics: tuple[TopicFigure, ...]
    # Participants per channel ("telegram", "web"), sorted; empty in figures stored before.
    channels: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_standings(
        cls,
        standings: Standings,
        *,
        as_of: datetime,
        new_participants: int,
        approved: int,
        channels: Mapping[str, int] | None = None,
    ) -> DigestFigures:
        topics = tuple(TopicFigure(t.topic_id, t.votes, t.share, t.rank) for t in standings.topics)
        split = tuple(sorted((channels or {}).items()))
        return cls(as_of, standings.participants, new_participants, approved, topics, split)

    def in_channel(self, channel: str) -> int:
        return dict(self.channels).get(channel, 0)

    def share_of(self, topic_id: str) -> float | None:
        return next((t.share for t in self.topics if t.topic_id == topic_id), None)

    def unchanged_since(self, previous: DigestFigures | None) -> bool:
        """Nobody new, nothing approved, and (if there was a digest) the same votes."""
        if self.new_participants or self.approved_impulses:
            return False
        if previous is None:
            return self.participants == 0
        votes = {(t.topic_id, t.votes) for t in self.topics}
        return self.participants == previous.participants and votes == {
            (t.topic_id, t.votes) for t in previous.topics
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "as_of": self.as_of.isoformat(),
                "participants": self.participants,
                "new_participants": self.new_participants,
                "approved_impulses": self.approved_impulses,
                "topics": [
                    {"id": t.topic_id, "votes": t.votes, "share": t.share, "rank": t.rank}
                    for t in self.topics
                ],
                "channels": dict(self.channels),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> DigestFigures:
        data = json.loads(raw)
        return cls(
            as_of=datetime.fromisoformat(data["as_of"]),
            participants=int(data["participants"]),
            new_participants=int(data["new_participants"]),
            approved_impulses=int(data["approved_impulses"]),
            topics=tuple(
                TopicFigure(t["id"], int(t["votes"]), float(t["share"]), int(t["rank"]))
                for t in data["topics"]
            ),
            channels=tuple(sorted((str(c), int(n)) for c, n in data.get("channels", {}).items())),
        )


@dataclass(frozen=True)
class QuotedImpulse:
    """An approved impulse as the digest quotes it: its topic and text, nothing about the
    author."""

    topic_id: str
    text: str


@dataclass(frozen=True)
class DigestFacts:
    """Everything the composer needs; it reads nothing else."""

    start: datetime
    end: datetime
    figures: DigestFigures
    previous: DigestFigures | None
    impulses: tuple[QuotedImpulse, ...]
    link: str
    short: bool = False  # the "no change" post
    consensus: ConsensusView | None = None  # the latest opinion groups, when there are any


@dataclass(frozen=True)
class ChartSpec:
    title: str
    subtitle: str
    axis_label: str
    rows: tuple[tuple[str, float, float | None], ...]  # label, share, previous share


@dataclass(frozen=True)
class OpinionRow:
    label: str  # "#12 Mobilität: Ein gemeinsamer Tarif …"
    agree_shares: tuple[float, ...]  # per group, 0..1


@dataclass(frozen=True)
class OpinionChartSpec:
    """The second chart (bot.digest.opinion_chart): agreement per impulse and opinion group."""

    title: str
    section_labels: tuple[str, str]  # consensus, division
    group_labels: tuple[str, ...]  # "Gruppe 1 (40)" …
    axis_label: str
    consensus: tuple[OpinionRow, ...]
    divisive: tuple[OpinionRow, ...]

    def to_data(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "section_labels": list(self.section_labels),
            "group_labels": list(self.group_labels),
            "axis_label": self.axis_label,
            "consensus": [[r.label, list(r.agree_shares)] for r in self.consensus],
            "divisive": [[r.label, list(r.agree_shares)] for r in self.divisive],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> OpinionChartSpec:
        def rows(raw: list[Any]) -> tuple[OpinionRow, ...]:
            return tuple(OpinionRow(str(r[0]), tuple(float(s) for s in r[1])) for r in raw)

        consensus_label, divisive_label = data["section_labels"]
        return cls(
            title=data["title"],
            section_labels=(str(consensus_label), str(divisive_label)),
            group_labels=tuple(str(g) for g in data["group_labels"]),
            axis_label=data["axis_label"],
            consensus=rows(data["consensus"]),
            divisive=rows(data["divisive"]),
        )


@dataclass(frozen=True)
class DigestContent:
    """Telegram HTML parts in posting order; with a chart, the first part is its caption; with
    an opinion chart (when there are opinion groups), the last part is that chart's caption."""

    chart: ChartSpec | None
    parts: tuple[str, ...]
    opinions: OpinionChartSpec | None = None

    @property
    def opinion_part(self) -> int | None:
        """The index of the part posted as the opinion chart's caption, if any."""
        return len(self.parts) - 1 if self.opinions is not None else None

    def to_json(self) -> str:
        chart: dict[str, Any] | None = None
        if self.chart is not None:
            chart = {
                "title": self.chart.title,
                "subtitle": self.chart.subtitle,
                "axis_label": self.chart.axis_label,
                "rows": [list(row) for row in self.chart.rows],
            }
        opinions = self.opinions.to_data() if self.opinions is not None else None
        return json.dumps(
            {"chart": chart, "parts": list(self.parts), "opinions": opinions}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, raw: str) -> DigestContent:
        data = json.loads(raw)
        chart = data["chart"]
        spec = None
        if chart is not None:
            spec = ChartSpec(
                title=chart["title"],
                subtitle=chart["subtitle"],
                axis_label=chart["axis_label"],
                rows=tuple((str(r[0]), float(r[1]), _optional_float(r[2])) for r in chart["rows"]),
            )
        opinions = data.get("opinions")  # absent in rows stored before the opinion chart
        return cls(
            chart=spec,
            parts=tuple(data["parts"]),
            opinions=OpinionChartSpec.from_data(opinions) if opinions is not None else None,
        )

    def as_text(self) -> str:
        """All parts for a file or a terminal, separated by a rule."""
        return "\n\n――――――――――\n\n".join(self.parts)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
