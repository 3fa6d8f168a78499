"""Texts of the rating cards (/stoebern) and the similar-impulse hint (their buttons:
handlers/citizen/keyboards.py, their callback data: handlers/citizen/callbacks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from babel import Locale, UnknownLocaleError

from bot.domain.ratings import RatingCard, ReportReason
from bot.domain.settings import Consultation
from bot.domain.similarity import SimilarImpulse
from handlers.citizen.texts.dialog import topic_title

PREVIEW_CHARS = 300


# -- texts -------------------------------------------------------------------


def card(consultation: Consultation, impulse: RatingCard, *, undone: bool = False) -> str:
    head = _("<b>Idee #{id}</b> · Thema: {topic}").format(
        id=impulse.impulse_id, topic=escape(topic_title(consultation, impulse.topic_id))
    )
    if impulse.total:
        head = f"{progress(impulse.position, impulse.total)}\n{head}"
    parts = [head, f"<blockquote>{escape(impulse.text)}</blockquote>"]
    note = language_note(impulse.locale, get_i18n().current_locale)
    if note:
        parts.append(note)
    if undone:
        parts.append(_("Ihre Bewertung ist zurückgenommen."))
    parts.append(card_question())
    return "\n\n".join(parts)


def progress(position: int, total: int) -> str:
    return _("Idee {position} von {total}").format(position=position, total=total)


def language_note(written_in: str | None, reader: str) -> str | None:
    """A line when the idea is written in another language than the reader's (Leichte
    Sprache and German are one language); none when the language is unknown."""
    if not written_in or base_language(written_in) == base_language(reader):
        return None
    try:
        name = Locale.parse(base_language(reader)).languages.get(base_language(written_in))
    except (ValueError, UnknownLocaleError):
        name = None
    if not name:
        return None
    return _("🌐 Diese Idee ist auf {language} geschrieben.").format(language=escape(name))


def base_language(locale: str) -> str:
    return locale.replace("-", "_").split("_")[0].lower()


def paused() -> str:
    return _(
        "Pause. Mit /stoebern geht es weiter, wo Sie aufgehört haben. "
        "Ihre Bewertungen sind gespeichert."
    )


def nothing_to_undo() -> str:
    return _("Da gibt es nichts zurückzunehmen.")


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
