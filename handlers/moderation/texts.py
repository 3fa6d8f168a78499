"""Moderators' texts (German source; moderator texts are translated to English only)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.consensus import MIN_RATINGS, ConsensusView, RatedImpulse
from bot.domain.digests import PostOutcome
from bot.domain.followup import Summary
from bot.domain.impulse import ImpulseStatus
from bot.domain.moderation import AnswerStatus, ImpulseCard, RejectReason, Stats
from bot.domain.ratings import MergeOutcome, ReportReason
from bot.domain.settings import Settings
from bot.domain.standings import Standings, percent
from bot.domain.waves import STATS_HOURS, Arrivals, WaveProblem, WaveRecord, WaveState, bar
from bot.telegram.i18n import format_moment, format_number, format_share
from handlers.citizen.texts import followup as followup_texts
from handlers.citizen.texts.dialog import topic_title
from handlers.citizen.texts.notices import answer_label, reason_label
from handlers.citizen.texts.ratings import reason_label as report_label

# /stats lines fit a phone held upright: at most this many characters (the <pre> table too).
STATS_WIDTH = 32


def local_time(settings: Settings, moment: datetime) -> str:
    """A moment in the consultation's time zone, written the moderator's way."""
    return format_moment(moment, ZoneInfo(settings.digest_timezone))


def number(value: int) -> str:
    return format_number(value)


def moderator_name(
    moderator_id: int | None,
    names: Mapping[int, str],
    viewer_id: int | None = None,
    *,
    html: bool = True,
) -> str:
    """Who decided, as a moderator reads it: "Ihnen", a first name, never a Telegram id."""
    if moderator_id is None:
        return "–"
    if moderator_id == viewer_id:
        return _("Ihnen")
    name = names.get(moderator_id)
    if not name:
        return _("jemandem aus der Moderation")
    return escape(name) if html else name


def status_label(status: str) -> str:
    labels = {
        ImpulseStatus.PENDING.value: _("wartet auf Prüfung"),
        ImpulseStatus.APPROVED.value: _("veröffentlicht"),
        ImpulseStatus.REJECTED.value: _("abgelehnt"),
        ImpulseStatus.REMOVED.value: _("zurückgezogen"),
        ImpulseStatus.MERGED.value: _("zusammengeführt"),
    }
    return labels.get(status, status)


def erased_card(impulse_id: int) -> str:
    return _("📝 <b>Impuls #{id}</b> · auf Wunsch der Person gelöscht").format(id=impulse_id)


def card(
    settings: Settings,
    impulse: ImpulseCard,
    viewer_id: int | None = None,
    names: Mapping[int, str] | None = None,
) -> str:
    lines = [
        _("📝 <b>Impuls #{id}</b> · {status}").format(
            id=impulse.id, status=status_label(impulse.status)
        ),
        _("Thema: {topic}").format(
            topic=escape(topic_title(settings.consultation, impulse.topic_id))
        ),
        _("Quelle: {source} · {time}").format(
            source=escape(impulse.source or "–"), time=local_time(settings, impulse.created_at)
        ),
        f"<blockquote>{escape(impulse.text)}</blockquote>",
    ]
    if impulse.reports:
        total = sum(n for _reason, n in impulse.reports)
        reasons = ", ".join(
            f"{report_label(ReportReason(reason))} ({n})" for reason, n in impulse.reports
        )
        lines.append(
            ngettext(
                "⚠️ Zurück zur Prüfung nach {count} Meldung: {reasons}",
                "⚠️ Zurück zur Prüfung nach {count} Meldungen: {reasons}",
                total,
            ).format(count=total, reasons=reasons)
        )
    if impulse.decided_by is not None:
        who = moderator_name(impulse.decided_by, names or {}, viewer_id)
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


def already_decided(impulse: ImpulseCard, who: str) -> str:
    return _("Schon entschieden ({status}) von {who}.").format(
        status=status_label(impulse.status), who=who
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


def phase_now(is_open: bool) -> str:
    if is_open:
        return _(
            "Die Beteiligung ist geöffnet: Man kann mitmachen und seine Wahl ändern. "
            "Schließen mit /phase close."
        )
    return _(
        "Die Beteiligung ist geschlossen: Niemand kann mitmachen oder seine Wahl ändern. "
        "Öffnen mit /phase open."
    )


def confirm_close() -> str:
    return _(
        "<b>Die Beteiligung schließen?</b> Danach kann niemand mehr mitmachen, seine Wahl "
        "ändern oder Ideen bewerten. Wer den Bot öffnet, sieht die Ergebnisse. Mit /phase open "
        "geht es wieder auf."
    )


def yes_close() -> str:
    return _("Ja, schließen")


def phase_unchanged() -> str:
    return _("Nicht geschlossen; die Beteiligung bleibt geöffnet.")


def confirm_reject(reason: RejectReason) -> str:
    return _("Ablehnen mit dem Grund „{reason}“? Die Person erfährt den Grund.").format(
        reason=reason_label(reason)
    )


def yes_reject() -> str:
    return _("Ja, ablehnen")


def confirm_take_down() -> str:
    return _("Zurückziehen? Die Idee ist dann nicht mehr öffentlich; die Person erfährt es.")


def reason_line(reason: RejectReason) -> str:
    return _("Grund: {reason}").format(reason=reason_label(reason))


def yes_take_down() -> str:
    return _("Ja, zurückziehen")


def confirm_block(impulse_id: int) -> str:
    return _(
        "Die Person hinter Impuls #{id} sperren? Ihre Stimmen zählen dann nicht mehr "
        "(mit /unblock {id} wieder entsperren)."
    ).format(id=impulse_id)


def yes_block() -> str:
    return _("Ja, sperren")


def block_preview(impulse: ImpulseCard) -> str:
    return "\n\n".join(
        [
            f"<blockquote>{escape(impulse.text)}</blockquote>",
            "<b>" + confirm_block(impulse.id) + "</b>",
        ]
    )


def not_blocked() -> str:
    return _("Nicht gesperrt.")


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


def digest_failing(failures: int) -> str:
    return "\n\n".join(
        [
            _("⚠️ Der Digest konnte nicht veröffentlicht werden."),
            _(
                "Telegram hat ihn {failures}-mal hintereinander nicht angenommen: Telegram oder "
                "die Verbindung dorthin ist gestört. Bitte sagen Sie dem Betrieb Bescheid."
            ).format(failures=failures),
            _("Er bleibt vorgemerkt und wird regelmäßig erneut versucht."),
        ]
    )


def no_channel() -> str:
    return _("Es ist kein Kanal eingerichtet (channel.chat in der Konfiguration).")


def stats(settings: Settings, stats: Stats, standings: Standings) -> str:
    """Every line at most STATS_WIDTH characters: the table does not wrap on a phone."""
    consultation = settings.consultation
    rows = [
        f"{s.rank:>2} {_cut(consultation.title_of(s.topic_id), 16):<16} "
        f"{number(s.votes):>7} {percent(s.share):>3}%"
        for s in standings.topics
    ]
    topic, votes = _cut(_("Thema"), 16), _cut(_("Stimmen"), 7)
    header = f"{'#':>2} {topic:<16} {votes:>7} {'%':>4}"
    by_status = [
        f"· {status_label(status)}: {number(count)}"
        for status, count in sorted(stats.impulses_by_status.items())
    ] or ["–"]
    sources = [
        f"· {escape(_cut(source, 20))}: {number(count)}" for source, count in stats.sources[:15]
    ] or ["–"]
    return "\n".join(
        [
            _("📊 <b>Statistik</b>"),
            _("Teilnehmende: {total}").format(total=number(stats.participants_total)),
            _("heute {today} · 7 Tage {week}").format(
                today=number(stats.participants_today), week=number(stats.participants_week)
            ),
            _("Telegram {telegram} · Web {web}").format(
                telegram=number(stats.channels.get("telegram", 0)),
                web=number(stats.channels.get("web", 0)),
            ),
            "<pre>" + escape("\n".join([header, *rows])) + "</pre>",
            _("Impulse:"),
            *by_status,
            _("Quellen:"),
            *sources,
        ]
    )


def _wrap(text: str) -> str:
    """Prose in /stats, broken at spaces to STATS_WIDTH (HTML tags and entities hold no
    spaces, so none is cut; they only make a line shorter than it is counted)."""
    return "\n".join(
        textwrap.fill(line, STATS_WIDTH, break_long_words=False, break_on_hyphens=False)
        for line in text.split("\n")
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
        return _wrap(f"{heading}\n{note}")
    sizes = " · ".join(
        _("Gruppe {number}: {size}").format(number=n, size=number(size))
        for n, size in enumerate(view.sizes, start=1)
    )
    lines = [
        heading,
        _("{participants} Personen mit mindestens {min} Bewertungen · Stand {time}").format(
            participants=number(view.participants),
            min=MIN_RATINGS,
            time=local_time(settings, view.computed_at),
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
    return _wrap("\n".join(lines))


def opinion_chart_caption() -> str:
    return _wrap(_("Zustimmung je Meinungsgruppe: Konsens und was die Gruppen spaltet"))


def _rated(settings: Settings, impulse: RatedImpulse) -> str:
    """Number and topic, the text, then the shares: three short lines, not one long one."""
    topic = escape(_cut(settings.consultation.title_of(impulse.topic_id), 26))
    shares = " · ".join(format_share(percent(s)) for s in impulse.agree_shares)
    text = escape(_cut(impulse.text, 80))
    return f"#{impulse.impulse_id} <i>{topic}</i>\n„{text}“\n{shares}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def action_label(action: str) -> str:
    """An audit log action in words (bot.domain.moderation logs codes)."""
    labels = {
        "approve": _("freigegeben"),
        "reject": _("abgelehnt"),
        "take_down": _("zurückgezogen"),
        "answer": _("beantwortet"),
        "block": _("Person gesperrt"),
        "unblock": _("Person entsperrt"),
        "phase": _("Phase geändert"),
        "export": _("Daten exportiert"),
        "announce_preview": _("Ankündigung entworfen"),
        "announce": _("im Kanal angekündigt"),
        "merge": _("als Duplikat zusammengeführt"),
    }
    return labels.get(action, action)


def _audit_detail(action: str, detail: str | None) -> str | None:
    if not detail:
        return None
    if action == "reject" and detail in set(RejectReason):
        return reason_label(RejectReason(detail))
    if action == "phase":
        return _("geöffnet") if detail == "open" else _("geschlossen")
    if action == "answer":
        status, _sep, text = detail.partition(": ")
        if status in set(AnswerStatus):
            return answer_label(AnswerStatus(status)) + (f": {text}" if text else "")
    if action == "merge" and detail.startswith("into #"):
        return _("in #{id}").format(id=detail.removeprefix("into #"))
    return detail


def audit(
    settings: Settings,
    entries: list[dict[str, Any]],
    names: Mapping[int, str],
    viewer_id: int,
) -> str:
    """The newest entries: local time, who by name, what in words."""
    if not entries:
        return _("Noch keine Einträge im Protokoll.")
    lines = [_("<b>Protokoll</b> (neueste zuerst)")]
    for e in entries:
        at = local_time(settings, datetime.fromisoformat(e["at"]))
        who = (
            _("Sie")
            if e["moderator_id"] == viewer_id
            else escape(names.get(e["moderator_id"]) or _("jemand aus der Moderation"))
        )
        target = e["target"] or ""
        about = (
            " · " + _("Impuls #{id}").format(id=target.removeprefix("impulse:"))
            if target.startswith("impulse:")
            else (f" · {escape(target)}" if target else "")
        )
        detail = _audit_detail(e["action"], e["detail"])
        shown = f" – {escape(_cut(detail, 80))}" if detail else ""
        lines.append(f"{at} · {who} · {escape(action_label(e['action']))}{about}{shown}")
    return "\n".join(lines)


def export_caption() -> str:
    return _("Export: Stimmen und Impulse, nur mit Pseudonymen.")


def _local(settings: Settings, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(settings.digest_timezone)).strftime("%d.%m. %H:%M")


def arrivals(settings: Settings, seen: Arrivals) -> str:
    """New participants by hour (the last 24) and by source: lines of at most 32 characters,
    for a phone."""
    zone = ZoneInfo(settings.digest_timezone)
    counts = [seen.by_hour.get(i, 0) for i in range(STATS_HOURS)]
    largest = max(counts)
    starts = [(seen.since + timedelta(hours=i)).astimezone(zone) for i in range(STATS_HOURS)]
    hours = [
        f"{start:%H}:00 {n:>5} {bar(n, largest, 20)}".rstrip()
        for start, n in zip(starts, counts, strict=True)
    ]
    sources = [f"{_cut(source or '–', 24):<24} {n:>7}" for source, n in seen.by_source] or ["–"]
    return "\n".join(
        [
            _("🆕 <b>Neu in 24 Stunden: {count}</b>").format(count=sum(counts)),
            _("Je Stunde (Zustimmung):"),
            "<pre>" + escape("\n".join(hours)) + "</pre>",
            _("Je Quelle:"),
            "<pre>" + escape("\n".join(sources)) + "</pre>",
        ]
    )


def wave_problem(problem: WaveProblem) -> str:
    texts = {
        WaveProblem.SOURCE: _(
            "Das ist keine Quelle eines Start-Links (nur Buchstaben, Ziffern, _ und -)."
        ),
        WaveProblem.TIME: _("Diese Zeit verstehe ich nicht. Bitte HH:MM oder TT.MM. HH:MM."),
        WaveProblem.ORDER: _("Das Ende muss nach dem Anfang liegen (und der Anfang vor jetzt)."),
    }
    usage = _(
        "So geht es: /welle flyer_essen 14:00 15:30 (heute) oder "
        "/welle flyer_essen 02.12. 22:00 03.12. 01:00 oder mit „jetzt“ als Ende."
    )
    return usage if problem is WaveProblem.USAGE else f"{texts[problem]}\n{usage}"


def _window(settings: Settings, wave: WaveRecord) -> str:
    return _("Quelle {source}, {start} bis {end}").format(
        source=f"<code>{escape(wave.source)}</code>",
        start=_local(settings, wave.start),
        end=_local(settings, wave.end),
    )


def wave_preview(settings: Settings, wave: WaveRecord) -> str:
    return "\n".join(
        [
            _("<b>Welle beiseitelegen?</b> (noch nicht geschehen)"),
            _window(settings, wave),
            ngettext(
                "{count} Person: ihre Stimmen und Bewertungen zählen dann nicht mehr.",
                "{count} Personen: ihre Stimmen und Bewertungen zählen dann nicht mehr.",
                wave.participants,
            ).format(count=wave.participants),
            ngettext(
                "{count} Impuls von ihnen bleibt erhalten.",
                "{count} Impulse von ihnen bleiben erhalten.",
                wave.impulses,
            ).format(count=wave.impulses),
        ]
    )


def wave_set_aside(wave: WaveRecord) -> str:
    return _("Beiseitegelegt als Welle #{id}. Rückgängig mit /wellen.").format(id=wave.id)


def wave_cancelled() -> str:
    return _("Nichts beiseitegelegt.")


def wave_restored(wave: WaveRecord) -> str:
    return _("Welle #{id} wiederhergestellt: Die Personen darin zählen wieder.").format(id=wave.id)


def wave_gone() -> str:
    return _("Das ist schon erledigt oder nicht mehr aktuell.")


def waves(settings: Settings, listed: list[WaveRecord]) -> str:
    if not listed:
        return _("Es wurde noch keine Welle beiseitegelegt.")
    lines = [_("<b>Wellen</b> (neueste zuerst)")]
    for wave in listed:
        state = _("beiseitegelegt") if wave.state is WaveState.SET_ASIDE else _("wiederhergestellt")
        lines.append(
            f"#{wave.id} · {_window(settings, wave)} · "
            + _("Personen: {count}").format(count=wave.participants)
            + f" · {state}"
        )
    return "\n".join(lines)


def restore_button(wave_id: int) -> str:
    return _("↩️ Welle #{id} wiederherstellen").format(id=wave_id)


def backlog_growing(count: int, minutes: int) -> str:
    return _(
        "⚠️ Der Bot kommt nicht hinterher: {count} Nachrichten warten, die älteste seit "
        "{minutes} Minuten, und es werden mehr. Bitte sagen Sie dem Betrieb Bescheid."
    ).format(count=count, minutes=minutes)


# /digest


def digest_intro(settings: Settings, has_channel: bool) -> str:
    if not has_channel:
        return _(
            "Vorschau des nächsten Digests. Es ist kein Kanal eingerichtet "
            "(<code>[channel] chat</code>), daher kann er nicht veröffentlicht werden."
        )
    return _(
        "Vorschau des nächsten Digests für {channel}: alles seit dem letzten Digest. "
        "Der Knopf veröffentlicht genau diese Fassung."
    ).format(channel=escape(settings.channel_chat or ""))


def digest_outcome(outcome: PostOutcome) -> str:
    texts = {
        PostOutcome.POSTED: _("Der Digest ist im Kanal veröffentlicht."),
        PostOutcome.RETRYING: _(
            "Telegram hat den Digest noch nicht angenommen. Er bleibt vorgemerkt und wird "
            "automatisch erneut gesendet."
        ),
        PostOutcome.IN_PROGRESS: _("Dieser Digest wird gerade veröffentlicht."),
        PostOutcome.ALREADY_POSTED: _("Dieser Digest ist bereits veröffentlicht."),
        PostOutcome.OUTDATED: _(
            "Diese Vorschau ist veraltet: Inzwischen gibt es einen neueren Digest. "
            "Für eine neue Vorschau /digest senden."
        ),
        PostOutcome.NO_CHANNEL: _("Es ist kein Kanal eingerichtet."),
    }
    return texts.get(outcome, _("Diese Vorschau gibt es nicht mehr. Bitte /digest senden."))


# /rueckmeldung


def followup_usage() -> str:
    return _(
        "So geht es: /rueckmeldung und dahinter Ihr Text, was aus der Beteiligung geworden ist. "
        "Er geht an alle, die am Ende darum gebeten haben. Sie sehen vorher eine Vorschau."
    )


def followup_nobody() -> str:
    return _("Noch hat niemand um eine Ergebnis-Nachricht gebeten. Es wurde nichts gesendet.")


def followup_preview(text: str, recipients: int) -> str:
    head = ngettext(
        "<b>Vorschau</b> · Diese Nachricht geht an {count} Person, die darum gebeten hat:",
        "<b>Vorschau</b> · Diese Nachricht geht an {count} Personen, die darum gebeten haben:",
        recipients,
    ).format(count=recipients)
    return f"{head}\n\n{followup_texts.outcome_message(text)}"


def followup_sending(count: int) -> str:
    return ngettext(
        "Wird gesendet an {count} Person. Sie bekommen eine Nachricht, wenn alles raus ist.",
        "Wird gesendet an {count} Personen. Sie bekommen eine Nachricht, wenn alles raus ist.",
        count,
    ).format(count=count)


def followup_not_a_draft() -> str:
    return _("Diese Vorschau ist schon erledigt: gesendet, geändert oder abgebrochen.")


def followup_write_again() -> str:
    return _("Nicht gesendet. Schicken Sie den neuen Text mit /rueckmeldung.")


def followup_cancelled() -> str:
    return _("Abgebrochen. Es wurde nichts gesendet.")


def followup_report(summary: Summary) -> str:
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


# Merging duplicates


def merged(duplicate: int, kept: int, outcome: MergeOutcome) -> str:
    if not outcome.merged:
        return _("#{duplicate} kann nicht mit #{kept} zusammengeführt werden.").format(
            duplicate=duplicate, kept=kept
        )
    return ngettext(
        "#{duplicate} ist jetzt mit #{kept} zusammengeführt; {count} Zustimmung übernommen.",
        "#{duplicate} ist jetzt mit #{kept} zusammengeführt; {count} Zustimmungen übernommen.",
        outcome.carried,
    ).format(duplicate=duplicate, kept=kept, count=outcome.carried)


def merge_question(duplicate: int, kept: int) -> str:
    return _(
        "#{duplicate} mit #{kept} zusammenführen? #{duplicate} ist dann nicht mehr zu sehen; "
        "die Zustimmung dazu zählt für #{kept}. Das lässt sich nicht rückgängig machen."
    ).format(duplicate=duplicate, kept=kept)


def yes_merge() -> str:
    return _("Ja, zusammenführen")


def not_merged() -> str:
    return _("Nicht zusammengeführt.")


def merge_usage() -> str:
    return _("So geht es: /merge 40 12 (führt #40 mit #12 zusammen)")
