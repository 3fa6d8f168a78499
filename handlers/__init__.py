"""aiogram routers, one home per audience; handlers stay thin (rules live in bot.domain).

* `handlers.citizen`: the citizen dialog and everything else a citizen sees (routers per
  feature, `callbacks`, `keyboards`, `states`, `commands`, `texts/`). It never imports
  `handlers.moderation`: what citizens do reaches moderators through the `Moderators` port
  (bot.domain.data_rights), implemented in `handlers.moderation.desk`.
* `handlers.moderation`: the moderators' routers, guarded at once by `ModeratorGate`, which
  knows their buttons by `MODERATOR_BUTTONS` (the prefixes in handlers/moderation/callbacks.py).
* `handlers.groups`: groups the bot was added to.

May import `bot.domain`, `storage`, `bot.telegram`, `bot.digest` and `bot.ops`, never `bot.app`.
"""

from aiogram import Router

from bot.domain.settings import Settings
from handlers import groups
from handlers.citizen import citizen_router
from handlers.moderation import moderator_router


def all_routers(settings: Settings) -> Router:
    """The whole router tree. Moderators first: the citizen routers end in a catch-all."""
    router = Router(name="dialogbot")
    router.include_routers(moderator_router(settings), groups.router(), citizen_router())
    return router
