"""What a citizen meets: one router per feature, in private chats only, and one module per kind
of UI code (`callbacks`, `keyboards`, `states`, `commands`, `texts/`). Handlers stay thin: rules
live in bot.domain. Never imports `handlers.moderation`: moderators are reached through the
`Moderators` port (bot.domain.data_rights), handed to the handlers as `moderators`."""

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers.citizen import (
    after_submit,
    closed,
    fallback,
    followup,
    help,
    impulse,
    language,
    my_data,
    my_vote,
    ratings,
    results,
    review,
    similar_hint,
    start,
    topics,
)


def citizen_router() -> Router:
    """The citizen dialog, in private chats only; order matters: commands before free text."""
    router = Router(name="citizen")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    router.include_routers(
        closed.router(),  # only while the consultation is closed
        start.router(),
        help.router(),
        language.router(),
        my_vote.router(),
        results.router(),
        my_data.router(),
        followup.router(),
        ratings.router(),
        topics.router(),
        impulse.router(),
        similar_hint.router(),
        review.router(),
        after_submit.router(),  # free text outside the dialog, before the last resort
        fallback.router(),
    )
    return router
