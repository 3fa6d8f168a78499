"""The second chart in the channel digest: with opinion groups the digest ends with
the opinion chart as a photo, composed once and stored, so a retry posts the same image and
never repeats the parts Telegram already accepted (docs/ratings.md, docs/digests.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from io import BytesIO

from matplotlib.image import imread

from bot.app.digest_wiring import digest_ports
from bot.app.services import Services
from bot.digest.compose import CAPTION_LIMIT
from bot.digest.opinion_chart import render_opinion_chart
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.digest_figures import DigestContent, OpinionChartSpec, OpinionRow
from bot.domain.digests import DigestService, PostOutcome, Publisher
from bot.emulator.server import BotApiEmulator
from tests.digest_support import MAY_18_1800, DigestHarness, digest_rows
from tests.harness import FAST_RETRY
from tests.test_opinion_groups import MINUTE, MOD, fresh_groups, gh, plant_two_camps

__all__ = ["gh"]  # the fixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECOND = MINUTE / 60
SESSION_TRIES = FAST_RETRY.attempts  # the bot's session retries a failed call itself first


async def _groups_planted(gh: DigestHarness) -> None:
    await gh.tick(MAY_18_1800 - 6 * 60 * MINUTE)  # the first period: nothing to say yet
    await plant_two_camps(gh, MAY_18_1800 - 60 * MINUTE)
    await fresh_groups(gh)


async def _stored_content(gh: DigestHarness) -> DigestContent:
    row = (await digest_rows(gh.database))[-1]
    assert row.content is not None
    return DigestContent.from_json(row.content)


def _png_width(png: bytes | None) -> int:
    assert png is not None and png.startswith(PNG_SIGNATURE)
    return int(imread(BytesIO(png), format="png").shape[1])


async def test_with_opinion_groups_the_digest_ends_with_the_second_chart(
    gh: DigestHarness,
) -> None:
    await _groups_planted(gh)
    await gh.tick(MAY_18_1800)
    first, second = gh.photos()
    assert gh.posts()[0] == first and gh.posts()[-1] == second  # the opinion chart comes last
    assert _png_width(first.photo) == 1080 and _png_width(second.photo) == 1080
    assert first.photo != second.photo
    assert "Worauf sich alle einigen" in "\n".join(p.text for p in gh.posts())
    assert "Meinungsgruppen" in second.text and "was die Gruppen spaltet" in second.text
    assert all(len(p.text) <= CAPTION_LIMIT for p in (first, second))

    content = await _stored_content(gh)
    assert content.opinions is not None and content.opinion_part == len(content.parts) - 1
    assert content.opinions.group_labels == ("Gruppe 1 (12)", "Gruppe 2 (8)")
    assert render_opinion_chart(content.opinions) == second.photo  # rendered from the stored spec
    row = (await digest_rows(gh.database))[-1]
    assert row.status == "sent"
    assert json.loads(row.message_ids) == [p.message_id for p in gh.posts()]


async def test_without_opinion_groups_the_digest_has_one_photo(gh: DigestHarness) -> None:
    await gh.tick(MAY_18_1800 - 6 * 60 * MINUTE)
    await gh.seed(["mobilitaet"], at=MAY_18_1800 - 60 * MINUTE)
    await fresh_groups(gh)
    await gh.tick(MAY_18_1800)
    assert len(gh.photos()) == 1 and gh.posts()[0].kind == "photo"
    assert all("Meinungsgruppen" not in p.text for p in gh.posts())
    assert (await _stored_content(gh)).opinions is None


async def test_the_moderators_preview_shows_both_charts_and_posts_exactly_them(
    gh: DigestHarness,
) -> None:
    await _groups_planted(gh)
    moderator = gh.citizen(MOD)
    await moderator.send("/digest")
    preview = [m for m in moderator.user.messages if m.kind == "photo"]
    assert len(preview) == 2 and preview[1].button_texts == ["📣 Jetzt im Kanal veröffentlichen"]
    await moderator.press("Jetzt im Kanal veröffentlichen")
    assert [p.photo for p in gh.photos()] == [p.photo for p in preview]


class FailsFromTheSecondPhoto:
    """The real channel, but Telegram answers 502 to the second photo (every session retry)."""

    def __init__(self, real: Publisher, emulator: BotApiEmulator) -> None:
        self._real = real
        self._emulator = emulator
        self.photos = 0

    async def send_photo(self, png: bytes, caption: str) -> int:
        self.photos += 1
        if self.photos == 2:
            self._emulator.inject_fault("sendPhoto", status=502, times=SESSION_TRIES)
        return await self._real.send_photo(png, caption)

    async def send_text(self, html: str) -> int:
        return await self._real.send_text(html)


async def test_a_failed_second_chart_is_retried_without_repeating_the_first(
    gh: DigestHarness,
) -> None:
    await _groups_planted(gh)
    consensus = gh.app.dispatcher["consensus"]
    assert isinstance(consensus, ConsensusCache)
    standings = Services.build(gh.settings, gh.database).participation
    ports = digest_ports(gh.settings, gh.database, gh.app.i18n, standings, gh.app.bot)
    assert ports.publisher is not None
    failing = FailsFromTheSecondPhoto(ports.publisher, gh.emulator)
    other = DigestService(replace(ports, publisher=failing, consensus=consensus.latest), "other")

    assert await other.run_due(MAY_18_1800) == [PostOutcome.RETRYING]
    [first] = gh.photos()
    statuses = [c.status for c in gh.emulator.calls_to("sendPhoto")]
    assert statuses == [200] + [502] * SESSION_TRIES
    row = (await digest_rows(gh.database))[-1]
    content = await _stored_content(gh)
    assert row.status == "sending" and len(json.loads(row.message_ids)) == len(content.parts) - 1

    await gh.tick(MAY_18_1800 + 5 * SECOND)  # the first backoff; the bot's own service retries
    photos = gh.photos()
    assert len(photos) == 2 and photos[0] == first
    assert [c.status for c in gh.emulator.calls_to("sendPhoto")][-1] == 200
    assert len(gh.emulator.calls_to("sendPhoto")) == SESSION_TRIES + 2  # the first went once
    assert content.opinions is not None
    assert photos[1].photo == render_opinion_chart(content.opinions)
    row = (await digest_rows(gh.database))[-1]
    assert row.status == "sent" and json.loads(row.message_ids) == [
        p.message_id for p in gh.posts()
    ]


def test_the_content_round_trips_and_old_rows_still_load() -> None:
    spec = OpinionChartSpec(
        title="Zustimmung je Meinungsgruppe",
        section_labels=("Alle einig", "Spaltet die Gruppen"),
        group_labels=("Gruppe 1 (40)", "Gruppe 2 (20)"),
        axis_label="Anteil der Gruppe, der zustimmt",
        consensus=(OpinionRow("#99 Mobilität: Bänke", (0.9, 2 / 3)),),
        divisive=(OpinionRow("#3 Energie: Wind", (0.1, 0.95)),),
    )
    content = DigestContent(chart=None, parts=("a", "b"), opinions=spec)
    assert DigestContent.from_json(content.to_json()) == content
    assert content.opinion_part == 1
    old = DigestContent.from_json(json.dumps({"chart": None, "parts": ["a"]}))
    assert old == DigestContent(chart=None, parts=("a",)) and old.opinion_part is None
