"""Opinion groups wired in: two planted camps and one idea both agree with, rated through the
storage layer; /stats and the digest show them through the bot (docs/ratings.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from matplotlib.image import imread
from sqlalchemy import update

from bot.app import digest_command as command
from bot.domain.consensus import RatingMatrix
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.participation import Citizen
from bot.emulator.server import BotApiEmulator
from storage.models import Participant
from storage.ratings import SqlConsensusSource, SqlRatingRepository
from storage.repository import SqlParticipationRepository
from tests.digest_support import MAY_18_1800, DigestHarness, decide, digest_harness
from tests.test_consensus import planted

MOD = 900_001
MOD_EN = 900_002  # a moderator whose Telegram speaks English
MINUTE = timedelta(minutes=1)
CONSENSUS = "Mehr Bänke & <b>Schatten</b> an allen Haltestellen im Revier."
CAMP_A, CAMP_B = 12, 8


@pytest.fixture
async def gh(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[DigestHarness]:
    emulator.user(MOD, first_name="Moderation")
    emulator.user(MOD_EN, first_name="Morgan", language_code="en")
    async for harness in digest_harness(
        emulator,
        database_url,
        MAY_18_1800 - 6 * 60 * MINUTE,
        moderators=frozenset({MOD, MOD_EN}),
    ):
        yield harness


async def plant_two_camps(dh: DigestHarness, at: datetime) -> int:
    """Ten divisive ideas (camp A agrees with the first five and rejects the others, camp B the
    opposite) and one both camps agree with; returns the consensus idea's id."""
    ids = []
    for n in range(11):
        text = CONSENSUS if n == 10 else f"Streitfrage Nummer {n} für das ganze Ruhrgebiet."
        impulse = await dh.seed(["mobilitaet"], at=at, impulse=text)
        assert impulse is not None
        await decide(dh.database, impulse, "approved", at)
        ids.append(impulse)
    people = SqlParticipationRepository(dh.database)
    ratings = SqlRatingRepository(dh.database)
    for person in range(CAMP_A + CAMP_B):
        pseudonym = f"rater{person:03d}"
        await people.register(Citizen(pseudonym, 60_000 + person, "de"), source=None, now=at)
        in_a = person < CAMP_A
        for n, impulse in enumerate(ids[:10]):
            if n == person % 10:
                continue  # everyone skips one, so the camps are not two single points
            side = 1 if n < 5 else -1
            assert await ratings.rate(pseudonym, impulse, side if in_a else -side, at)
        assert await ratings.rate(pseudonym, ids[10], 1, at)
    return ids[10]


async def fresh_groups(dh: DigestHarness) -> None:
    consensus = dh.app.dispatcher["consensus"]
    assert isinstance(consensus, ConsensusCache)
    await consensus.refresh()


async def test_stats_show_the_groups_and_the_consensus_idea(gh: DigestHarness) -> None:
    moderator = gh.citizen(MOD)
    await moderator.send("/stats")
    assert "Noch nicht genug Bewertungen" in moderator.last_text or (
        "Werden gerade berechnet" in moderator.last_text
    )

    consensus_id = await plant_two_camps(gh, MAY_18_1800 - 60 * MINUTE)
    await fresh_groups(gh)
    await moderator.send("/stats")
    [stats] = [m for m in gh.emulator.chat_messages(MOD) if "Meinungsgruppen" in m.text][-1:]
    flowing = " ".join(stats.text.split())  # the lines are broken to fit a phone
    assert "20 Personen mit mindestens 7 Bewertungen" in flowing
    assert "Gruppe 1: 12 · Gruppe 2: 8" in flowing
    consensus, divisive = flowing.split("Konsens", 1)[1].split("Spaltet die Gruppen", 1)
    assert f"#{consensus_id} Mobilität & ÖPNV „Mehr Bänke & <b>Schatten</b>" in consensus
    assert "Streitfrage" not in consensus and "Streitfrage Nummer" in divisive
    assert "&lt;b&gt;" in stats.raw_text  # the citizen's text is escaped
    photo = gh.emulator.chat_messages(MOD)[-1]
    assert photo.kind == "photo" and photo.photo is not None
    height, width, _ = imread(BytesIO(photo.photo), format="png").shape
    assert width == 1080 and height > 600


async def test_stats_lines_fit_a_phone_in_both_moderator_languages(gh: DigestHarness) -> None:
    """Every line of /stats (text and chart caption) at most 32 characters, in de and en."""
    await plant_two_camps(gh, MAY_18_1800 - 60 * MINUTE)
    for _n in range(3):  # a long source name and an idea waiting for review
        await gh.seed(
            ["sport"], at=MAY_18_1800 - 30 * MINUTE, source="plakat_hauptbahnhof_gelsenkirchen_2026"
        )
    await gh.seed(["sport"], at=MAY_18_1800 - 30 * MINUTE, impulse="Noch offen " * 20)
    await fresh_groups(gh)
    for moderator_id, heading in ((MOD, "Statistik"), (MOD_EN, "Statistics")):
        moderator = gh.citizen(moderator_id)
        before = len(gh.emulator.chat_messages(moderator_id))
        await moderator.send("/stats")
        shown = gh.emulator.chat_messages(moderator_id)[before:]
        assert heading in shown[0].text and shown[-1].kind == "photo"
        texts = [m.text if m.kind == "text" else (m.caption or "") for m in shown]
        assert "Mobilität" in texts[0] and "plakat_hauptbahnh" in texts[0]
        too_wide = [line for text in texts for line in text.split("\n") if len(line) > 32]
        assert not too_wide, (moderator_id, too_wide)


async def test_the_digest_says_what_everyone_agrees_on(gh: DigestHarness) -> None:
    await gh.tick(MAY_18_1800 - 6 * 60 * MINUTE)  # the first period: nothing to say yet
    await plant_two_camps(gh, MAY_18_1800 - 60 * MINUTE)
    await fresh_groups(gh)
    await gh.tick(MAY_18_1800)
    text = "\n".join(p.text for p in gh.posts())
    raw = "\n".join(p.raw_text for p in gh.posts())
    section = text.split("Worauf sich alle einigen", 1)[1]
    assert "Mobilität & ÖPNV\nMehr Bänke & <b>Schatten</b> an allen Haltestellen" in section
    assert "Streitfrage" not in section
    assert "(20 Personen), bildet 2 Meinungsgruppen" in section
    assert "&lt;b&gt;Schatten" in raw


async def test_no_section_without_groups(gh: DigestHarness) -> None:
    await gh.tick(MAY_18_1800 - 6 * 60 * MINUTE)
    await gh.seed(["mobilitaet"], at=MAY_18_1800 - 60 * MINUTE)
    await fresh_groups(gh)
    await gh.tick(MAY_18_1800)
    assert gh.posts() and all("Worauf sich alle einigen" not in p.text for p in gh.posts())


class Gate:
    """A matrix source that answers only when the test lets it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.calls = 0

    async def rating_matrix(self) -> RatingMatrix:
        self.calls += 1
        await self.open.wait()
        return planted()

    async def impulses(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        return {i: ("mobilitaet", f"Idee {i}") for i in ids}


async def test_the_groups_are_computed_in_the_background_and_cached() -> None:
    now = MAY_18_1800
    source = Gate()
    cache = ConsensusCache(source, lambda: now, refresh_minutes=10)
    assert cache.latest() is None and not cache.computed  # the caller does not wait
    await asyncio.sleep(0)  # the refresh starts and waits for its matrix
    assert cache.latest() is None and source.calls == 1  # one refresh at a time
    source.open.set()
    view = await cache.refresh()  # joins the refresh already running
    assert view is not None and view.sizes == (40, 20)
    assert [i.impulse_id for i in view.consensus] == [99]
    assert cache.latest() is view and source.calls == 1  # cached for ten minutes
    now += 10 * MINUTE - MINUTE
    assert cache.latest() is view
    await asyncio.sleep(0)  # a refresh started by it would have asked for its matrix by now
    assert source.calls == 1  # nine minutes on: not due yet
    now += MINUTE
    assert cache.latest() is view  # still answers at once, while refreshing
    assert await cache.refresh() is not None and source.calls == 2
    await cache.close()


async def test_the_matrix_query_counts_in_the_database(gh: DigestHarness) -> None:
    """Its three filters: active participants, approved ideas, at least 7 ratings of approved
    ideas each. Each one has a participant or an idea planted that only it keeps out."""
    at = MAY_18_1800 - 60 * MINUTE
    await plant_two_camps(gh, at)
    approved = list(range(1, 11))  # the camps' divisive ideas (plant_two_camps made 1 to 11)
    withdrawn = await gh.seed(["mobilitaet"], at=at, impulse="Eine Idee, die zurückgezogen wird.")
    assert withdrawn is not None
    await decide(gh.database, withdrawn, "approved", at)
    people, ratings = SqlParticipationRepository(gh.database), SqlRatingRepository(gh.database)
    plan = {
        "blocked": approved[:9],  # nine ratings, but blocked
        "six": [*approved[:6], withdrawn],  # seven ratings, one of them of a withdrawn idea
        "seven": approved[:7],  # exactly seven: counted
    }
    for n, (pseudonym, ideas) in enumerate(plan.items()):
        await people.register(Citizen(pseudonym, 70_000 + n, "de"), source=None, now=at)
        for impulse in ideas:
            assert await ratings.rate(pseudonym, impulse, 1, at)
    await decide(gh.database, withdrawn, "removed", at)
    async with gh.database.transaction() as session:
        await session.execute(
            update(Participant).where(Participant.pseudonym == "blocked").values(status="blocked")
        )

    matrix = await SqlConsensusSource(gh.database).rating_matrix()
    assert matrix is not None
    camps = CAMP_A + CAMP_B
    assert len(matrix.participants) == camps + 1  # the camps and "seven"
    assert len(matrix.impulses) == 11 and withdrawn not in matrix.impulses
    assert len(matrix.values) == camps * 10 + 7
    assert await SqlConsensusSource(gh.database).rating_matrix(min_ratings=11) is None


async def test_the_dry_run_writes_the_second_chart_next_to_the_first(
    gh: DigestHarness, tmp_path: Path
) -> None:
    await plant_two_camps(gh, MAY_18_1800 - 60 * MINUTE)
    paths = await command.dry_run(gh.settings.with_overrides(token=None), tmp_path, gh.clock)
    assert [p.name.endswith(".png") for p in paths] == [True, True, False]
    second = paths[1]
    assert second.name.endswith("-meinungsgruppen.png") and second.parent == paths[0].parent
    assert imread(second, format="png").shape[1] == 1080
    assert second.read_bytes() != paths[0].read_bytes()  # its own chart, not the first again
    assert "Worauf sich alle einigen" in paths[2].read_text(encoding="utf-8")
