"""What a digest says: the export's figures, a chart that matches them, Telegram's limits,
escaped impulses (approved ones only, nothing about their authors), and quiet periods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from io import BytesIO

import pytest
from matplotlib.image import imread

from bot.app.config import Topic
from bot.app.services import Services
from bot.digest.chart import ChartRow, chart_layout
from bot.digest.text import visible_length
from bot.domain.digest_figures import DigestContent
from bot.emulator.server import BotApiEmulator, utf16_len
from bot.ops.export import snapshot
from tests.digest_support import (
    MAY_18_1800,
    DigestHarness,
    decide,
    dh,
    digest_harness,
    digest_rows,
    figures_of,
)

__all__ = ["dh"]  # the fixture

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SENTENCE = "Mehr Busse am Abend, sichere Radwege & <b>Bänke</b> an jeder Haltestelle im Revier. "


async def _first_period_skipped(dh: DigestHarness) -> None:
    await dh.tick(MAY_18_1800 - 6 * 60 * MINUTE)


async def test_figures_equal_the_export_at_the_same_moment(dh: DigestHarness) -> None:
    await _first_period_skipped(dh)
    for topics in (["mobilitaet", "bildung"], ["mobilitaet"], ["bildung", "sport", "gruen"]):
        await dh.seed(topics, at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800)
    exported = await snapshot(dh.settings, dh.database, MAY_18_1800)
    figures = figures_of((await digest_rows(dh.database))[-1])

    assert figures["participants"] == exported["participants"] == 3
    assert [(t["id"], t["votes"], t["rank"]) for t in figures["topics"]] == [
        (t["id"], t["votes"], t["rank"]) for t in exported["topics"]
    ]
    for mine, theirs in zip(figures["topics"], exported["topics"], strict=True):
        assert round(mine["share"], 6) == theirs["share"]


async def test_the_chart_is_a_png_whose_bars_are_the_standings(dh: DigestHarness) -> None:
    await _first_period_skipped(dh)
    for topics in (["mobilitaet", "bildung"], ["mobilitaet"], ["lehrkraefte", "mobilitaet"]):
        await dh.seed(topics, at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800)
    [photo] = dh.photos()
    assert photo.photo is not None and photo.photo.startswith(PNG_SIGNATURE)
    height, width, _ = imread(BytesIO(photo.photo), format="png").shape
    assert width == 1080 and height > 1000  # 19 bars, phone width

    row = (await digest_rows(dh.database))[-1]
    assert row.content is not None
    chart = DigestContent.from_json(row.content).chart
    assert chart is not None
    layout = chart_layout([ChartRow(*r) for r in chart.rows])
    standings = await Services.build(dh.settings, dh.database).participation.standings()
    title_of = dh.settings.consultation.title_of
    expected = sorted(
        ((title_of(t.topic_id), t.share) for t in standings.topics), key=lambda x: (-x[1], x[0])
    )
    assert [(label, length) for label, length, _ in layout] == expected
    assert layout[0][:2] == ("Mobilität & ÖPNV", 1.0)
    assert layout[1][2] == "33 %"


@pytest.fixture
async def twenty(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[DigestHarness]:
    """A consultation with 20 topics whose titles use all 30 characters allowed."""
    titles = [f"Langes Thema Nummer {n:02d} im Revier"[:30].ljust(30, "x") for n in range(1, 21)]
    topics = tuple(Topic(id=f"t{n:02d}", title=t) for n, t in enumerate(titles, start=1))
    async for harness in digest_harness(emulator, database_url, MAY_18_1800 - DAY):
        consultation = replace(harness.settings.consultation, topics=topics, translations={})
        harness.bot.settings = harness.settings.with_overrides(consultation=consultation)
        await harness.bot.restart()
        yield harness


async def test_twenty_long_topics_and_long_impulses_stay_within_telegrams_limits(
    twenty: DigestHarness,
) -> None:
    dh = twenty
    await _first_period_skipped(dh)
    ids = [f"t{n:02d}" for n in range(1, 21)]
    long_impulse = (SENTENCE * 12)[:1000]
    for n in range(20):
        chosen = [ids[n], ids[(n * 7 + 3) % 20], ids[(n * 3 + 11) % 20]]
        chosen = list(dict.fromkeys(chosen))
        impulse = await dh.seed(chosen, at=MAY_18_1800 - 60 * MINUTE, impulse=long_impulse)
        assert impulse is not None
        await decide(dh.database, impulse, "approved", MAY_18_1800 - 30 * MINUTE)
    await dh.tick(MAY_18_1800)

    posts = dh.posts()
    assert [p.kind for p in posts] == ["photo", "text"]
    assert all(call.status == 200 for call in dh.emulator.api_calls)  # the strict emulator agreed
    caption, rest = posts[0], posts[1:]
    assert utf16_len(caption.text) <= 1024 and visible_length(caption.raw_text) <= 1024
    assert all(utf16_len(p.text) <= 4096 for p in rest)
    assert "Jetzt mitmachen: https://t.me/dialogbot_demo_bot?start=digest" in caption.text
    assert "… und 17 weitere." in rest[-1].text
    quotes = [q for p in rest for q in p.text.split("\n") if q.startswith("Mehr Busse")]
    assert len(quotes) == 3
    for quote in quotes:  # cut at a word, with an ellipsis
        assert quote.endswith("…")
        kept = quote[:-1].rstrip()
        assert long_impulse.startswith(kept) and long_impulse[len(kept)] == " "
    row = (await digest_rows(dh.database))[-1]
    assert row.content is not None
    chart = DigestContent.from_json(row.content).chart
    assert chart is not None and len(chart.rows) == 20


async def test_impulses_are_escaped_approved_only_and_anonymous(dh: DigestHarness) -> None:
    await _first_period_skipped(dh)
    at = MAY_18_1800 - 60 * MINUTE
    texts = {
        "approved": "<b>&</b> Schattenplätze an Haltestellen",
        "pending": "NOCH-NICHT-GEPRUEFT an Haltestellen",
        "rejected": "ABGELEHNT wegen Beleidigung hier",
        "removed": "ZURUECKGEZOGEN nach Veröffentlichung",
    }
    for status, text in texts.items():
        impulse = await dh.seed(["gruen"], at=at, impulse=text, source="flyer_geheim")
        assert impulse is not None
        if status != "pending":
            await decide(dh.database, impulse, status, at + MINUTE)
    await dh.tick(MAY_18_1800)

    [post] = dh.posts()
    caption = post.caption or ""
    assert "<b>&</b> Schattenplätze an Haltestellen" in caption  # shown as typed...
    assert "&lt;b&gt;&amp;&lt;/b&gt; Schattenplätze" in post.raw_text  # ...because escaped
    bold = [caption[e["offset"] : e["offset"] + e["length"]] for e in post.entities]
    assert "&" not in bold
    for hidden in ("NOCH-NICHT", "ABGELEHNT", "ZURUECKGEZOGEN", "flyer_geheim", "p0"):
        assert hidden not in post.raw_text


async def test_a_quiet_period_posts_nothing_by_default(dh: DigestHarness) -> None:
    await _first_period_skipped(dh)
    await dh.seed(["sport"], at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800)
    await dh.tick(MAY_18_1800 + DAY)
    assert len(dh.posts()) == 1
    assert [r.status for r in await digest_rows(dh.database)] == ["skipped", "sent", "skipped"]


async def test_a_quiet_period_posts_a_short_note_when_configured(
    emulator: BotApiEmulator, database_url: str
) -> None:
    start = MAY_18_1800 - DAY
    async for h in digest_harness(emulator, database_url, start, digest_when_unchanged="short"):
        await h.seed(["sport"], at=MAY_18_1800 - 60 * MINUTE)
        await h.tick(MAY_18_1800)
        await h.tick(MAY_18_1800 + DAY)
        photo, note = h.posts()
        assert (photo.kind, note.kind) == ("photo", "text")
        assert "keine neuen Teilnahmen" in note.text
        assert "Teilnehmende bisher: 1" in note.text
        assert "?start=digest" in note.text


async def test_participants_per_channel_only_when_the_web_has_any(dh: DigestHarness) -> None:
    await _first_period_skipped(dh)
    await dh.seed(["sport"], at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800)
    # Telegram only: the caption reads as before, without a split.
    caption = dh.photos()[0].caption or ""
    assert "Teilnehmende: 1" in caption and "Web-Chat" not in caption
    await dh.seed(["sport", "bildung"], at=MAY_18_1800 + 60 * MINUTE)
    await dh.seed(["bildung"], at=MAY_18_1800 + 61 * MINUTE, channel="web")
    await dh.tick(MAY_18_1800 + DAY)
    caption = dh.photos()[-1].caption or ""
    assert "Teilnehmende: 3" in caption
    assert "Telegram: 2 · Web-Chat: 1" in caption
    figures = figures_of((await digest_rows(dh.database))[-1])
    assert figures["channels"] == {"telegram": 2, "web": 1}


async def test_the_channel_language_is_configurable(
    emulator: BotApiEmulator, database_url: str
) -> None:
    async for h in digest_harness(emulator, database_url, MAY_18_1800, digest_locale="en"):
        await h.seed(["mobilitaet"], at=MAY_18_1800 - 60 * MINUTE)
        await h.tick(MAY_18_1800)
        caption = h.photos()[0].caption or ""
        assert "Dialogue on the Ruhr Conference" in caption
        assert "Mobility & public transport" in caption
        assert "18 May 2026" in caption or "May 18, 2026" in caption


async def test_tied_topics_share_a_rank_as_in_stats(dh: DigestHarness) -> None:
    await _first_period_skipped(dh)
    for topics in (["mobilitaet", "bildung"], ["mobilitaet", "sport"], ["mobilitaet", "gruen"]):
        await dh.seed(topics, at=MAY_18_1800 - 60 * MINUTE)
    await dh.tick(MAY_18_1800)
    caption = dh.photos()[0].caption or ""
    assert "1. Mobilität & ÖPNV: 100 %" in caption
    ranks = [line.split(".")[0] for line in caption.splitlines() if "33 %" in line]
    assert ranks == ["2", "2", "2"], caption
