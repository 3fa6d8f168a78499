"""/meinedaten in words: a short summary in the chat, and the file with keys in the reader's
language.

The file is for the person, not for a program: keys such as "Ihre Themen" or "Eingewilligt
am", topics by their title, statuses and reasons in words, times in the consultation's time
zone. Nothing is left out: every stored field has its key, and a value the bot has no words for
(an unknown code, a draft key it does not know) is given as it is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.followup import DeliveryStatus
from bot.domain.moderation import AnswerStatus, RejectReason
from bot.domain.participation import ParticipantStatus
from bot.domain.ratings import Opinion, ReportReason
from bot.domain.settings import Settings
from bot.telegram.language import language_name
from handlers.citizen.states import (
    DRAFT_KEY,
    EARLIER_IDEAS,
    IMPULSE_TEXT,
    IMPULSE_TOPIC,
    PROMPT,
    SELECTED,
    SOURCE,
    TOPICS_MESSAGE,
    Dialog,
)
from handlers.citizen.texts import dialog, notices
from handlers.citizen.texts.ratings import reason_label as report_label


def _moment(settings: Settings, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dialog.local_date(settings, datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def _label(words: Callable[[Any], str], value: Any) -> Any:
    """A code in words; one the bot does not know stays as it is stored."""
    if value is None:
        return None
    try:
        return words(value)
    except (KeyError, ValueError):
        return value


def _yes_no(value: Any) -> Any:
    return value if value is None else (_("ja") if value else _("nein"))


def participant_status_label(status: ParticipantStatus) -> str:
    labels = {
        ParticipantStatus.ACTIVE: _("nimmt teil"),
        ParticipantStatus.BLOCKED: _("von der Moderation gesperrt"),
        ParticipantStatus.SET_ASIDE: _("zählt zurzeit nicht mit (die Moderation prüft das)"),
    }
    return labels[status]


def _status_of_participant(value: Any) -> Any:
    known = {status.value for status in ParticipantStatus}
    return participant_status_label(ParticipantStatus(value)) if value in known else value


def _channel(value: Any) -> Any:
    """Where the person takes part (`participants.channel`); a code without words as stored."""
    return {"telegram": "Telegram", "web": _("Web-Chat im Browser")}.get(value, value)


def _opinion(value: Any) -> str:
    return {
        Opinion.AGREE: _("stimme zu"),
        Opinion.DISAGREE: _("stimme nicht zu"),
        Opinion.PASS: _("weiß nicht"),
    }[Opinion(value)]


def _delivery(value: Any) -> str:
    return {
        DeliveryStatus.PENDING: _("wartet auf den Versand"),
        DeliveryStatus.SENDING: _("wird gerade geschickt"),
        DeliveryStatus.SENT: _("geschickt"),
        DeliveryStatus.GONE: _("nicht angekommen: Bot blockiert oder Konto gelöscht"),
        DeliveryStatus.FAILED: _("nicht angekommen"),
    }[DeliveryStatus(value)]


def _step(value: Any) -> Any:
    return {
        Dialog.consent.state: _("Einwilligung"),
        Dialog.topics.state: _("Themen wählen"),
        Dialog.impulse_text.state: _("Idee schreiben"),
        Dialog.impulse_topic.state: _("Thema der Idee wählen"),
        Dialog.similar.state: _("Ähnliche Ideen ansehen"),
        Dialog.review.state: _("Prüfen und absenden"),
    }.get(value, value)


def _in_order(settings: Settings, stored: Mapping[str, Any]) -> list[Any]:
    """The chosen topics in the consultation's order (as in /meinvotum); unknown ones last."""
    order = {topic_id: n for n, topic_id in enumerate(settings.consultation.topic_ids)}
    return sorted(stored.get("topics", []), key=lambda t: order.get(t, len(order)))


def document(
    settings: Settings, stored: Mapping[str, Any] | None, conversation: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything stored about the person, under keys in their language."""
    consultation = settings.consultation

    def title(topic_id: Any) -> Any:
        return dialog.topic_title(consultation, topic_id) if isinstance(topic_id, str) else topic_id

    result: dict[str, Any] = {
        _("Über diese Datei"): _(
            "Alles, was der Bot über Sie gespeichert hat. Zeiten in der Zeitzone {zone}."
        ).format(zone=settings.digest_timezone),
    }
    if stored is not None:
        language = stored.get("language")
        result[_("Ihre Teilnahme")] = {
            _("Eingewilligt am"): _moment(settings, stored.get("consented_at")),
            _("Version der Datenschutzhinweise"): stored.get("privacy_notice_version"),
            _("Gekommen über den Link"): stored.get("source"),
            _("Ihre Sprache"): language_name(language) if language else None,
            _("Zuletzt abgestimmt am"): _moment(settings, stored.get("voted_at")),
            _("Stand"): _status_of_participant(stored.get("status")),
            _("Sie nehmen teil über"): _channel(stored.get("channel")),
            _("Ihre Chat-Nummer bei Telegram (nur, um Ihnen zu antworten)"): stored.get(
                "telegram_chat_id_for_replies"
            ),
            _("Nachrichten an Sie kommen an"): _yes_no(stored.get("reachable_for_replies")),
            _("Ergebnis der Beteiligung gewünscht seit"): _moment(
                settings, stored.get("outcome_message_requested_at")
            ),
        }
        result[_("Ihre Themen")] = [title(t) for t in _in_order(settings, stored)]
        result[_("Ihre Ideen")] = [
            {
                _("Nummer"): idea.get("id"),
                _("Thema"): title(idea.get("topic")),
                _("Text"): idea.get("text"),
                _("Stand"): _label(dialog.impulse_status, idea.get("status")),
                _("Geschickt am"): _moment(settings, idea.get("created_at")),
                _("Gekommen über den Link"): idea.get("source"),
                _("Entschieden am"): _moment(settings, idea.get("decided_at")),
                _("Grund"): _label(
                    lambda r: notices.reason_label(RejectReason(r)), idea.get("reject_reason")
                ),
                _("Zusammengelegt mit Idee Nummer"): idea.get("merged_into"),
                _("Antwort der Moderation"): idea.get("answer_text"),
                _("Stand der Antwort"): _label(
                    lambda s: notices.answer_label(AnswerStatus(s)), idea.get("answer_status")
                ),
                _("Beantwortet am"): _moment(settings, idea.get("answered_at")),
            }
            for idea in stored.get("impulses", [])
        ]
        result[_("Ihre Bewertungen")] = [
            {
                _("Idee Nummer"): rating.get("impulse"),
                _("Ihre Bewertung"): _label(_opinion, rating.get("value")),
                _("Am"): _moment(settings, rating.get("rated_at")),
            }
            for rating in stored.get("ratings", [])
        ]
        result[_("Ihre Meldungen")] = [
            {
                _("Idee Nummer"): report.get("impulse"),
                _("Grund"): _label(lambda r: report_label(ReportReason(r)), report.get("reason")),
                _("Am"): _moment(settings, report.get("reported_at")),
            }
            for report in stored.get("reports", [])
        ]
        result[_("Ergebnis-Nachrichten an Sie")] = [
            {
                _("Nummer"): sent.get("message"),
                _("Stand"): _label(_delivery, sent.get("status")),
                _("Geschickt am"): _moment(settings, sent.get("sent_at")),
            }
            for sent in stored.get("outcome_messages", [])
        ]
    result[_("Ihr Gespräch mit dem Bot")] = _conversation(settings, conversation, title)
    return result


def _conversation(
    settings: Settings, conversation: Mapping[str, Any], title: Callable[[Any], Any]
) -> dict[str, Any]:
    draft = conversation.get("draft") or {}
    named = {
        SOURCE: _("Gekommen über den Link"),
        SELECTED: _("Gewählte Themen (noch nicht abgeschickt)"),
        IMPULSE_TEXT: _("Idee (noch nicht abgeschickt)"),
        IMPULSE_TOPIC: _("Thema der Idee"),
        DRAFT_KEY: _("Kennung des Entwurfs"),
        PROMPT: _("Nummer einer Nachricht des Bots"),
        TOPICS_MESSAGE: _("Nummer einer Nachricht des Bots mit Themen"),
        EARLIER_IDEAS: _("Früher geschickte Ideen"),
    }
    readable: dict[str, Any] = {}
    for key, value in draft.items():
        if key == SELECTED and isinstance(value, list):
            value = [title(t) for t in value]
        elif key == IMPULSE_TOPIC:
            value = title(value)
        readable[named.get(key, key)] = value
    language = conversation.get("language")
    return {
        _("Schritt"): _step(conversation.get("step")),
        _("Entwurf"): readable,
        _("Gewählte Sprache"): language_name(language) if language else None,
    }


def summary(settings: Settings, stored: Mapping[str, Any] | None) -> str:
    """A few lines in the chat: what is stored, in words; the file has every detail."""
    lines = [_("<b>Was über Sie gespeichert ist</b>")]
    if stored is not None:
        consented = _moment(settings, stored.get("consented_at"))
        lines.append(_("• Ihre Einwilligung vom {date}").format(date=escape(str(consented))))
        topics = [dialog.topic_title(settings.consultation, t) for t in _in_order(settings, stored)]
        if topics:
            lines.append(_("• Ihre Themen: {topics}").format(topics=escape(", ".join(topics))))
        ideas, ratings, reports = (
            len(stored.get(key, [])) for key in ("impulses", "ratings", "reports")
        )
        if ideas:
            text = ngettext("• {count} Idee von Ihnen", "• {count} Ideen von Ihnen", ideas)
            lines.append(text.format(count=ideas))
        if ratings:
            text = ngettext(
                "• {count} Bewertung von Ihnen", "• {count} Bewertungen von Ihnen", ratings
            )
            lines.append(text.format(count=ratings))
        if reports:
            text = ngettext("• {count} Meldung von Ihnen", "• {count} Meldungen von Ihnen", reports)
            lines.append(text.format(count=reports))
        if stored.get("telegram_chat_id_for_replies") is not None:
            lines.append(_("• Ihre Chat-Nummer bei Telegram, damit wir Ihnen antworten können"))
    lines.append(_("• wo Sie im Gespräch mit dem Bot gerade sind, und Ihre Sprache"))
    lines.append(_("Alles im Einzelnen steht in der Datei unten. Mit /loeschen löschen Sie alles."))
    return "\n".join(lines)
