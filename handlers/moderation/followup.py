"""/rueckmeldung (English: /outcome): the outcome message to everyone who asked for it at the
end of the dialog. The moderator writes the text, sees a preview with the number of recipients
and "Senden" / "Ändern" / "Abbrechen"; only "Senden" starts the paced sending
(bot/telegram/followup.py), and a second press of it (or the same press handled again) sends
nothing twice.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.followup import valid_text
from bot.domain.moderation import ModerationService
from bot.telegram.followup import FollowUpSender
from handlers.moderation import keyboards, texts
from handlers.moderation.callbacks import DraftAction, FollowUpDraftCallback
from storage.followup import SqlFollowUps

COMMANDS = ("rueckmeldung", "outcome")


async def preview(
    message: Message,
    command: CommandObject,
    followups: SqlFollowUps,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    text = (command.args or "").strip()
    if not valid_text(text):
        await message.answer(texts.followup_usage())
        return
    recipients = await followups.recipients()
    if recipients == 0:
        await message.answer(texts.followup_nobody())
        return
    now = clock()
    draft = await followups.create_draft(text, moderator_id, message.chat.id, now)
    await moderation.log(moderator_id, "followup_preview", None, f"followup:{draft}", now)
    await message.answer(
        texts.followup_preview(text, recipients), reply_markup=keyboards.followup_draft(draft)
    )


async def send(
    callback: CallbackQuery,
    callback_data: FollowUpDraftCallback,
    followups: SqlFollowUps,
    followup_sender: FollowUpSender,
    moderator_id: int,
    clock: Clock,
) -> None:
    count = await followups.start(callback_data.message, moderator_id, clock())
    if count is None:  # sent already (a second press), or dropped
        await callback.answer(texts.followup_not_a_draft(), show_alert=True)
        followup_sender.kick()
        return
    await callback.answer(texts.followup_sending(count))
    await _close_preview(callback, texts.followup_sending(count))
    followup_sender.kick()


async def edit(
    callback: CallbackQuery, callback_data: FollowUpDraftCallback, followups: SqlFollowUps
) -> None:
    if not await followups.drop(callback_data.message):
        await callback.answer(texts.followup_not_a_draft(), show_alert=True)
        return
    await callback.answer()
    await _close_preview(callback, texts.followup_write_again())


async def cancel(
    callback: CallbackQuery, callback_data: FollowUpDraftCallback, followups: SqlFollowUps
) -> None:
    if not await followups.drop(callback_data.message):
        await callback.answer(texts.followup_not_a_draft(), show_alert=True)
        return
    await callback.answer()
    await _close_preview(callback, texts.followup_cancelled())


async def _close_preview(callback: CallbackQuery, note: str) -> None:
    """The preview keeps its text, loses its buttons and says what became of it."""
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"{callback.message.html_text}\n\n<i>{escape(note)}</i>")


# -- texts -------------------------------------------------------------------


def router() -> Router:
    router = Router(name="moderation_followup")
    router.message.register(preview, Command(*COMMANDS))
    on = FollowUpDraftCallback.filter
    router.callback_query.register(send, on(F.action == DraftAction.SEND))
    router.callback_query.register(edit, on(F.action == DraftAction.EDIT))
    router.callback_query.register(cancel, on(F.action == DraftAction.CANCEL))
    return router
