"""The texts of the web chat. The ONLY module of bot/web that imports the citizen dialog's
texts and keyboards from `handlers`: the dialog's words are written once, for both channels,
and a move of those modules changes this file alone.

Texts from `handlers.citizen.texts.dialog` are Telegram's HTML subset with user text already
escaped; the page shows them as they are. Button labels are plain text (the page escapes
them): they are read off the Telegram keyboards, so both channels name every button alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.settings import Consultation, Settings
from bot.domain.similarity import SimilarImpulse
from bot.domain.standings import Standings
from handlers.citizen import keyboards
from handlers.citizen.keyboards import CHECKED
from handlers.citizen.texts import dialog as views
from handlers.citizen.texts import ratings as rating_texts

__all__ = ["CHECKED", "views"]


def _labels(markup: InlineKeyboardMarkup) -> list[str]:
    return [button.text for row in markup.inline_keyboard for button in row]


def welcome(consultation: Consultation) -> str:
    """The welcome without its hint at /sprache: the page has its language menu at the top."""
    return views.welcome(consultation).replace("\n\n" + views.language_hint(), "")


def thanks(
    settings: Settings, selected: Sequence[str], standings: Standings, *, with_impulse: bool
) -> str:
    """The bot's thanks without what only a chat can keep: the web has no /meinvotum (its
    "Meine Wahl" link is below) and cannot write to the person later, so the idea's review
    is followed under "Meine Wahl" instead of "we will be in touch"."""
    text = views.thanks(settings, selected, standings, with_impulse=with_impulse)
    text = text.replace("\n\n" + views.my_vote_hint(), "")
    if with_impulse:
        text = text.replace(
            views.impulse_under_review(),
            _(
                "Ihre Idee wird vor der Veröffentlichung geprüft. Ob sie veröffentlicht ist, "
                "sehen Sie unter „Meine Wahl“."
            ),
        )
    return text


def consent_labels() -> tuple[str, str, str]:
    """Mitmachen, Datenschutz lesen, Nein danke."""
    join, privacy, decline = _labels(keyboards.consent())
    return join, privacy, decline


def privacy_labels(consultation: Consultation) -> tuple[str, str, str]:
    """Mitmachen, the privacy policy on the web, Zurück."""
    join, policy, back = _labels(keyboards.privacy(consultation))
    return join, policy, back


def topics_done_label(consultation: Consultation, selected: Sequence[str]) -> str:
    """Weiter · n von 3 gewählt."""
    return _labels(keyboards.topics(consultation, selected))[-1]


def skip_label() -> str:
    return _labels(keyboards.skip_impulse())[0]


def keep_remove_labels() -> tuple[str, str]:
    keep, remove = _labels(keyboards.keep_or_remove_impulse())
    return keep, remove


def other_topic_label(consultation: Consultation, selected: Sequence[str]) -> str:
    return _labels(keyboards.impulse_topics(consultation, selected))[-1]


def similar_hint(consultation: Consultation, similar: Sequence[SimilarImpulse]) -> str:
    """Published ideas that say nearly the same (HTML, their text escaped)."""
    return rating_texts.similar_hint(consultation, similar)


def similar_labels(similar: Sequence[SimilarImpulse]) -> tuple[list[str], str]:
    """ "👍 #12 unterstützen" per idea, and "Meine Idee trotzdem senden"."""
    labels = _labels(keyboards.hint_keyboard(similar))
    return labels[:-1], labels[-1]


def supported(impulse_id: int) -> str:
    return rating_texts.supported(impulse_id)


def review_labels() -> tuple[str, str, str]:
    """Absenden, Themen ändern, Idee ändern."""
    submit, topics, impulse = _labels(keyboards.review())
    return submit, topics, impulse


def change_vote_label() -> str:
    return _labels(keyboards.change_vote())[0]


def erase_labels() -> tuple[str, str]:
    """Ja, alles löschen; Abbrechen."""
    erase, keep = _labels(keyboards.confirm_erase())
    return erase, keep


def slow_down() -> str:
    return _("Bitte etwas langsamer: Wir kommen nicht hinterher. Gleich geht es weiter.")


def blocked() -> str:
    """As bot.telegram.middlewares.BlockedCitizens says it."""
    return _(
        "Ihre Teilnahme ist von der Moderation gesperrt. Wenn Sie glauben, dass das ein "
        "Irrtum ist, schreiben Sie bitte an die Stelle, die in der Datenschutzerklärung steht."
    )


# Texts of the web page itself (not in the Telegram dialog).


def page_title() -> str:
    return _("Bürgerbeteiligung im Web")


def language_label() -> str:
    return _("Sprache")


def language_button() -> str:
    return _("Sprache wählen")


def nav_label() -> str:
    return _("Weitere Seiten")


def my_vote_link() -> str:
    return _("Meine Wahl")


def my_data_link() -> str:
    return _("Meine Daten")


def erase_link() -> str:
    return _("Daten löschen")


def results_link() -> str:
    return _("Ergebnisse")


def restart_link() -> str:
    return _("Zum Dialog")


def you_said() -> str:
    """Read out by screen readers before the person's own messages."""
    return _("Sie:")


def bot_said() -> str:
    return _("Dialog:")


def topics_legend() -> str:
    return _("Themen (bis zu {limit})")


def impulse_label() -> str:
    return _("Ihre Idee")


def send_idea() -> str:
    return _("Idee senden")


def impulse_topic_legend() -> str:
    return _("Thema der Idee")


def choose() -> str:
    return _("Auswählen")


def invite_label() -> str:
    return _("Ihr Einladungs-Code (steht auf Ihrem Brief)")


def invite_invalid() -> str:
    return _("Dieser Code gilt nicht oder wurde schon benutzt. Bitte prüfen Sie ihn.")


def form_expired() -> str:
    return _("Die Seite war veraltet. Bitte versuchen Sie es noch einmal.")


def results_heading() -> str:
    return _("Ergebnisse der Beteiligung")


def chart_alt() -> str:
    return _("Balkendiagramm: Anteil der Teilnehmenden je Thema (Zahlen in der Liste)")


def by_channel(telegram: str, web: str) -> str:
    return _("Davon über Telegram: {telegram} · im Web: {web}").format(telegram=telegram, web=web)


def published_heading() -> str:
    return _("Veröffentlichte Ideen")


def nothing_published() -> str:
    return _("Noch keine Idee veröffentlicht.")


def chart_subtitle() -> str:
    return _("{total} Teilnehmende, mehrere Themen je Person · Stand: {moment}")


def chart_axis() -> str:
    return _("Anteil der Teilnehmenden")
