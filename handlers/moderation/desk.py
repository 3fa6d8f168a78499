"""The moderators' desk as citizens' handlers reach it: the `Moderators` port of
bot.domain.data_rights ("tell the moderators"), so that handlers.citizen never imports
handlers.moderation. Built once per application (bot.app.runtime) and handed to the handlers as
`moderators`."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot

from bot.domain.moderation import ModerationService
from bot.domain.participation import Erasure
from bot.domain.settings import Settings
from bot.telegram.moderator_language import ModeratorLanguages
from handlers.moderation.cards import erase_cards, post_review_cards


@dataclass(frozen=True)
class ModeratorDesk:
    bot: Bot
    settings: Settings
    moderation: ModerationService
    languages: ModeratorLanguages

    async def new_impulse(self, impulse_id: int, *, missing_only: bool = False) -> None:
        await post_review_cards(
            self.bot,
            self.settings,
            self.moderation,
            self.languages,
            impulse_id,
            missing_only=missing_only,
        )

    async def erased(self, erasure: Erasure) -> None:
        await erase_cards(self.bot, self.settings, self.moderation, self.languages, erasure)
