"""Moderators' routers. `ModeratorGate` (bot.telegram.middlewares) guards all of them at once: it
knows moderator commands by `MODERATOR_COMMANDS` and moderator buttons by `MODERATOR_BUTTONS`
(handlers/moderation/callbacks.py). One router per concern; their buttons in `keyboards`, their
texts in `texts`, the review cards in `cards`, and `desk`, the port through which citizens'
handlers reach the moderators.

May import what `handlers` may, and from `handlers.citizen` what an author is told
(`texts/`) and the citizens' callback types; the other way round is forbidden (an
import-linter contract)."""

from aiogram import Router

from bot.domain.settings import Settings
from bot.telegram.middlewares import ModeratorGate
from handlers.moderation import answers, digest, followup, merge, review, steering, waves
from handlers.moderation.callbacks import MODERATOR_BUTTONS

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
    gate = ModeratorGate(settings, MODERATOR_COMMANDS, MODERATOR_BUTTONS)
    router.message.outer_middleware(gate)
    router.callback_query.outer_middleware(gate)
    # The answer mode first: a command leaves it before any other router handles the command.
    router.include_routers(answers.router(), review.router(), steering.router())
    router.include_routers(digest.router(), merge.router(), waves.router(), followup.router())
    return router
