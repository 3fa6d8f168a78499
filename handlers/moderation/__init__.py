"""Moderators' routers. `ModeratorGate` (bot.telegram.middlewares) guards all of them at once."""

from aiogram import Router

from bot.domain.settings import Settings
from bot.telegram.middlewares import ModeratorGate
from handlers.moderation import answers, digest, followup, merge, review, steering, waves

# Every moderator command; the gate logs others' attempts to use them.
MODERATOR_COMMANDS = frozenset(
    {
        "queue",
        "stats",
        "export",
        "phase",
        "announce",
        "block",
        "unblock",
        "audit",
        "digest",
        "ohne",
        "merge",
        "welle",
        "wave",
        "wellen",
        "waves",
        *followup.COMMANDS,
    }
)


def moderator_router(settings: Settings) -> Router:
    router = Router(name="moderation")
    gate = ModeratorGate(settings, MODERATOR_COMMANDS)
    router.message.outer_middleware(gate)
    router.callback_query.outer_middleware(gate)
    # The answer mode first: a command leaves it before any other router handles the command.
    router.include_routers(answers.router(), review.router(), steering.router())
    router.include_routers(digest.router(), merge.router(), waves.router(), followup.router())
    return router
