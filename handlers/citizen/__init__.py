"""aiogram routers, one per feature. Handlers stay thin: rules live in bot.domain."""

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
