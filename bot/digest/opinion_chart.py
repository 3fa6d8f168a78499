"""The second chart: agreement per impulse and opinion group, for the consensus impulses and
those that divide the groups (docs/ratings.md). Sized for a phone screen like the digest chart;
Figure + FigureCanvasAgg directly, no pyplot; matplotlib is imported with the first chart
(bot/digest/chart.py).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from io import BytesIO

from aiogram.utils.i18n import gettext as _

from bot.digest.chart import RENDERING
from bot.domain.consensus import ConsensusView, RatedImpulse
from bot.domain.digest_figures import OpinionChartSpec, OpinionRow
from bot.domain.lazy import importing

__all__ = ["OpinionChartSpec", "OpinionRow", "opinion_chart_spec", "render_opinion_chart"]

MAX_IMPULSES = 10
LABEL_WIDTH = 24

_DPI = 100
_WIDTH_PX = 1080
_PAD_PX = 40
_TITLE_PX, _LABEL_PX, _TICK_PX = 44, 28, 24
_BAR_PX = 34  # one bar per group
_ROW_GAP_PX = 44
# Colour-blind safe (Okabe–Ito), distinct in grey as well.
_GROUP_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9")
_TEXT, _MUTED = "#1A1A1A", "#5F5F5F"


def render_opinion_chart(spec: OpinionChartSpec) -> bytes:
    """PNG; identical input gives identical bytes. Runs in a worker thread."""
    with RENDERING:
        return _render(spec)


def _render(spec: OpinionChartSpec) -> bytes:
    with importing():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
        from matplotlib.ticker import FixedLocator, FuncFormatter

    groups = len(spec.group_labels)
    rows: list[tuple[str, OpinionRow | None]] = []
    for heading, section in zip(spec.section_labels, (spec.consensus, spec.divisive), strict=True):
        if section:
            rows.append((heading, None))
            rows.extend(("", row) for row in section[:MAX_IMPULSES])
    row_px = [60 if row is None else groups * _BAR_PX + _ROW_GAP_PX for _, row in rows]
    header_px = _PAD_PX + 70 + 50  # title, legend
    bottom_px = 110
    plot_px = max(sum(row_px), 60)
    height_px = header_px + plot_px + bottom_px
    fig = Figure(figsize=(_WIDTH_PX / _DPI, height_px / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)
    fig.text(
        _PAD_PX / _WIDTH_PX,
        1 - _PAD_PX / height_px,
        spec.title,
        fontsize=_pt(_TITLE_PX),
        fontweight="bold",
        color=_TEXT,
        va="top",
    )
    left_px = 430
    ax = fig.add_axes(
        (
            left_px / _WIDTH_PX,
            bottom_px / height_px,
            (_WIDTH_PX - left_px - _PAD_PX - 60) / _WIDTH_PX,
            plot_px / height_px,
        )
    )
    y = 0.0
    ticks: list[float] = []
    labels: list[str] = []
    for (heading, row), size in zip(rows, row_px, strict=True):
        if row is None:
            ax.text(
                -0.02,
                y + size / 2,
                heading,
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="center",
                fontsize=_pt(_LABEL_PX),
                fontweight="bold",
                color=_TEXT,
            )
            y += size
            continue
        top = y + _ROW_GAP_PX / 2
        for g, share in enumerate(row.agree_shares):
            centre = top + (g + 0.5) * _BAR_PX
            ax.barh(
                centre, share, height=_BAR_PX * 0.85, color=_GROUP_COLOURS[g % len(_GROUP_COLOURS)]
            )
            ax.text(
                share + 0.01,
                centre,
                f"{int(share * 100 + 0.5)} %",
                va="center",
                fontsize=_pt(_TICK_PX),
                color=_TEXT,
            )
        ticks.append(top + groups * _BAR_PX / 2)
        labels.append(
            "\n".join(textwrap.wrap(row.label, LABEL_WIDTH, max_lines=2, placeholder=" …"))
        )
        y += size
    ax.set_ylim(max(y, 1.0), 0)
    ax.set_xlim(0, 1.0)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.set_yticklabels(labels, fontsize=_pt(_TICK_PX), color=_TEXT)
    ax.tick_params(axis="y", length=0, pad=10)
    ax.tick_params(axis="x", labelsize=_pt(_TICK_PX), colors=_MUTED, length=0)
    ax.xaxis.set_major_locator(FixedLocator([0, 0.25, 0.5, 0.75, 1.0]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{round(value * 100)} %"))
    ax.grid(axis="x", color="#DDDDDD", linewidth=1.5)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(spec.axis_label, fontsize=_pt(_TICK_PX), color=_MUTED, labelpad=10)
    handles = [Patch(color=_GROUP_COLOURS[g % len(_GROUP_COLOURS)]) for g in range(groups)]
    fig.legend(
        handles,
        list(spec.group_labels),
        loc="upper left",
        bbox_to_anchor=(_PAD_PX / _WIDTH_PX, 1 - (_PAD_PX + 70) / height_px),
        ncols=min(groups, 3),
        frameon=False,
        fontsize=_pt(_TICK_PX),
    )
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _pt(px: float) -> float:
    return px * 72 / _DPI


def opinion_chart_spec(
    view: ConsensusView, title_of: Callable[[str], str]
) -> OpinionChartSpec | None:
    """The chart's texts in the current gettext locale; None when there is nothing to show."""
    if not view.consensus and not view.divisive:
        return None

    def rows(impulses: Sequence[RatedImpulse]) -> tuple[OpinionRow, ...]:
        return tuple(
            OpinionRow(f"#{i.impulse_id} {title_of(i.topic_id)}: {i.text}", i.agree_shares)
            for i in impulses
        )

    return OpinionChartSpec(
        title=_("Zustimmung je Meinungsgruppe"),
        section_labels=(_("Alle einig"), _("Spaltet die Gruppen")),
        group_labels=tuple(
            _("Gruppe {number} ({size})").format(number=n, size=size)
            for n, size in enumerate(view.sizes, start=1)
        ),
        axis_label=_("Anteil der Gruppe, der zustimmt"),
        consensus=rows(view.consensus),
        divisive=rows(view.divisive),
    )
