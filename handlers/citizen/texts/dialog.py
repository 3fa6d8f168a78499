"""Texts of the dialog, from the message catalog. User text is always escaped here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from bot.domain.impulse import ImpulseProblem, ImpulseStatus, meaningful_length
from bot.domain.participation import VoteSet
from bot.domain.settings import Consultation, ConsultationText, Settings
from bot.domain.standings import Standings, percent
from bot.telegram.i18n import format_moment, format_number, formatting_locale, reader_locale
from handlers.citizen.commands import described


def topic_title(consultation: Consultation, topic_id: str) -> str:
    return consultation.title_of(topic_id, get_i18n().current_locale)


def consultation_text(consultation: Consultation) -> ConsultationText:
    """Title, question and purpose in the reader's language."""
    return consultation.text_for(get_i18n().current_locale)


def welcome(consultation: Consultation) -> str:
    """Short enough for a phone (tests/test_dialog.py measures it in every language): the full
    privacy notice is one tap away, under "Datenschutz lesen" (privacy_full)."""
    text = consultation_text(consultation)
    parts = [f"<b>{escape(text.title)}</b>\n<b>{escape(text.question)}</b>"]
    if text.purpose:
        parts.append(escape(text.purpose))
    parts.append(
        _(
            "Wählen Sie bis zu {limit} Themen. Eine eigene Idee ist freiwillig. "
            "Das dauert etwa 2 Minuten."
        ).format(limit=consultation.max_topics)
    )
    parts.append(
        _(
            "<b>Datenschutz:</b> Gespeichert wird erst nach „Mitmachen“, "
            "unter einem Pseudonym statt Ihres Namens."
        )
    )
    parts.append(language_hint())
    return "\n\n".join(parts)


def privacy_full() -> str:
    """The privacy notice in full, in place of the welcome (its buttons: consent, the policy on
    the web, back)."""
    return privacy_notice()


def privacy_opened() -> str:
    return _("Der ganze Datenschutzhinweis steht jetzt in der Nachricht.")


def welcome_again() -> str:
    return _("Zurück zur Begrüßung.")


def language_hint() -> str:
    """Names the other languages too, so a reader of none of this one still finds /sprache."""
    return "🌐 " + _("Sprache wählen · Language · Dil") + ": /sprache"


def language_prompt() -> str:
    return _("In welcher Sprache möchten Sie lesen? Tippen Sie auf eine Sprache.")


def language_chosen(language: str) -> str:
    return _(
        "Die Sprache ist jetzt: {language}. Mit /sprache können Sie sie jederzeit ändern."
    ).format(language=escape(language))


def privacy_notice() -> str:
    return _(
        "<b>Datenschutz:</b> Wir speichern Ihre Themen und Ihre Idee unter einem Pseudonym, "
        "nicht unter Ihrem Namen. Ihre Telegram-Kennung nutzen wir nur, um Ihnen zu antworten; "
        "sie liegt getrennt von Ihren Antworten. Mit /meinedaten sehen Sie alles, was über Sie "
        "gespeichert ist, mit /loeschen löschen Sie es. Gespeichert wird erst, wenn Sie auf "
        "„Mitmachen“ tippen."
    )


def declined() -> str:
    return _(
        "Schade! Es wurde nichts über Sie gespeichert. "
        "Mit /start können Sie jederzeit doch noch mitmachen."
    )


def topics_prompt(consultation: Consultation, selected: Sequence[str]) -> str:
    """The counter, and the chosen topics in words (a screen reader reads the list, and ✅ on a
    button is not the only sign of a choice)."""
    chosen = [
        _("Gewählt: {chosen} von {limit}").format(
            chosen=len(selected), limit=consultation.max_topics
        )
    ]
    chosen += [f"• {escape(topic_title(consultation, topic_id))}" for topic_id in selected]
    return "\n\n".join(
        [
            _("<b>Schritt 1 von 3: Ihre Prioritäten</b>"),
            _(
                "Welche Themen soll die Region zuerst angehen? Tippen Sie bis zu {limit} "
                "Themen an. Noch einmal tippen wählt ein Thema wieder ab."
            ).format(limit=consultation.max_topics),
            "\n".join(chosen),
        ]
    )


def topic_toggled(consultation: Consultation, topic_id: str, selected: Sequence[str]) -> str:
    """The answer to a topic tap, which a screen reader announces (an edited message it does
    not): the topic, chosen or not, and the count. Plain text: no markup in a notice."""
    values = {
        "topic": topic_title(consultation, topic_id),
        "chosen": len(selected),
        "limit": consultation.max_topics,
    }
    if topic_id in selected:
        return _("{topic} gewählt – {chosen} von {limit}").format(**values)
    return _("{topic} abgewählt – {chosen} von {limit}").format(**values)


def step_topics(*, thanks: bool = False) -> str:
    """Answers to a button that moves the dialog on: the new step's name, read out."""
    step = _("Schritt 1 von 3: Themen wählen")
    return " ".join([_("Danke!"), step]) if thanks else step


def step_impulse() -> str:
    return _("Schritt 2 von 3: Ihre Idee (freiwillig)")


def step_review() -> str:
    return _("Schritt 3 von 3: Bitte prüfen")


def step_thanks() -> str:
    return _("Danke! Ihre Stimme ist gespeichert.")


def topic_limit_reached(consultation: Consultation) -> str:
    return _(
        "Sie haben schon {limit} Themen gewählt. Tippen Sie zuerst ein gewähltes Thema an, "
        "um es abzuwählen."
    ).format(limit=consultation.max_topics)


def choose_one_topic() -> str:
    return _("Bitte wählen Sie mindestens ein Thema.")


def chosen_topics(consultation: Consultation, selected: Sequence[str]) -> str:
    """As bullets in the consultation's order, the same at review and in /meinvotum."""
    return _("<b>Ihre Prioritäten:</b>") + "\n" + topic_bullets(consultation, selected)


def impulse_prompt(
    consultation: Consultation, earlier: Sequence[str] = (), selected: Sequence[str] = ()
) -> str:
    """The idea step; edited in place of the topic list, it names the chosen topics."""
    parts = [_("<b>Schritt 2 von 3: Ihre Idee (freiwillig)</b>")]
    if selected:
        parts.append(
            _("Ihre Themen: {topics}").format(
                topics=", ".join(escape(topic_title(consultation, t)) for t in selected)
            )
        )
    parts += [
        escape(consultation_text(consultation).question),
        _(
            "Schreiben Sie Ihre Idee in einer Nachricht "
            "({min} bis {max} Zeichen). Oder überspringen Sie diesen Schritt."
        ).format(min=consultation.impulse_min_length, max=consultation.impulse_max_length),
    ]
    if earlier:
        parts.append(earlier_ideas_kept(earlier))
    return "\n\n".join(parts)


def impulse_prompt_with_draft(consultation: Consultation, current: str) -> str:
    """Changing the idea: the one in the draft stays unless the person removes it."""
    return "\n\n".join(
        [
            _("<b>Schritt 2 von 3: Ihre Idee (freiwillig)</b>"),
            _("Ihre Idee bisher:") + f"\n<blockquote>{escape(current)}</blockquote>",
            _(
                "Schreiben Sie eine neue Fassung ({min} bis {max} Zeichen), oder tippen Sie "
                "auf „Idee behalten“ oder „Idee entfernen“."
            ).format(min=consultation.impulse_min_length, max=consultation.impulse_max_length),
        ]
    )


def earlier_ideas_kept(earlier: Sequence[str]) -> str:
    quotes = "".join(f"\n<blockquote>{escape(text)}</blockquote>" for text in earlier)
    return _("Ihre früher geschickte Idee bleibt gespeichert:") + quotes


def impulse_problem(consultation: Consultation, problem: ImpulseProblem, text: str) -> str:
    if problem is ImpulseProblem.TOO_SHORT:
        length = meaningful_length(text)
        return _(
            "Ihre Idee ist mit {length} Zeichen etwas kurz. Bitte schreiben Sie mindestens "
            "{min} Zeichen, damit andere sie verstehen."
        ).format(length=length, min=consultation.impulse_min_length)
    if problem is ImpulseProblem.TOO_LONG:
        length = len(text)
        return _(
            "Ihre Idee ist mit {length} Zeichen zu lang. Bitte fassen Sie sie auf höchstens "
            "{max} Zeichen zusammen. Ihr Text ist nicht verloren: Sie finden ihn oben im Chat."
        ).format(length=length, max=consultation.impulse_max_length)
    if problem is ImpulseProblem.CONTACT_DATA:
        return _(
            "Bitte lassen Sie Links, E-Mail-Adressen und Telefonnummern weg. "
            "So schützen wir alle vor Werbung und persönlichen Daten."
        )
    if problem is ImpulseProblem.DUPLICATE:
        return _(
            "Diese Idee haben Sie uns schon geschickt. Sie ist gespeichert. "
            "Schreiben Sie gern eine andere Idee, oder überspringen Sie diesen Schritt."
        )
    return _("Die Nachricht war leer. Bitte schreiben Sie Ihre Idee als Text.")


def impulse_skipped() -> str:
    """ "ok", "nein danke", "keine Idee" at the idea step: a skip, said in one line."""
    return _("Gut, dann ohne eigene Idee.")


def impulse_kept() -> str:
    """The same answer while the draft has an idea: nothing is dropped unasked."""
    return _("Gut, Ihre Idee bleibt, wie sie war.")


def impulse_needs_text() -> str:
    return _(
        "Bitte schreiben Sie Ihre Idee als Text. Sprachnachrichten, Fotos, Sticker oder "
        "Dateien können wir leider nicht aufnehmen."
    )


def impulse_not_forwarded() -> str:
    return _(
        "Bitte schreiben Sie Ihre Idee selbst, statt eine Nachricht weiterzuleiten. "
        "Sie können den Text auch kopieren und einfügen."
    )


def edits_not_taken() -> str:
    return _(
        "Geänderte Nachrichten können wir nicht übernehmen. "
        "Bitte schicken Sie den Text noch einmal als neue Nachricht."
    )


def impulse_topic_prompt() -> str:
    return _("Zu welchem Ihrer Themen passt Ihre Idee am besten?")


def review(
    consultation: Consultation,
    selected: Sequence[str],
    impulse_text: str | None,
    impulse_topic: str | None,
    earlier: Sequence[str] = (),
) -> str:
    parts = [_("<b>Schritt 3 von 3: Bitte prüfen</b>"), chosen_topics(consultation, selected)]
    if impulse_text and impulse_topic:
        parts.append(
            _("<b>Ihre Idee</b> (zum Thema „{topic}“):").format(
                topic=escape(topic_title(consultation, impulse_topic))
            )
            + f"\n<blockquote>{escape(impulse_text)}</blockquote>"
        )
    elif earlier:
        parts.append(_("Keine neue Idee."))
    else:
        parts.append(_("Ohne eigene Idee."))
    if earlier:
        parts.append(earlier_ideas_kept(earlier))
    parts.append(_("Stimmt alles? Dann tippen Sie auf „Absenden“."))
    return "\n\n".join(parts)


def thanks(
    settings: Settings,
    selected: Sequence[str],
    standings: Standings,
    *,
    with_impulse: bool,
) -> str:
    consultation = settings.consultation
    parts = [_("<b>Danke! Ihre Stimme ist gespeichert.</b>")]
    parts.append(standings_for(consultation, selected, standings))
    if with_impulse:
        parts.append(impulse_under_review())
    if settings.channel_link:
        parts.append(
            _("Die Ergebnisse erscheinen regelmäßig im Kanal: {link}").format(
                link=escape(settings.channel_link)
            )
        )
    parts.append(my_vote_hint())
    return "\n\n".join(parts)


def impulse_under_review() -> str:
    return _("Ihre Idee wird vor der Veröffentlichung geprüft. Wir melden uns, wenn es Neues gibt.")


def my_vote_hint() -> str:
    return _("Mit /meinvotum können Sie Ihre Wahl ansehen und ändern.")


def standings_for(consultation: Consultation, selected: Sequence[str], standings: Standings) -> str:
    lines = [
        _("<b>So steht es gerade.</b> Teilnehmende bisher: {participants}").format(
            participants=format_number(standings.participants)
        )
    ]
    for topic_id in selected:
        standing = standings.for_topic(topic_id)
        if standing is None:
            continue
        lines.append(
            _("• {topic}: {percent} % (Platz {rank} von {count})").format(
                topic=escape(topic_title(consultation, topic_id)),
                percent=percent(standing.share),
                rank=standing.rank,
                count=len(standings.topics),
            )
        )
    lines.append(
        _(
            "Der Prozentwert ist der Anteil der Teilnehmenden, die das Thema gewählt haben. "
            "Weil jede Person bis zu {limit} Themen wählt, ergeben alle zusammen mehr als 100 %."
        ).format(limit=consultation.max_topics)
    )
    return "\n".join(lines)


def impulse_status(status: str) -> str:
    """Every status an idea can have, in words (never the stored code)."""
    labels = {
        ImpulseStatus.PENDING: _("wird geprüft"),
        ImpulseStatus.APPROVED: _("veröffentlicht"),
        ImpulseStatus.REJECTED: _("nicht veröffentlicht"),
        ImpulseStatus.REMOVED: _("von der Moderation zurückgezogen"),
        ImpulseStatus.MERGED: _("mit einer gleichen Idee zusammengelegt"),
    }
    return labels[ImpulseStatus(status)]


# How many of the ideas a person supports /meinvotum lists; the rest are counted.
SUPPORTED_SHOWN = 10
# Quotes of an idea in a list or a notice: the start of it, enough to recognise it.
QUOTE_LENGTH = 80


def quote(text: str, limit: int = QUOTE_LENGTH) -> str:
    """An idea quoted in a line: „…“, shortened at a word to about `limit` characters, escaped."""
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
        text = cut.rstrip(" ,;:.-") + " …"
    return "„" + escape(text) + "“"


def topic_bullets(consultation: Consultation, topics: Sequence[str]) -> str:
    """Chosen topics as bullets, in the consultation's order (no rank: all count the same)."""
    order = {topic_id: n for n, topic_id in enumerate(consultation.topic_ids)}
    ordered = sorted(topics, key=lambda t: order.get(t, len(order)))
    return "\n".join(f"• {escape(topic_title(consultation, t))}" for t in ordered)


def my_vote(settings: Settings, vote: VoteSet, *, can_change: bool) -> str:
    consultation = settings.consultation
    parts = [
        _("<b>Ihre Wahl</b>"),
        _("Ihre Themen:") + "\n" + topic_bullets(consultation, vote.topics),
    ]
    if vote.impulses:
        lines = [
            ngettext(
                "<b>Ihre Idee ({count})</b>", "<b>Ihre Ideen ({count})</b>", len(vote.impulses)
            ).format(count=len(vote.impulses))
        ]
        lines += [
            _("• {idea} – Thema: {topic}. Stand: {status}").format(
                idea=quote(impulse.text),
                topic=escape(topic_title(consultation, impulse.topic_id)),
                status=impulse_status(impulse.status),
            )
            for impulse in vote.impulses
        ]
        parts.append("\n".join(lines))
    if vote.supported:
        count = len(vote.supported)
        lines = [
            ngettext(
                "<b>Sie unterstützen {count} Idee</b>",
                "<b>Sie unterstützen {count} Ideen</b>",
                count,
            ).format(count=count)
        ]
        lines += [f"• {quote(idea.text)}" for idea in vote.supported[:SUPPORTED_SHOWN]]
        if count > SUPPORTED_SHOWN:
            more = count - SUPPORTED_SHOWN
            lines.append(
                ngettext("… und {count} weitere", "… und {count} weitere", more).format(count=more)
            )
        parts.append("\n".join(lines))
    if vote.voted_at is not None:
        parts.append(_("Gespeichert am {date}.").format(date=local_date(settings, vote.voted_at)))
    if can_change:
        ends = settings.privacy.ends
        if ends is not None:
            parts.append(_("Die Beteiligung läuft bis zum {date}.").format(date=reader_date(ends)))
        parts.append(
            _(
                "Sie können Ihre Wahl ändern, solange die Beteiligung läuft. "
                "Es zählt immer die neueste."
            )
        )
    else:
        parts.append(consultation_closed())
    return "\n\n".join(parts)


def consultation_closed() -> str:
    return _(
        "Die Beteiligung ist abgeschlossen. Sie können Ihre Wahl (/meinvotum) und die "
        "Ergebnisse (/ergebnis) ansehen, aber nichts mehr ändern."
    )


def closed_welcome(consultation: Consultation, standings: Standings) -> str:
    """The welcome once the consultation is closed: what came of it, no consent to give."""
    text = consultation_text(consultation)
    parts = [
        f"<b>{escape(text.title)}</b>",
        "<b>" + escape(text.question) + "</b>",
        _(
            "Die Beteiligung ist abgeschlossen. Danke an alle, die mitgemacht haben! "
            "Mitmachen geht nicht mehr."
        ),
        results(consultation, standings, is_open=False),
        language_hint(),
    ]
    return "\n\n".join(parts)


def results(consultation: Consultation, standings: Standings, *, is_open: bool) -> str:
    """All topics that anyone chose, ranked (ties share a rank), with their share."""
    heading = _("<b>Die Ergebnisse bisher</b>") if is_open else _("<b>Das Ergebnis</b>")
    lines = [
        heading,
        _("Teilnehmende: {participants}").format(
            participants=format_number(standings.participants)
        ),
    ]
    chosen = [standing for standing in standings.topics if standing.votes > 0]
    if not chosen:
        lines.append(_("Bisher hat noch niemand ein Thema gewählt."))
        return "\n".join(lines)
    lines += [
        _("{rank}. {topic}: {percent} %").format(
            rank=standing.rank,
            topic=escape(topic_title(consultation, standing.topic_id)),
            percent=percent(standing.share),
        )
        for standing in chosen
    ]
    lines.append(
        _(
            "Der Prozentwert ist der Anteil der Teilnehmenden, die das Thema gewählt haben. "
            "Weil jede Person bis zu {limit} Themen wählt, ergeben alle zusammen mehr als 100 %."
        ).format(limit=consultation.max_topics)
    )
    return "\n".join(lines)


def reader_date(day: date) -> str:
    """A day in words, in the reader's language ("31. März 2027", "March 31, 2027")."""
    return format_date(day, "long", locale=formatting_locale(reader_locale()))


def local_date(settings: Settings, moment: datetime) -> str:
    return format_moment(moment, ZoneInfo(settings.digest_timezone))


def help_text(settings: Settings) -> str:
    consultation = settings.consultation
    return "\n\n".join(
        [
            _("<b>Hilfe: {title}</b>").format(title=escape(consultation_text(consultation).title)),
            _(
                "Hier können Sie mitbestimmen, welche Themen die Region zuerst angeht. "
                "Sie wählen bis zu {limit} Themen und können eine eigene Idee schicken. "
                "Die Ergebnisse zeigen, wie viel Prozent der Teilnehmenden ein Thema gewählt haben."
            ).format(limit=consultation.max_topics),
            command_list(),
            _(
                "Ihre Antworten werden unter einem Pseudonym gespeichert. "
                "Datenschutzerklärung: {url}"
            ).format(url=escape(consultation.privacy_url)),
        ]
    )


def command_list() -> str:
    """The commands with the names of the reader's language (handlers/citizen/commands.py)."""
    locale = get_i18n().current_locale
    return "\n".join(
        f"/{command.name_for(locale)} – {escape(description)}"
        for command, description in described()
    )


def use_the_buttons() -> str:
    return _("Bitte nutzen Sie die Knöpfe unter der Nachricht oben.")


def unknown_input() -> str:
    return _("Das haben wir nicht verstanden. Mit /start geht es los, /hilfe erklärt alles.")


def stale_button() -> str:
    return _("Dieser Knopf ist nicht mehr aktuell. Bitte tippen Sie auf /start.")


def erase_question() -> str:
    return _(
        "Wollen Sie wirklich alle Ihre Daten löschen? Ihre Stimme zählt dann nicht mehr. "
        "Bereits veröffentlichte Ideen bleiben ohne jeden Bezug zu Ihnen stehen."
    )


def notice_changed() -> str:
    return _(
        "Unsere Datenschutzhinweise haben sich geändert. Bitte lesen Sie sie und stimmen Sie "
        "noch einmal zu, bevor es weitergeht."
    )


def erased() -> str:
    return _("Erledigt: Ihre Daten sind gelöscht. Mit /start können Sie neu beginnen.")


def no_vote_yet() -> str:
    return _("Sie haben noch nicht abgestimmt. Mit /start geht es los.")


def nothing_stored() -> str:
    return _("Über Sie ist nichts gespeichert.")


def kept_data() -> str:
    return _("In Ordnung, es bleibt alles, wie es ist.")


# Text written after taking part (handlers/citizen/after_submit.py)


def reply_to_answer() -> str:
    return _(
        "Danke für Ihre Rückmeldung zur Antwort der Moderation! Antworten auf diese Nachricht "
        "liest hier leider niemand mit."
    )


def offer_new_idea(text: str) -> str:
    return "\n\n".join(
        [
            _("Ihre Wahl ist gespeichert. Möchten Sie diesen Text als neue Idee schicken?"),
            f"<blockquote>{escape(text)}</blockquote>",
            _("Dann tippen Sie auf „Als neue Idee schicken“. Ihre Wahl sehen Sie mit /meinvotum."),
        ]
    )
