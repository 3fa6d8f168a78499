"""Moderators' routers. `ModeratorGate` (bot.middlewares) guards all of them at once."""

from aiogram import Router

from bot.config import Settings
from bot.middlewares import ModeratorGate


def moderator_router(settings: Settings) -> Router:
    router = Router(name="moderation")
    gate = ModeratorGate(settings)
    router.message.outer_middleware(gate)
    router.callback_query.outer_middleware(gate)
    return router
