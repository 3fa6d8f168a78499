"""The digest chart: topic shares as ranked horizontal bars, sized for a phone screen.

Uses Figure + FigureCanvasAgg directly (no pyplot), so no global backend or figure
registry is touched and rendering is safe in a long-running server. matplotlib (about 30 MB) is
imported with the first chart, in the worker thread that draws it, not at start
(bot/domain/lazy.py).
"""

from __future__ import annotations

import math
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO
from typing import TYPE_CHECKING

from bot.domain.lazy import importing
from bot.telegram.i18n import format_share

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation

MAX_ROWS = 20
LABEL_WIDTH = 28  # characters per label line, two lines at most
# Matplotlib's font and text caches are shared by all figures and not thread-safe; charts are
# rendered in worker threads (asyncio.to_thread), one at a time (also the opinion chart).
RENDERING = threading.Lock()

_DPI = 100
_WIDTH_PX = 1080  # full width of a phone screen in Telegram's photo viewer
_PAD_PX = 40
_ROW_PX = 100  # fits a two-line label
_TITLE_PX, _SUBTITLE_PX, _LABEL_PX, _TICK_PX = 48, 32, 32, 26
_GAP_PT = 8  # between bar end, percentage and trend
_MIN_BARS_PX = 260  # labels never squeeze the bars below this

_BAR = "#2F6DB5"
_TEXT = "#1A1A1A"
_MUTED = "#5F5F5F"
_UP, _DOWN = "#007A5E", "#B8420B"  # bluish green / vermilion; the arrows carry the meaning


@dataclass(frozen=True)
class ChartRow:
    label: str
    share: float  # 0..1; shares add up to more than 1 (several picks per participant)
    previous_share: float | None  # None: topic not in the previous digest


@dataclass(frozen=True)
class _Bar:
    label: str  # wrapped for display
    length: float
    percent: str
    trend: str
    trend_colour: str

    @property
    def annotation(self) -> str:
        return f"{self.percent} {self.trend}".rstrip()


def chart_layout(rows: Sequence[ChartRow]) -> list[tuple[str, float, str]]:
    """(display label, bar length = share, annotation) per bar, top bar first."""
    return [(bar.label, bar.length, bar.annotation) for bar in _bars(rows)]


def render_chart(
    rows: Sequence[ChartRow], *, title: str, subtitle: str, share_axis_label: str
) -> bytes:
    """PNG of the ranked shares; identical input gives identical bytes."""
    with importing():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

    bars = _bars(rows)
    fig = Figure(figsize=(_WIDTH_PX / _DPI, 1), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)  # attaches itself to fig; measuring text needs it
    title = _wrap(fig, title, _TITLE_PX, bold=True)
    subtitle = _wrap(fig, subtitle, _SUBTITLE_PX)
    header_px = _PAD_PX + _lines(title) * _TITLE_PX * 1.25 + _lines(subtitle) * _SUBTITLE_PX * 1.3
    plot_px = len(bars) * _ROW_PX
    bottom_px = 130  # tick labels and axis label
    height_px = round(header_px + 30 + plot_px + bottom_px)
    fig.set_size_inches(_WIDTH_PX / _DPI, height_px / _DPI)
    _draw_header(fig, title, subtitle, height_px)
    _draw_bars(fig, bars, (bottom_px, plot_px, height_px))
    fig.axes[0].set_xlabel(share_axis_label, fontsize=_pt(_TICK_PX), color=_MUTED, labelpad=12)

    buffer = BytesIO()
    # No "Software" text chunk: keeps the bytes independent of the matplotlib version.
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def format_percent(share: float, locale: str = "de") -> str:
    """In the locale's style: "38 %" (de), "38%" (en), one decimal below 10 % ("4,5 %")."""
    percent = _percent(share)
    if percent == 0:
        return format_share(0, locale)
    tenths = percent.quantize(Decimal("0.1"), ROUND_HALF_UP)
    if tenths >= 10:
        return format_share(_round(percent), locale)
    return format_share(tenths, locale, decimals=1)


def format_change(share: float, previous: float | None) -> str:
    """Change in percentage points, "+3", "−2", "±0", or "" without a previous value."""
    if previous is None:
        return ""
    # Difference of the rounded percentages, so it matches the numbers readers saw.
    change = _round(_percent(share)) - _round(_percent(previous))
    if change == 0:
        return "±0"
    return f"+{change}" if change > 0 else f"−{-change}"


def _bars(rows: Sequence[ChartRow]) -> list[_Bar]:
    if not 1 <= len(rows) <= MAX_ROWS:
        raise ValueError(f"chart needs 1 to {MAX_ROWS} rows, got {len(rows)}")
    ranked = sorted(rows, key=lambda row: (-row.share, row.label))
    return [_bar(row) for row in ranked]


def _bar(row: ChartRow) -> _Bar:
    _check_share(row.share, row.label)
    if row.previous_share is not None:
        _check_share(row.previous_share, row.label)
    change = format_change(row.share, row.previous_share)
    arrow, colour = {"+": ("▲", _UP), "−": ("▼", _DOWN)}.get(change[:1], ("", _MUTED))
    return _Bar(
        label="\n".join(textwrap.wrap(row.label, LABEL_WIDTH, max_lines=2, placeholder=" …")),
        length=row.share,
        percent=format_percent(row.share),
        trend=f"{arrow} {change}".strip(),
        trend_colour=colour,
    )


def _check_share(share: float, label: str) -> None:
    if not (math.isfinite(share) and 0 <= share <= 1):
        raise ValueError(f"share of {label!r} must be within 0..1, got {share!r}")


def _percent(share: float) -> Decimal:
    return Decimal(repr(float(share))) * 100  # repr: 0.145 stays 14.5, not 14.4999…


def _round(percent: Decimal) -> int:
    return int(percent.quantize(Decimal(1), ROUND_HALF_UP))


def _pt(px: float) -> float:
    return px * 72 / _DPI


def _lines(text: str) -> int:
    return len(text.splitlines())


def _draw_header(fig: Figure, title: str, subtitle: str, height_px: int) -> None:
    x = _PAD_PX / _WIDTH_PX
    top = 1 - _PAD_PX / height_px
    fig.text(x, top, title, fontsize=_pt(_TITLE_PX), fontweight="bold", color=_TEXT, va="top")
    below = top - _lines(title) * _TITLE_PX * 1.25 / height_px
    fig.text(x, below, subtitle, fontsize=_pt(_SUBTITLE_PX), color=_MUTED, va="top")


def _draw_bars(fig: Figure, bars: Sequence[_Bar], heights: tuple[int, int, int]) -> None:
    bottom_px, plot_px, height_px = heights
    label_px = max(_text_px(fig, bar.label, _LABEL_PX) for bar in bars) + 16
    notes_px = [_annotation_px(fig, bar) for bar in bars]
    left_px = min(_PAD_PX + label_px, _WIDTH_PX - _PAD_PX - _MIN_BARS_PX - max(notes_px))
    width_px = _WIDTH_PX - left_px - _PAD_PX
    ax = fig.add_axes(
        (left_px / _WIDTH_PX, bottom_px / height_px, width_px / _WIDTH_PX, plot_px / height_px)
    )
    positions = range(len(bars))
    ax.barh(positions, [bar.length for bar in bars], height=0.66, color=_BAR)
    ax.set_yticks(positions, [bar.label for bar in bars], fontsize=_pt(_LABEL_PX), color=_TEXT)
    ax.set_ylim(len(bars) - 0.5, -0.5)  # first bar on top
    ax.set_xlim(0, _axis_end(bars, notes_px, width_px))
    _style_axes(ax)
    for position, bar in zip(positions, bars, strict=True):
        _annotate(ax, position, bar)


def _axis_end(bars: Sequence[_Bar], notes_px: Sequence[float], width_px: float) -> float:
    """Smallest axis end at which every bar plus its annotation fits into the plot."""
    # bar_px + note_px <= width_px with bar_px = length / end * width_px; 5 % keeps a
    # chart of zeros from collapsing the axis.
    return max(
        max(bar.length, 0.05) * width_px / (width_px - note)
        for bar, note in zip(bars, notes_px, strict=True)
    )


def _style_axes(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator  # loaded with matplotlib.figure

    ax.tick_params(axis="y", length=0, pad=12)
    ax.tick_params(axis="x", labelsize=_pt(_TICK_PX), colors=_MUTED, length=0, pad=8)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _tick(value)))
    ax.grid(axis="x", color="#DDDDDD", linewidth=1.5)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color("#BBBBBB")


def _tick(value: float) -> str:
    percent = round(value * 100, 1)
    return f"{percent:.0f} %" if percent.is_integer() else f"{percent:.1f} %".replace(".", ",")


def _annotate(ax: Axes, position: int, bar: _Bar) -> None:
    percent: Annotation = ax.annotate(
        bar.percent,
        xy=(bar.length, position),
        xytext=(_GAP_PT, 0),
        textcoords="offset points",
        va="center",
        fontsize=_pt(_LABEL_PX),
        fontweight="bold",
        color=_TEXT,
    )
    if bar.trend:
        ax.annotate(
            bar.trend,
            xy=(1, 0.5),
            xycoords=percent,  # right after the percentage, whatever its width
            xytext=(_GAP_PT, 0),
            textcoords="offset points",
            va="center",
            fontsize=_pt(_LABEL_PX),
            color=bar.trend_colour,
        )


def _annotation_px(fig: Figure, bar: _Bar) -> float:
    gap_px = _GAP_PT * _DPI / 72
    trend_px = _text_px(fig, bar.trend, _LABEL_PX) + gap_px if bar.trend else 0.0
    return gap_px + _text_px(fig, bar.percent, _LABEL_PX, bold=True) + trend_px + 8


def _wrap(fig: Figure, text: str, size_px: float, *, bold: bool = False) -> str:
    """Wrap at the longest line length whose lines all fit the image width."""
    room = _WIDTH_PX - 2 * _PAD_PX
    for width in range(60, 10, -2):
        lines = textwrap.wrap(text, width)
        if all(_text_px(fig, line, size_px, bold=bold) <= room for line in lines):
            break
    return "\n".join(lines)


def _text_px(fig: Figure, text: str, size_px: float, *, bold: bool = False) -> float:
    """Rendered width in pixels, measured rather than guessed."""
    weight = "bold" if bold else "normal"
    probe = fig.text(0, 0, text, fontsize=_pt(size_px), fontweight=weight)
    width = float(probe.get_window_extent().width)
    probe.remove()
    return width
