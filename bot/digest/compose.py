"""From facts to a digest: Telegram HTML parts within the limits, and the chart. No SQL.

Layout: the chart is posted with a caption (period, participants, top topics, invitation).
When the quoted impulses fit as well, everything is that one caption; otherwise they follow as
messages, split cleanly at 4096 visible characters. When there are opinion groups, a second
chart (agreement per group, bot.digest.opinion_chart) follows last, with a short caption.
Texts are gettext'ed (German source) in the channel's locale, which this module enters itself:
a digest is not an update, so no i18n middleware has set a context.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.digest.chart import (
    MAX_ROWS,
    RENDERING,
    ChartRow,
    format_change,
    format_percent,
    render_chart,
)
from bot.digest.opinion_chart import opinion_chart_spec
from bot.digest.text import split_html, truncate_html, visible_length
from bot.domain.digest_figures import (
    ChartSpec,
    DigestContent,
    DigestFacts,
    DigestFigures,
    OpinionChartSpec,
)
from bot.domain.settings import Consultation
from bot.telegram.i18n import format_moment, format_number

CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096
TOP_TOPICS = 5
CONSENSUS_QUOTES = 3
IMPULSE_CHARS = 400  # a quote, not the whole impulse: the channel post stays readable
_ARROWS = {"+": "▲ ", "−": "▼ "}


class DigestComposer:
    def __init__(
        self, consultation: Consultation, i18n: I18n, *, locale: str, timezone: str
    ) -> None:
        self._consultation = consultation
        self._i18n = i18n
        self._locale = locale
        self._zone = ZoneInfo(timezone)

    def compose(self, facts: DigestFacts) -> DigestContent:
        with self._i18n.context(), self._i18n.use_locale(self._locale):
            if facts.short:
                return DigestContent(chart=None, parts=(self._short(facts),))
            parts = self._parts(facts)
            opinions = self._opinions(facts)
            if opinions is not None:
                parts = (*parts, self._opinion_caption())
            return DigestContent(chart=self._chart(facts), parts=parts, opinions=opinions)

    # -- texts ---------------------------------------------------------------

    def _short(self, facts: DigestFacts) -> str:
        news = _("Seit dem letzten Digest gab es keine neuen Teilnahmen.")
        total = _("Teilnehmende bisher: <b>{total}</b>").format(
            total=self._number(facts.figures.participants)
        )
        split = self._by_channel(facts.figures)
        return _join(self._header(facts), f"{news} {total}{split}", self._invitation(facts))

    def _parts(self, facts: DigestFacts) -> tuple[str, ...]:
        head = [self._header(facts), self._participants(facts), self._topics(facts)]
        invitation = self._invitation(facts)
        quotes = _join(self._impulses(facts), self._consensus(facts))
        whole = _join(*head, quotes, invitation)
        if visible_length(whole) <= CAPTION_LIMIT:
            return (whole,)
        room = CAPTION_LIMIT - visible_length(invitation) - 2  # 2: the paragraph break
        caption = _join(truncate_html(_join(*head), room), invitation)
        return (caption, *(split_html(quotes, MESSAGE_LIMIT) if quotes else ()))

    def _header(self, facts: DigestFacts) -> str:
        title = escape(self._consultation_title(), quote=False)
        period = f"{self._moment(facts.start)} – {self._moment(facts.end)}"
        return f"<b>📊 {title}</b>\n{period}"

    def _participants(self, facts: DigestFacts) -> str:
        figures = facts.figures
        new = (
            _("davon <b>{new}</b> neu seit dem letzten Digest")
            if facts.previous is not None
            else _("davon <b>{new}</b> neu in diesem Zeitraum")
        )
        total = self._number(figures.participants)
        line = _("👥 Teilnehmende: <b>{total}</b>").format(total=total)
        line = f"{line}, {new.format(new=self._number(figures.new_participants))}"
        return line + self._by_channel(figures)

    def _by_channel(self, figures: DigestFigures) -> str:
        """A line with the split by channel, only when the web chat has participants."""
        web = figures.in_channel("web")
        if not web:
            return ""
        split = _("Telegram: <b>{telegram}</b> · Web-Chat: <b>{web}</b>").format(
            telegram=self._number(figures.in_channel("telegram")), web=self._number(web)
        )
        return f"\n{split}"

    def _topics(self, facts: DigestFacts) -> str:
        chosen = [t for t in facts.figures.topics if t.votes > 0][:TOP_TOPICS]
        if not chosen:
            return _("Noch hat niemand ein Thema gewählt.")
        heading = _("Die wichtigsten Themen")  # outside the f-string: pybabel must see it
        lines = [f"<b>{heading}</b>"]
        for topic in chosen:  # ties share a rank, as in /stats and /ergebnis
            title = escape(self._title(topic.topic_id), quote=False)
            trend = _trend(topic.share, _previous_share(facts.previous, topic.topic_id))
            share = format_percent(topic.share, self._locale)
            lines.append(f"{topic.rank}. {title}: <b>{share}</b> {trend}")
        legend = _("Anteil der Teilnehmenden, die das Thema gewählt haben (mehrere möglich)")
        if facts.previous is not None:
            legend += _("; Veränderung in Prozentpunkten seit dem letzten Digest")
        lines.append(f"<i>{legend}.</i>")
        return "\n".join(line.rstrip() for line in lines)

    def _impulses(self, facts: DigestFacts) -> str:
        if not facts.impulses:
            return ""
        heading = _("Neu veröffentlichte Impulse")
        blocks = [f"💡 <b>{heading}</b>"]
        for impulse in facts.impulses:
            topic = escape(self._title(impulse.topic_id), quote=False)
            text = truncate_html(escape(impulse.text.strip(), quote=False), IMPULSE_CHARS)
            blocks.append(f"<blockquote><i>{topic}</i>\n{text}</blockquote>")
        more = facts.figures.approved_impulses - len(facts.impulses)
        if more > 0:
            blocks.append(_("… und {count} weitere.").format(count=self._number(more)))
        return "\n".join(blocks)

    def _consensus(self, facts: DigestFacts) -> str:
        """Up to three impulses every opinion group agrees with (docs/ratings.md)."""
        view = facts.consensus
        if view is None or not view.consensus:
            return ""
        heading = _("Worauf sich alle einigen")
        blocks = [f"🤝 <b>{heading}</b>"]
        for impulse in view.consensus[:CONSENSUS_QUOTES]:
            topic = escape(self._title(impulse.topic_id), quote=False)
            text = truncate_html(escape(impulse.text.strip(), quote=False), IMPULSE_CHARS)
            blocks.append(f"<blockquote><i>{topic}</i>\n{text}</blockquote>")
        legend = _(
            "Wer genug Ideen bewertet hat ({participants} Personen), bildet {groups} "
            "Meinungsgruppen; diesen Ideen stimmt jede Gruppe mehrheitlich zu."
        ).format(participants=self._number(view.participants), groups=self._number(len(view.sizes)))
        blocks.append(f"<i>{legend}</i>")
        return "\n".join(blocks)

    def _invitation(self, facts: DigestFacts) -> str:
        return _("👉 Jetzt mitmachen: {link}").format(link=escape(facts.link, quote=False))

    # -- chart ---------------------------------------------------------------

    def _chart(self, facts: DigestFacts) -> ChartSpec:
        topics = facts.figures.topics[:MAX_ROWS]
        rows = tuple(
            (
                self._title(t.topic_id),
                t.share,
                _previous_share(facts.previous, t.topic_id),
            )
            for t in topics
        )
        subtitle = _("{total} Teilnehmende, mehrere Themen je Person · Stand: {moment}").format(
            total=self._number(facts.figures.participants), moment=self._moment(facts.end)
        )
        return ChartSpec(
            title=self._consultation_title(),
            subtitle=subtitle,
            # Short: the label is centred under the bars and must not run off the image.
            axis_label=_("Anteil der Teilnehmenden"),
            rows=rows,
        )

    def _opinions(self, facts: DigestFacts) -> OpinionChartSpec | None:
        """The second chart, when there are opinion groups with something to show."""
        if facts.consensus is None:
            return None
        return opinion_chart_spec(facts.consensus, self._title)

    def _opinion_caption(self) -> str:
        heading = _("Meinungsgruppen")
        legend = _(
            "Wie viel Prozent jeder Meinungsgruppe den Ideen zustimmen: oben, worauf sich alle "
            "einigen; darunter, was die Gruppen spaltet."
        )
        return f"🧭 <b>{heading}</b>\n{legend}"

    # -- formatting ----------------------------------------------------------

    def _consultation_title(self) -> str:
        return self._consultation.text_for(self._locale).title

    def _title(self, topic_id: str) -> str:
        return self._consultation.title_of(topic_id, self._locale)

    def _number(self, value: int) -> str:
        return format_number(value, self._locale)

    def _moment(self, moment: datetime) -> str:
        return format_moment(moment, self._zone, self._locale)


# Matplotlib's font and text caches are shared by all figures and not thread-safe; charts are
# rendered in worker threads (asyncio.to_thread), one at a time.
_RENDERING = RENDERING  # defined in bot.digest.chart, shared with bot.digest.opinion_chart


def render_png(chart: ChartSpec) -> bytes:
    """The chart as PNG (deterministic: a retry uploads the same bytes)."""
    rows = [ChartRow(label, share, previous) for label, share, previous in chart.rows]
    with _RENDERING:
        return render_chart(
            rows, title=chart.title, subtitle=chart.subtitle, share_axis_label=chart.axis_label
        )


def _previous_share(previous: DigestFigures | None, topic_id: str) -> float | None:
    return previous.share_of(topic_id) if previous is not None else None


def _trend(share: float, previous: float | None) -> str:
    change = format_change(share, previous)
    return f"{_ARROWS.get(change[:1], '')}{change}"


def _join(*sections: str) -> str:
    return "\n\n".join(s for s in sections if s)
