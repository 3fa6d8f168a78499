"""Builds the ratings feature from settings: rating cards, the similar-impulse index and the
opinion groups (docs/ratings.md). One place for the bot and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.app.config import Settings
from bot.domain.clock import Clock, system_clock
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.ratings import RatingService
from bot.domain.similarity import SimilarImpulses
from storage.db import Database
from storage.ratings import SqlConsensusSource, SqlRatingRepository, SqlSimilaritySource


@dataclass(frozen=True)
class RatingsFeature:
    ratings: RatingService
    similar: SimilarImpulses
    consensus: ConsensusCache

    @classmethod
    def build(
        cls, settings: Settings, database: Database, *, clock: Clock = system_clock
    ) -> RatingsFeature:
        return cls(
            ratings=RatingService(
                SqlRatingRepository(database),
                report_threshold=settings.ratings.report_threshold,
            ),
            similar=SimilarImpulses(SqlSimilaritySource(database)),
            consensus=ConsensusCache(
                SqlConsensusSource(database),
                clock,
                refresh_minutes=settings.ratings.consensus_refresh_minutes,
            ),
        )

    async def similar_ids(self, impulse_id: int, text: str) -> tuple[int, ...]:
        """For moderators' review cards: "Ähnlich: #12, #40"."""
        found = await self.similar.similar(text, exclude=(impulse_id,))
        return tuple(f.impulse_id for f in found)

    def workflow_data(self) -> dict[str, Any]:
        """What handlers receive as keyword arguments."""
        return {
            "ratings": self.ratings,
            "similar_impulses": self.similar,
            "consensus": self.consensus,
        }
