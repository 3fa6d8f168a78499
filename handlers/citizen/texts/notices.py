"""What moderation tells a citizen about their own idea: decisions, reasons, official answers.

Citizen-facing, so translated into every language the dialog speaks (unlike the moderators' own
texts in handlers/moderation/texts.py).
"""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.domain.moderation import AnswerStatus, RejectReason
from handlers.citizen.texts.dialog import quote


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


def author_told_published(text: str, channel_link: str | None) -> str:
    parts = [
        _("Ihre Idee {idea} ist jetzt veröffentlicht.").format(idea=quote(text)),
        _("Andere können sie mit /stoebern lesen und bewerten. Danke für Ihren Beitrag!"),
    ]
    if channel_link:
        parts.append(
            _("Neue Ideen stellen wir auch im Kanal vor: {link}").format(link=escape(channel_link))
        )
    return " ".join(parts)


def author_told_rejected(text: str, reason: RejectReason | None) -> str:
    notice = _("Ihre Idee {idea} wurde leider nicht veröffentlicht.").format(idea=quote(text))
    if reason is not None:
        notice += " " + _("Grund: {reason}.").format(reason=reason_label(reason))
    return notice + " " + _("Sie können mit /meinvotum eine neue Idee schicken.")


def author_told_taken_down(text: str, reason: RejectReason | None) -> str:
    notice = _("Ihre Idee {idea} wurde von der Moderation zurückgezogen.").format(idea=quote(text))
    if reason is not None:
        notice += " " + _("Grund: {reason}.").format(reason=reason_label(reason))
    return notice


def author_told_merged(text: str, kept: str) -> str:
    return " ".join(
        [
            _("Ihre Idee {idea} sagt fast dasselbe wie die Idee {kept}.").format(
                idea=quote(text), kept=quote(kept)
            ),
            _(
                "Die Moderation hat beide zusammengelegt. Wer Ihrer Idee zugestimmt hat, "
                "zählt jetzt bei der anderen Idee mit."
            ),
        ]
    )


def answer_heading(impulse_id: int | str) -> str:
    """The first line of an official answer (handlers/citizen/after_submit.py recognises
    replies)."""
    return _("<b>Antwort auf Ihre Idee (#{id})</b>").format(id=impulse_id)


def author_answer(impulse_id: int, text: str, status: AnswerStatus, answer: str) -> str:
    parts = [
        answer_heading(impulse_id),
        f"<blockquote>{escape(text)}</blockquote>",
        _("Stand: {status}").format(status=answer_label(status)),
    ]
    if answer:
        parts.append(escape(answer))
    return "\n\n".join(parts)
