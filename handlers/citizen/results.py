"""/ergebnis (/results, /sonuclar): the current standings of all topics, at any time."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.domain.participation import ParticipationService
from bot.domain.settings import Settings
from handlers.citizen import commands
from handlers.citizen.texts import dialog


async def show_results(
    message: Message, settings: Settings, participation: ParticipationService
) -> None:
    standings = await participation.standings()
    is_open = await participation.is_open()
    await message.answer(dialog.results(settings.consultation, standings, is_open=is_open))


def router() -> Router:
    router = Router(name="results")
    router.message.register(show_results, Command(*commands.RESULTS.aliases))
    return router
