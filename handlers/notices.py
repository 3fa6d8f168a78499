"""What moderation tells a citizen about their own idea: decisions, reasons, official answers.

Citizen-facing, so translated into every language the dialog speaks (unlike the moderators' own
texts in handlers/moderation/texts.py).
"""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.domain.moderation import AnswerStatus, RejectReason


def reason_label(reason: RejectReason) -> str:
    return {
        RejectReason.OFF_TOPIC: _("passt nicht zum Thema"),
        RejectReason.OFFENSIVE: _("beleidigend"),
        RejectReason.PERSONAL_DATA: _("enthält persönliche Daten"),
        RejectReason.SPAM: _("Werbung oder Spam"),
        RejectReason.DUPLICATE: _("doppelt eingereicht"),
    }[reason]


def answer_label(status: AnswerStatus) -> str:
    return {
        AnswerStatus.RECEIVED: _("Eingegangen"),
        AnswerStatus.FORWARDED: _("An das Themenforum weitergeleitet"),
        AnswerStatus.IN_PROGRESS: _("In Bearbeitung"),
        AnswerStatus.IMPLEMENTED: _("Umgesetzt"),
        AnswerStatus.NOT_PURSUED: _("Wird nicht weiterverfolgt"),
    }[status]


def author_told_published(impulse_id: int) -> str:
    return _("Ihre Idee (#{id}) ist jetzt veröffentlicht. Danke für Ihren Beitrag!").format(
        id=impulse_id
    )


def author_told_rejected(impulse_id: int, reason: RejectReason | None) -> str:
    text = _("Ihre Idee (#{id}) wurde leider nicht veröffentlicht.").format(id=impulse_id)
    if reason is not None:
        text += " " + _("Grund: {reason}.").format(reason=reason_label(reason))
    return text + " " + _("Sie können mit /meinvotum eine neue Idee schicken.")


def author_told_taken_down(impulse_id: int) -> str:
    return _("Ihre Idee (#{id}) wurde von der Moderation zurückgezogen.").format(id=impulse_id)


def author_answer(impulse_id: int, text: str, status: AnswerStatus, answer: str) -> str:
    parts = [
        _("<b>Antwort auf Ihre Idee (#{id})</b>").format(id=impulse_id),
        f"<blockquote>{escape(text)}</blockquote>",
        _("Stand: {status}").format(status=answer_label(status)),
    ]
    if answer:
        parts.append(escape(answer))
    return "\n\n".join(parts)
