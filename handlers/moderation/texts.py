"""Moderators' texts (German source; moderator texts are translated to English only)."""

from __future__ import annotations

from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.app.config import Settings
from bot.domain.consensus import MIN_RATINGS, ConsensusView, RatedImpulse
from bot.domain.moderation import AnswerStatus, ImpulseCard, RejectReason, Stats, Status
from bot.domain.standings import Standings, percent
from handlers.notices import answer_label, reason_label
from handlers.views import topic_title


def status_label(status: str) -> str:
    labels = {
        Status.PENDING.value: _("wartet auf Prüfung"),
        Status.APPROVED.value: _("veröffentlicht"),
        Status.REJECTED.value: _("abgelehnt"),
        Status.REMOVED.value: _("zurückgezogen"),
        Status.MERGED.value: _("zusammengeführt"),
    }
    return labels.get(status, status)


def erased_card(impulse_id: int) -> str:
    return _("📝 <b>Impuls #{id}</b> · auf Wunsch der Person gelöscht").format(id=impulse_id)


def card(settings: Settings, impulse: ImpulseCard, viewer_id: int | None = None) -> str:
    created = impulse.created_at.astimezone(ZoneInfo(settings.digest_timezone))
    lines = [
        _("📝 <b>Impuls #{id}</b> · {status}").format(
            id=impulse.id, status=status_label(impulse.status)
        ),
        _("Thema: {topic}").format(
            topic=escape(topic_title(settings.consultation, impulse.topic_id))
        ),
        _("Quelle: {source} · {time}").format(
            source=escape(impulse.source or "–"), time=created.strftime("%d.%m.%Y, %H:%M")
        ),
        f"<blockquote>{escape(impulse.text)}</blockquote>",
    ]
    if impulse.decided_by is not None:
        who = _("Ihnen") if impulse.decided_by == viewer_id else str(impulse.decided_by)
        lines.append(_("Entschieden von: {who}").format(who=who))
    if impulse.reject_reason:
        lines.append(
            _("Grund: {reason}").format(reason=reason_label(RejectReason(impulse.reject_reason)))
        )
    if impulse.answer_status:
        lines.append(
            _("Antwort: {status}").format(status=answer_label(AnswerStatus(impulse.answer_status)))
            + (f" – {escape(impulse.answer_text)}" if impulse.answer_text else "")
        )
    if impulse.author_blocked:
        lines.append(_("🚫 Autor gesperrt"))
    if impulse.similar:
        similar = ", ".join(f"#{i}" for i in impulse.similar)
        lines.append(_("Ähnlich: {impulses}").format(impulses=similar))
    return "\n".join(lines)


def already_decided(impulse: ImpulseCard) -> str:
    return _("Schon entschieden ({status}) von {who}.").format(
        status=status_label(impulse.status), who=impulse.decided_by or "–"
    )


def impulse_gone() -> str:
    return _("Diesen Impuls gibt es nicht mehr.")


def choose_answer_status(impulse_id: int) -> str:
    return _("Antwort auf Impuls #{id}: Welcher Stand?").format(id=impulse_id)


def write_answer(impulse_id: int, status: AnswerStatus, minutes: int) -> str:
    return _(
        "Impuls #{id}, Stand „{status}“. Schreiben Sie jetzt die Antwort für die Person "
        "(höchstens 1000 Zeichen), oder /ohne für eine Antwort nur mit dem Stand. Sie sehen "
        "sie vor dem Senden noch einmal. Jeder Befehl bricht ab; nach {minutes} Minuten "
        "endet das Warten auf die Antwort von selbst."
    ).format(id=impulse_id, status=answer_label(status), minutes=minutes)


def answer_preview(impulse_id: int, status: AnswerStatus, answer: str) -> str:
    lines = [
        _("<b>Vorschau: Antwort auf Impuls #{id}</b> (noch nicht gesendet)").format(id=impulse_id),
        _("Stand: {status}").format(status=answer_label(status)),
    ]
    if answer:
        lines.append(f"<blockquote>{escape(answer)}</blockquote>")
    else:
        lines.append(_("Ohne Text, nur der Stand."))
    return "\n".join(lines)


def answer_again() -> str:
    return _("Wird neu geschrieben.")


def answer_cancelled() -> str:
    return _("Nicht gesendet.")


def answer_left() -> str:
    return _("Die Antwort ist verworfen; es wurde nichts an die Person gesendet.")


def answer_expired() -> str:
    return _(
        "Die Zeit für diese Antwort ist abgelaufen; es wurde nichts an die Person gesendet. "
        "Tippen Sie auf der Karte noch einmal auf „Antworten“."
    )


def answer_preview_gone() -> str:
    return _("Diese Vorschau ist nicht mehr aktuell; es wurde nichts gesendet.")


def answer_too_long() -> str:
    return _("Die Antwort ist zu lang (höchstens 1000 Zeichen). Bitte kürzen.")


def answer_sent(delivered: bool) -> str:
    if delivered:
        return _("Antwort gespeichert und an die Person geschickt.")
    return _("Antwort gespeichert. Die Person ist nicht mehr erreichbar.")


def queue(length: int) -> str:
    if length == 0:
        return _("Die Warteschlange ist leer. 🎉")
    return ngettext(
        "Warteschlange: {count} Impuls wartet auf Prüfung:",
        "Warteschlange: {count} Impulse warten auf Prüfung. Der älteste:",
        length,
    ).format(count=length)


def usage(command: str) -> str:
    examples = {
        "block": _("So geht es: /block 42 (die Nummer des Impulses)"),
        "unblock": _("So geht es: /unblock 42 (die Nummer des Impulses)"),
        "phase": _("So geht es: /phase open oder /phase close"),
        "announce": _("So geht es: /announce Ihr Text für den Kanal"),
    }
    return examples[command]


def blocked_done(impulse_id: int, blocked: bool) -> str:
    if blocked:
        return _(
            "Die Person hinter Impuls #{id} ist gesperrt; ihre Stimmen zählen nicht mehr."
        ).format(id=impulse_id)
    return _("Die Person hinter Impuls #{id} ist entsperrt; ihre Stimmen zählen wieder.").format(
        id=impulse_id
    )


def no_author(impulse_id: int) -> str:
    return _("Impuls #{id} hat keine Person mehr (gelöscht).").format(id=impulse_id)


def phase_set(is_open: bool) -> str:
    if is_open:
        return _("Die Beteiligung ist jetzt geöffnet.")
    return _("Die Beteiligung ist jetzt geschlossen. Niemand kann seine Wahl mehr ändern.")


def announce_preview(text: str) -> str:
    return _("<b>Vorschau für den Kanal:</b>") + "\n\n" + escape(text)


def announced() -> str:
    return _("Im Kanal veröffentlicht.")


def announce_cancelled() -> str:
    return _("Nicht veröffentlicht.")


def channel_problem(channel: str, problem: str) -> str:
    """What an operator must fix before the bot can post in the channel (bot.telegram.outcomes)."""
    if problem == "chat_missing":
        text = _(
            "Den Kanal {channel} gibt es nicht, oder der Bot ist dort kein Mitglied. Bitte "
            "prüfen Sie channel.chat in der Konfiguration und machen Sie den Bot im Kanal zum "
            "Administrator."
        )
    else:
        text = _(
            "Der Bot darf im Kanal {channel} nicht posten: Er ist dort kein Administrator mit "
            "dem Recht, Nachrichten zu senden. Bitte machen Sie ihn dort zum Administrator."
        )
    return text.format(channel=escape(channel))


def digest_refused(channel: str, problem: str) -> str:
    return "\n\n".join(
        [
            _("⚠️ Der Digest konnte nicht veröffentlicht werden."),
            channel_problem(channel, problem),
            _("Er bleibt vorgemerkt und wird regelmäßig erneut versucht."),
        ]
    )


def no_channel() -> str:
    return _("Es ist kein Kanal eingerichtet (channel.chat in der Konfiguration).")


def stats(settings: Settings, stats: Stats, standings: Standings) -> str:
    consultation = settings.consultation
    rows = [
        f"{s.rank:>2} {_cut(consultation.title_of(s.topic_id), 26):<26} {s.votes:>6} "
        f"{percent(s.share):>4} %"
        for s in standings.topics
    ]
    topic, votes, share = _("Thema"), _("Stimmen"), _("Anteil")
    header = f"{'#':>2} {topic:<26} {votes:>6} {share:>6}"
    by_status = (
        " · ".join(
            f"{status_label(status)}: {count}"
            for status, count in sorted(stats.impulses_by_status.items())
        )
        or "–"
    )
    sources = (
        " · ".join(f"{escape(source)}: {count}" for source, count in stats.sources[:15]) or "–"
    )
    return "\n".join(
        [
            _("📊 <b>Statistik</b>"),
            _("Teilnehmende: {total} (heute {today}, letzte 7 Tage {week})").format(
                total=stats.participants_total,
                today=stats.participants_today,
                week=stats.participants_week,
            ),
            "<pre>" + escape("\n".join([header, *rows])) + "</pre>",
            _("Impulse: {by_status}").format(by_status=by_status),
            _("Quellen: {sources}").format(sources=sources),
        ]
    )


def opinion_groups(settings: Settings, view: ConsensusView | None, computed: bool) -> str:
    """The /stats section on consensus and division; `computed`: a computation has finished."""
    heading = _("🧭 <b>Meinungsgruppen</b>")
    if view is None:
        if not computed:
            note = _("Werden gerade berechnet; bitte gleich noch einmal /stats.")
        else:
            note = _(
                "Noch nicht genug Bewertungen: Es braucht mindestens 6 Personen mit je "
                "{min} Bewertungen."
            ).format(min=MIN_RATINGS)
        return f"{heading}\n{note}"
    zone = ZoneInfo(settings.digest_timezone)
    sizes = " · ".join(
        _("Gruppe {number}: {size}").format(number=n, size=size)
        for n, size in enumerate(view.sizes, start=1)
    )
    lines = [
        heading,
        _("{participants} Personen mit mindestens {min} Bewertungen · Stand {time}").format(
            participants=view.participants,
            min=MIN_RATINGS,
            time=view.computed_at.astimezone(zone).strftime("%d.%m.%Y, %H:%M"),
        ),
        sizes,
        _("<b>Konsens</b> (jede Gruppe stimmt zu):"),
        *(_rated(settings, i) for i in view.consensus),
    ]
    if not view.consensus:
        lines.append("–")
    lines.append(_("<b>Spaltet die Gruppen</b>:"))
    lines.extend(_rated(settings, i) for i in view.divisive)
    if not view.divisive:
        lines.append("–")
    lines.append(_("<i>Zustimmung je Gruppe in %, in der Reihenfolge der Gruppen.</i>"))
    return "\n".join(lines)


def opinion_chart_caption() -> str:
    return _("Zustimmung je Meinungsgruppe: Konsens und was die Gruppen spaltet")


def _rated(settings: Settings, impulse: RatedImpulse) -> str:
    topic = escape(_cut(settings.consultation.title_of(impulse.topic_id), 26))
    shares = " · ".join(f"{percent(s)} %" for s in impulse.agree_shares)
    return f"#{impulse.impulse_id} <i>{topic}</i>: „{escape(_cut(impulse.text, 80))}“ – {shares}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def audit(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return _("Noch keine Einträge im Protokoll.")
    lines = [_("<b>Protokoll</b> (neueste zuerst)")]
    for e in entries:
        detail = f" – {escape(_cut(e['detail'], 80))}" if e["detail"] else ""
        lines.append(
            f"{e['at'][:16].replace('T', ' ')} · {e['moderator_id']} · {escape(e['action'])}"
            f" · {escape(e['target'] or '–')}{detail}"
        )
    return "\n".join(lines)


def export_caption() -> str:
    return _("Export: Stimmen und Impulse, nur mit Pseudonymen.")


def backlog_growing(count: int, minutes: int) -> str:
    return _(
        "⚠️ Der Bot kommt nicht hinterher: {count} Nachrichten warten, die älteste seit "
        "{minutes} Minuten, und es werden mehr. Bitte sagen Sie dem Betrieb Bescheid."
    ).format(count=count, minutes=minutes)
