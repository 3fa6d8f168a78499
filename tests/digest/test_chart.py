import subprocess
import sys
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from bot.digest.chart import (
    LABEL_WIDTH,
    MAX_ROWS,
    ChartRow,
    chart_layout,
    format_change,
    format_percent,
    render_chart,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXTS = {
    "title": "Was ist Ihnen wichtig?",
    "subtitle": "1.284 Teilnehmende",
    "share_axis_label": "Anteil",
}

ROWS = [
    ChartRow("Lehrkräfte gewinnen", 0.21, 0.25),
    ChartRow("Mobilität & ÖPNV", 0.38, 0.35),
    ChartRow("Heimat Ruhr: Wohnen & Leben", 0.045, None),
    ChartRow("Talentschulen & Bildung", 0.30, 0.30),
]


def decode(png: bytes) -> np.ndarray:
    return np.asarray(imread(BytesIO(png), format="png"))


# chart_layout


def test_layout_bars_equal_shares_sorted_descending() -> None:
    layout = chart_layout(ROWS)
    assert [label for label, _, _ in layout] == [
        "Mobilität & ÖPNV",
        "Talentschulen & Bildung",
        "Lehrkräfte gewinnen",
        "Heimat Ruhr: Wohnen & Leben",
    ]
    assert [length for _, length, _ in layout] == [0.38, 0.30, 0.21, 0.045]


def test_layout_annotations_show_percent_and_trend() -> None:
    assert [note for _, _, note in chart_layout(ROWS)] == [
        "38 % ▲ +3",
        "30 % ±0",
        "21 % ▼ −4",
        "4,5 %",
    ]


def test_layout_ties_are_ordered_by_label() -> None:
    rows = [ChartRow("b", 0.2, None), ChartRow("a", 0.2, None), ChartRow("c", 0.3, None)]
    assert [label for label, _, _ in chart_layout(rows)] == ["c", "a", "b"]
    assert chart_layout(rows) == chart_layout(list(reversed(rows)))


def test_layout_wraps_long_labels_to_two_lines() -> None:
    label = "Jugendbeteiligung und Demokratiebildung an allen weiterführenden Schulen im Land"
    ((wrapped, _, _),) = chart_layout([ChartRow(label, 0.5, None)])
    lines = wrapped.split("\n")
    assert len(lines) == 2
    assert all(len(line) <= LABEL_WIDTH for line in lines)
    assert lines[0] == "Jugendbeteiligung und"
    assert lines[1].endswith("…")


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.38, "38 %"),
        (0.385, "39 %"),
        (0.145, "15 %"),
        (0.1, "10 %"),
        (0.0996, "10 %"),
        (0.045, "4,5 %"),
        (0.0949, "9,5 %"),
        (0.05, "5,0 %"),
        (0.0, "0 %"),
        (1.0, "100 %"),
    ],
)
def test_format_percent(share: float, text: str) -> None:
    assert format_percent(share) == text


@pytest.mark.parametrize(
    ("share", "previous", "text"),
    [
        (0.38, 0.35, "+3"),
        (0.33, 0.35, "−2"),
        (0.35, 0.35, "±0"),
        (0.384, 0.376, "±0"),  # both shown as 38 %
        (0.384, 0.356, "+2"),  # shown as 38 % and 36 %: the change matches what readers saw
        (0.5, 0.0, "+50"),
        (0.35, None, ""),
    ],
)
def test_format_change(share: float, previous: float | None, text: str) -> None:
    assert format_change(share, previous) == text


def test_change_sign_and_arrow_agree() -> None:
    for _, length, note in chart_layout(ROWS):
        if "+" in note:
            assert "▲" in note and "▼" not in note
        elif "−" in note:
            assert "▼" in note and "▲" not in note
        else:
            assert "▲" not in note and "▼" not in note
        assert length >= 0


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [ChartRow(f"T{i}", 0.1, None) for i in range(MAX_ROWS + 1)],
        [ChartRow("x", 1.5, None)],
        [ChartRow("x", -0.1, None)],
        [ChartRow("x", float("nan"), None)],
        [ChartRow("x", 0.5, 2.0)],
    ],
    ids=["empty", "too-many", "above-1", "negative", "nan", "bad-previous"],
)
def test_invalid_rows_raise(rows: list[ChartRow]) -> None:
    with pytest.raises(ValueError):
        chart_layout(rows)


# render_chart


@pytest.fixture(scope="module")
def png() -> bytes:
    return render_chart(ROWS, **TEXTS)


def test_png_signature(png: bytes) -> None:
    assert png.startswith(PNG_SIGNATURE)


def test_png_is_phone_width(png: bytes) -> None:
    height, width = decode(png).shape[:2]
    assert width >= 1000
    assert height >= 600


def test_png_is_not_blank(png: bytes) -> None:
    pixels = decode(png)[..., :3]
    assert pixels.std() > 0.05
    dark = (pixels.max(axis=2) < 0.3).mean()  # text
    blue = ((pixels[..., 2] > 0.55) & (pixels[..., 0] < 0.35)).mean()  # bars
    assert dark > 0.002 and blue > 0.02


def test_longest_bar_is_drawn_longest(png: bytes) -> None:
    pixels = decode(png)[..., :3]
    is_bar = (pixels[..., 2] > 0.55) & (pixels[..., 0] < 0.35) & (pixels[..., 1] < 0.55)
    widths = [int(row.sum()) for row in is_bar if row.sum() > 5]
    assert widths[0] == max(widths)  # top bar (38 %) is the widest
    assert min(widths) / max(widths) == pytest.approx(0.045 / 0.38, abs=0.02)


def test_same_data_gives_identical_bytes(png: bytes) -> None:
    assert render_chart(ROWS, **TEXTS) == png
    assert render_chart(list(reversed(ROWS)), **TEXTS) == png


def test_png_has_no_version_dependent_metadata(png: bytes) -> None:
    assert b"Software" not in png and b"matplotlib" not in png


def test_different_data_gives_different_bytes(png: bytes) -> None:
    changed = [ChartRow("Lehrkräfte gewinnen", 0.22, 0.25), *ROWS[1:]]
    assert render_chart(changed, **TEXTS) != png


def test_twenty_long_rows_render_without_missing_glyphs() -> None:
    rows = [
        ChartRow(
            f"Thema {n}: Mobilität, Wohnen & Leben im Quartier mit sehr langem Titel",
            n / 40,
            None if n % 3 == 0 else (n + (n % 5) - 2) / 40,
        )
        for n in range(MAX_ROWS)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Glyph ... missing from font"
        png = render_chart(
            rows,
            title="Zwischenstand der Beteiligung: Welche Themen sind Ihnen besonders wichtig?",
            subtitle="Bis zu drei Themen je Person, daher zusammen über 100 %",
            share_axis_label="Anteil der Teilnehmenden",
        )
    pixels = decode(png)
    assert png.startswith(PNG_SIGNATURE)
    assert pixels.shape[1] >= 1000
    assert pixels.shape[0] > 20 * 80  # every row keeps its height


def test_all_zero_shares_render() -> None:
    png = render_chart([ChartRow("a", 0.0, 0.1), ChartRow("b", 0.0, None)], **TEXTS)
    assert png.startswith(PNG_SIGNATURE)


def test_render_does_not_import_pyplot() -> None:
    code = (
        "import sys\n"
        "from bot.digest.chart import ChartRow, render_chart\n"
        "render_chart([ChartRow('a', 0.5, None)], title='t', subtitle='s', share_axis_label='x')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=120)
