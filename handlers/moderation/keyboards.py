"""Every inline keyboard of the moderators: review cards, reasons, confirmations, previews of
answers, outcome messages, announcements, waves and digests (their callback data:
handlers/moderation/callbacks.py)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain.impulse import ImpulseStatus
from bot.domain.moderation import AnswerStatus, ImpulseCard, RejectReason
from bot.domain.waves import WaveRecord, WaveState
from handlers.citizen.texts import notices
from handlers.moderation import texts
from handlers.moderation.callbacks import (
    AnnounceCallback,
    AnswerCallback,
    AnswerDraftCallback,
    CardAction,
    CardCallback,
    DigestPostCallback,
    DraftAction,
    FollowUpDraftCallback,
    MergeCallback,
    RejectCallback,
    TakeDownCallback,
    WaveAction,
    WaveCallback,
)


def card_keyboard(impulse: ImpulseCard) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()

    def add(text: str, action: CardAction) -> None:
        builder.button(text=text, callback_data=CardCallback(impulse=impulse.id, action=action))

    if impulse.status == ImpulseStatus.PENDING:
        add(_("✅ Freigeben"), CardAction.APPROVE)
        add(_("❌ Ablehnen"), CardAction.REJECT)
    elif impulse.status == ImpulseStatus.APPROVED:
        add(_("⬇️ Zurückziehen"), CardAction.TAKE_DOWN)
    if impulse.status != ImpulseStatus.PENDING and impulse.has_author:
        add(_("💬 Antworten"), CardAction.ANSWER)
    for kept in impulse.similar:
        builder.button(
            text=_("🔗 Duplikat von #{id}").format(id=kept),
            callback_data=MergeCallback(impulse=impulse.id, into=kept),
        )
    if impulse.has_author:
        if impulse.author_blocked:
            add(_("Entsperren"), CardAction.UNBLOCK)
        else:
            add(_("🚫 Autor sperren"), CardAction.BLOCK)
    builder.adjust(2)
    return builder.as_markup()


def reasons_keyboard(impulse_id: int, *, take_down: bool = False) -> InlineKeyboardMarkup:
    """The reasons to reject (or to withdraw, `take_down`): the author is told the one picked."""
    builder = InlineKeyboardBuilder()
    for reason in RejectReason:
        builder.button(
            text=notices.reason_label(reason),
            callback_data=(
                TakeDownCallback(impulse=impulse_id, reason=reason)
                if take_down
                else RejectCallback(impulse=impulse_id, reason=reason)
            ),
        )
    builder.button(
        text=_("↩️ Zurück"), callback_data=CardCallback(impulse=impulse_id, action=CardAction.BACK)
    )
    builder.adjust(1)
    return builder.as_markup()


def sure_keyboard(yes: str, confirm: CallbackData, cancel: CallbackData) -> InlineKeyboardMarkup:
    """An action that cannot be undone, asked first: "Ja, …" or "Abbrechen"."""
    builder = InlineKeyboardBuilder()
    builder.button(text=yes, callback_data=confirm)
    builder.button(text=_("Abbrechen"), callback_data=cancel)
    builder.adjust(2)
    return builder.as_markup()


def card_back(impulse_id: int) -> CardCallback:
    return CardCallback(impulse=impulse_id, action=CardAction.BACK)


def answer_keyboard(impulse_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for status in AnswerStatus:
        builder.button(
            text=notices.answer_label(status),
            callback_data=AnswerCallback(impulse=impulse_id, status=status),
        )
    builder.adjust(1)
    return builder.as_markup()


def answer_draft_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📨 Senden"), callback_data=AnswerDraftCallback(action=DraftAction.SEND))
    builder.button(text=_("✏️ Ändern"), callback_data=AnswerDraftCallback(action=DraftAction.EDIT))
    builder.button(
        text=_("Abbrechen"), callback_data=AnswerDraftCallback(action=DraftAction.CANCEL)
    )
    builder.adjust(3)
    return builder.as_markup()


def followup_draft(draft: int) -> InlineKeyboardMarkup:
    """The preview of the outcome message (/rueckmeldung): send, write again, or drop it."""
    builder = InlineKeyboardBuilder()
    for label, action in (
        (_("📨 Senden"), DraftAction.SEND),
        (_("✏️ Ändern"), DraftAction.EDIT),
        (_("Abbrechen"), DraftAction.CANCEL),
    ):
        builder.button(
            text=label, callback_data=FollowUpDraftCallback(message=draft, action=action)
        )
    builder.adjust(1, 2)
    return builder.as_markup()


def announce_preview(entry: int) -> InlineKeyboardMarkup:
    """The preview of an announcement (/announce): publish it in the channel, or drop it."""
    keyboard = InlineKeyboardBuilder()
    keyboard.button(
        text=_("📣 Im Kanal veröffentlichen"),
        callback_data=AnnounceCallback(entry=entry, publish=True),
    )
    keyboard.button(text=_("Abbrechen"), callback_data=AnnounceCallback(entry=entry, publish=False))
    return keyboard.as_markup()


def wave_proposal(wave_id: int) -> InlineKeyboardMarkup:
    """A proposed wave (/welle): set it aside, or drop the proposal."""
    keyboard = InlineKeyboardBuilder()
    keyboard.button(
        text=_("Beiseitelegen"),
        callback_data=WaveCallback(wave=wave_id, action=WaveAction.SET_ASIDE),
    )
    keyboard.button(
        text=_("Abbrechen"), callback_data=WaveCallback(wave=wave_id, action=WaveAction.CANCEL)
    )
    return keyboard.as_markup()


def waves_to_restore(listed: Sequence[WaveRecord]) -> InlineKeyboardMarkup:
    """/wellen: a button to restore each wave that is set aside."""
    keyboard = InlineKeyboardBuilder()
    for wave in listed:
        if wave.state is WaveState.SET_ASIDE:
            keyboard.button(
                text=texts.restore_button(wave.id),
                callback_data=WaveCallback(wave=wave.id, action=WaveAction.RESTORE),
            )
    keyboard.adjust(1)
    return keyboard.as_markup()


def digest_post(digest_id: int) -> InlineKeyboardMarkup:
    """The preview of the next digest (/digest): post it to the channel now."""
    data = DigestPostCallback(digest=digest_id).pack()
    button = InlineKeyboardButton(text=_("📣 Jetzt im Kanal veröffentlichen"), callback_data=data)
    return InlineKeyboardMarkup(inline_keyboard=[[button]])
