"""/hilfe: what the bot does and which commands exist."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.domain.settings import Settings
from handlers.citizen import commands, flow
from handlers.citizen.texts import dialog


async def show_help(message: Message, settings: Settings) -> None:
    await message.answer(dialog.help_text(settings), link_preview_options=flow.NO_PREVIEW)


def router() -> Router:
    router = Router(name="help")
    router.message.register(show_help, Command(*commands.HELP.aliases))
    return router
