"""Filters shared by several routers: conditions as filters, not as if-chains in handlers."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.domain.participation import ParticipationService


class PhaseClosed(Filter):
    """The consultation is closed: nothing can be chosen, sent or rated any more."""

    async def __call__(self, event: TelegramObject, participation: ParticipationService) -> bool:
        return not await participation.is_open()
