"""The domain services, wired to storage once per application."""

from __future__ import annotations

from dataclasses import dataclass

from bot.app.config import Settings
from bot.domain.moderation import ModerationService
from bot.domain.participation import ParticipationService, Rules
from storage.db import Database
from storage.moderation import SqlModerationRepository
from storage.repository import SqlParticipationRepository
from storage.settings import BlockList, PhaseCache, SettingsStore


def rules_from(settings: Settings) -> Rules:
    consultation = settings.consultation
    return Rules(
        topic_ids=consultation.topic_ids,
        max_topics=consultation.max_topics,
        impulse_min_length=consultation.impulse_min_length,
        impulse_max_length=consultation.impulse_max_length,
        publish_immediately=settings.moderation_mode == "post",
        link_policy=settings.abuse.links,
        notice_version=settings.privacy.notice_version,
    )


@dataclass(frozen=True)
class Services:
    participation: ParticipationService
    moderation: ModerationService
    phase: PhaseCache
    blocklist: BlockList

    @classmethod
    def build(cls, settings: Settings, database: Database) -> Services:
        phase = PhaseCache(SettingsStore(database), settings.consultation.phase == "open")
        blocklist = BlockList(database)
        return cls(
            participation=ParticipationService(
                SqlParticipationRepository(database), rules_from(settings), phase
            ),
            moderation=ModerationService(
                SqlModerationRepository(database, settings.digest_timezone, phase, blocklist)
            ),
            phase=phase,
            blocklist=blocklist,
        )
