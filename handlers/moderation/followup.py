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
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.clock import Clock
from bot.domain.followup import Summary, valid_text
from bot.domain.moderation import ModerationService
from bot.telegram.followup import FollowUpSender
from handlers.citizen.texts import followup as followup_texts
from handlers.moderation import keyboards
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
        await message.answer(usage())
        return
    recipients = await followups.recipients()
    if recipients == 0:
        await message.answer(nobody())
        return
    now = clock()
    draft = await followups.create_draft(text, moderator_id, message.chat.id, now)
    await moderation.log(moderator_id, "followup_preview", None, f"followup:{draft}", now)
    await message.answer(
        preview_text(text, recipients), reply_markup=keyboards.followup_draft(draft)
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
        await callback.answer(not_a_draft(), show_alert=True)
        followup_sender.kick()
        return
    await callback.answer(sending(count))
    await _close_preview(callback, sending(count))
    followup_sender.kick()


async def edit(
    callback: CallbackQuery, callback_data: FollowUpDraftCallback, followups: SqlFollowUps
) -> None:
    if not await followups.drop(callback_data.message):
        await callback.answer(not_a_draft(), show_alert=True)
        return
    await callback.answer()
    await _close_preview(callback, write_again())


async def cancel(
    callback: CallbackQuery, callback_data: FollowUpDraftCallback, followups: SqlFollowUps
) -> None:
    if not await followups.drop(callback_data.message):
        await callback.answer(not_a_draft(), show_alert=True)
        return
    await callback.answer()
    await _close_preview(callback, cancelled())


async def _close_preview(callback: CallbackQuery, note: str) -> None:
    """The preview keeps its text, loses its buttons and says what became of it."""
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"{callback.message.html_text}\n\n<i>{escape(note)}</i>")


# -- texts -------------------------------------------------------------------


def usage() -> str:
    return _(
        "So geht es: /rueckmeldung und dahinter Ihr Text, was aus der Beteiligung geworden ist. "
        "Er geht an alle, die am Ende darum gebeten haben. Sie sehen vorher eine Vorschau."
    )


def nobody() -> str:
    return _("Noch hat niemand um eine Ergebnis-Nachricht gebeten. Es wurde nichts gesendet.")


def preview_text(text: str, recipients: int) -> str:
    head = ngettext(
        "<b>Vorschau</b> · Diese Nachricht geht an {count} Person, die darum gebeten hat:",
        "<b>Vorschau</b> · Diese Nachricht geht an {count} Personen, die darum gebeten haben:",
        recipients,
    ).format(count=recipients)
    return f"{head}\n\n{followup_texts.outcome_message(text)}"


def sending(count: int) -> str:
    return ngettext(
        "Wird gesendet an {count} Person. Sie bekommen eine Nachricht, wenn alles raus ist.",
        "Wird gesendet an {count} Personen. Sie bekommen eine Nachricht, wenn alles raus ist.",
        count,
    ).format(count=count)


def not_a_draft() -> str:
    return _("Diese Vorschau ist schon erledigt: gesendet, geändert oder abgebrochen.")


def write_again() -> str:
    return _("Nicht gesendet. Schicken Sie den neuen Text mit /rueckmeldung.")


def cancelled() -> str:
    return _("Abgebrochen. Es wurde nichts gesendet.")


def report(summary: Summary) -> str:
    lines = [
        ngettext(
            "Die Ergebnis-Nachricht ist verschickt: {count} Person hat sie bekommen.",
            "Die Ergebnis-Nachricht ist verschickt: {count} Personen haben sie bekommen.",
            summary.sent,
        ).format(count=summary.sent)
    ]
    if summary.gone:
        lines.append(
            ngettext(
                "{count} Person hat den Bot blockiert.",
                "{count} Personen haben den Bot blockiert.",
                summary.gone,
            ).format(count=summary.gone)
        )
    if summary.failed or summary.in_doubt:
        lines.append(
            _("Bei {count} ist unklar, ob sie angekommen ist; sie wird nicht wiederholt.").format(
                count=summary.failed + summary.in_doubt
            )
        )
    return "\n".join(lines)


def router() -> Router:
    router = Router(name="moderation_followup")
    router.message.register(preview, Command(*COMMANDS))
    on = FollowUpDraftCallback.filter
    router.callback_query.register(send, on(F.action == DraftAction.SEND))
    router.callback_query.register(edit, on(F.action == DraftAction.EDIT))
    router.callback_query.register(cancel, on(F.action == DraftAction.CANCEL))
    return router
