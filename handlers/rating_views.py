"""Texts, buttons and callback data of the rating cards and the similar-impulse hint.

Callback prefixes are short and never start with "m" (those are the moderators').
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.app.config import Consultation
from bot.domain.ratings import Opinion, RatingCard, ReportReason
from bot.domain.similarity import SimilarImpulse
from handlers.callbacks import RowId
from handlers.views import topic_title

PREVIEW_CHARS = 300


class OpinionCode(StrEnum):
    AGREE = "a"
    DISAGREE = "d"
    NEUTRAL = "p"


OPINIONS = {
    OpinionCode.AGREE: Opinion.AGREE,
    OpinionCode.DISAGREE: Opinion.DISAGREE,
    OpinionCode.NEUTRAL: Opinion.PASS,
}


class RateCallback(CallbackData, prefix="r"):
    impulse: RowId
    opinion: OpinionCode


class ReportAskCallback(CallbackData, prefix="rq"):
    impulse: RowId
    back: bool = False


class ReportCallback(CallbackData, prefix="rr"):
    impulse: RowId
    reason: ReportReason


class BrowseCallback(CallbackData, prefix="rb"):
    pass


class HintCallback(CallbackData, prefix="h"):
    impulse: RowId  # 0: send my own idea anyway


# -- texts -------------------------------------------------------------------


def card(consultation: Consultation, impulse: RatingCard) -> str:
    return "\n\n".join(
        [
            _("<b>Idee #{id}</b> · Thema: {topic}").format(
                id=impulse.impulse_id, topic=escape(topic_title(consultation, impulse.topic_id))
            ),
            f"<blockquote>{escape(impulse.text)}</blockquote>",
            card_question(),
        ]
    )


def card_question() -> str:
    return _("Was meinen Sie zu dieser Idee?")


def with_question(card_html: str, question: str) -> str:
    """The card as shown, its last paragraph (the question) replaced: the buttons below
    answer the question above them."""
    body = card_html.rsplit("\n\n", 1)[0]
    return f"{body}\n\n{question}"


def none_published() -> str:
    return _(
        "Noch ist keine Idee veröffentlicht. Schauen Sie später wieder vorbei: "
        "Mit /stoebern sehen Sie neue Ideen."
    )


def all_seen() -> str:
    return _(
        "Sie haben alle veröffentlichten Ideen gesehen. Danke! "
        "Schauen Sie später wieder vorbei: Mit /stoebern kommen neue Ideen."
    )


def register_first() -> str:
    return _("Um Ideen zu bewerten, machen Sie bitte zuerst mit: Tippen Sie auf /start.")


def rating_gone() -> str:
    return _("Diese Idee ist gerade nicht mehr zu sehen. Hier ist die nächste.")


def report_question() -> str:
    return _("Warum melden Sie diese Idee?")


def report_thanks() -> str:
    return _("Danke für Ihre Meldung. Die Moderation sieht sich die Idee an.")


def reason_label(reason: ReportReason) -> str:
    labels = {
        ReportReason.SPAM: _("Werbung oder Spam"),
        ReportReason.OFFENSIVE: _("beleidigend"),
        ReportReason.PERSONAL_DATA: _("persönliche Daten"),
        ReportReason.OFF_TOPIC: _("passt nicht zum Thema"),
    }
    return labels[reason]


def similar_hint(consultation: Consultation, similar: Sequence[SimilarImpulse]) -> str:
    parts = [
        _(
            "<b>Ähnliche Ideen gibt es schon.</b> Wenn eine davon Ihre Idee trifft, "
            "können Sie sie unterstützen. Oder Sie schicken Ihre eigene Idee."
        )
    ]
    for impulse in similar:
        text = impulse.text if len(impulse.text) <= PREVIEW_CHARS else impulse.text[:PREVIEW_CHARS]
        parts.append(
            _("<b>#{id}</b> · {topic}").format(
                id=impulse.impulse_id, topic=escape(topic_title(consultation, impulse.topic_id))
            )
            + f"\n<blockquote>{escape(text)}</blockquote>"
        )
    return "\n\n".join(parts)


def supported(impulse_id: int) -> str:
    return _(
        "Sie unterstützen jetzt die Idee #{id}. Ihre eigene Idee haben wir nicht übernommen."
    ).format(id=impulse_id)


# -- keyboards ---------------------------------------------------------------


def card_keyboard(impulse_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, text in (
        (OpinionCode.AGREE, _("👍 Stimme zu")),
        (OpinionCode.DISAGREE, _("👎 Stimme nicht zu")),
        (OpinionCode.NEUTRAL, _("🤷 Weiß nicht")),
    ):
        builder.button(text=text, callback_data=RateCallback(impulse=impulse_id, opinion=code))
    builder.button(text=_("⚠️ Melden"), callback_data=ReportAskCallback(impulse=impulse_id))
    builder.adjust(2, 2)
    return builder.as_markup()


def report_keyboard(impulse_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason in ReportReason:
        builder.button(
            text=reason_label(reason),
            callback_data=ReportCallback(impulse=impulse_id, reason=reason),
        )
    builder.button(
        text=_("↩️ Zurück"), callback_data=ReportAskCallback(impulse=impulse_id, back=True)
    )
    builder.adjust(1)
    return builder.as_markup()


def browse_offer() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🔎 Ideen anderer bewerten"), callback_data=BrowseCallback())
    return builder.as_markup()


def hint_keyboard(similar: Sequence[SimilarImpulse]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for impulse in similar:
        builder.button(
            text=_("👍 #{id} unterstützen").format(id=impulse.impulse_id),
            callback_data=HintCallback(impulse=impulse.impulse_id),
        )
    builder.button(text=_("Meine Idee trotzdem senden"), callback_data=HintCallback(impulse=0))
    builder.adjust(1)
    return builder.as_markup()
