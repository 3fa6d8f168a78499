"""/digest: a moderator sees the next digest privately, exactly as the channel would, and can
post it now. The preview is stored as a draft, so the button posts what was shown, once."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)

from bot.digest.publisher import CHART_FILENAME
from bot.domain.clock import Clock
from bot.domain.digest_figures import DigestContent
from bot.domain.digests import DigestService, PostOutcome
from bot.domain.settings import Settings
from handlers.moderation import keyboards, texts
from handlers.moderation.callbacks import DigestPostCallback

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def preview(
    message: Message, digests: DigestService, settings: Settings, clock: Clock
) -> None:
    draft = await digests.preview(clock())
    assert draft.content is not None  # a draft is always composed
    await message.answer(texts.digest_intro(settings, digests.has_channel))
    keyboard = keyboards.digest_post(draft.id) if digests.has_channel else None
    await _send_parts(message, draft.content, digests, keyboard)


async def post(
    callback: CallbackQuery,
    callback_data: DigestPostCallback,
    digests: DigestService,
    moderator_id: int,
    clock: Clock,
) -> None:
    outcome = await digests.post_draft(callback_data.digest, moderator_id, clock())
    await callback.answer(
        texts.digest_outcome(outcome), show_alert=outcome is not PostOutcome.POSTED
    )
    if outcome is not PostOutcome.IN_PROGRESS and isinstance(callback.message, Message):
        # The button has done its job (or can never do it): do not invite a second tap.
        await callback.message.edit_reply_markup(reply_markup=None)


async def _send_parts(
    message: Message,
    content: DigestContent,
    digests: DigestService,
    keyboard: InlineKeyboardMarkup | None,
) -> None:
    """Exactly as the channel will get it: the charts as photos, the rest as messages."""
    last = len(content.parts) - 1
    for index, part in enumerate(content.parts):
        markup = keyboard if index == last else None
        png = await digests.part_png(content, index)
        if png is not None:
            photo = BufferedInputFile(png, filename=CHART_FILENAME)
            await message.answer_photo(photo, caption=part, reply_markup=markup)
        else:
            await message.answer(part, reply_markup=markup, link_preview_options=_NO_PREVIEW)


def router() -> Router:
    router = Router(name="moderation-digest")
    router.message.register(preview, Command("digest"), F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(post, DigestPostCallback.filter())
    return router
