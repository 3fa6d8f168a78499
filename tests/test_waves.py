"""Waves of new accounts: /stats shows new participants by hour and source; a moderator sets a
source's window aside (/welle, after a preview) so that it stops counting, and restores it
(/wellen). Through the emulator, with the digest's own figures and the rating counts."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from bot.domain.participation import Citizen as Person
from bot.domain.participation import ImpulseDraft, Submission
from bot.domain.waves import WaveProblem, WaveWindow, parse_wave, stats_since
from bot.emulator.server import BotApiEmulator
from storage.db import Database
from storage.models import AuditEntry, Impulse, Participant, Wave
from storage.ratings import SqlRatingRepository
from storage.repository import SqlParticipationRepository
from tests.digest_support import (
    MAY_18_1800,
    DigestHarness,
    decide,
    digest_harness,
)
from tests.harness import Citizen

MOD = 900_001
BERLIN = ZoneInfo("Europe/Berlin")
NOW = MAY_18_1800 - timedelta(hours=6)  # 12:00 in Berlin
AT_1105 = datetime(2026, 5, 18, 9, 5, tzinfo=UTC)  # 11:05 in Berlin
INTEGRATION, FOERDERBANK = "integration", "foerderbank"


@pytest.fixture
async def wh(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[DigestHarness]:
    emulator.user(MOD, first_name="Moderation")  # the moderator has opened the bot once
    async for harness in digest_harness(emulator, database_url, NOW, moderators=frozenset({MOD})):
        yield harness


async def join(
    database: Database,
    name: str,
    source: str | None,
    at: datetime,
    topic: str,
    impulse: str | None = None,
) -> int | None:
    """A person who consented through `source` at `at` and voted for `topic`."""
    person = Person(pseudonym=name, chat_id=50_000 + sum(map(ord, name)), locale="de")
    repo = SqlParticipationRepository(database)
    await repo.register(person, source=source, now=at)
    draft = ImpulseDraft(text=impulse, topic_id=topic) if impulse else None
    submission = Submission(topics=(topic,), impulse=draft, draft_key=f"d-{name}")
    return await repo.save_submission(person, submission, impulse_status="pending", now=at)


async def seed_wave(database: Database) -> int:
    """Three accounts from "tiktok" between 11:05 and 11:20 (the wave), one from "tiktok" at
    10:30 and two from "flyer" at 11:10 and 11:15 (not in it). Everyone but its author rates
    the flyer person's published idea but wave3. Returns that idea's id."""
    minute = timedelta(minutes=1)
    published = await join(
        database, "flyer1", "flyer", AT_1105 + 5 * minute, INTEGRATION, "Mehr Radwege bauen"
    )
    assert published is not None
    await decide(database, published, "approved", AT_1105 + 6 * minute)
    await join(database, "flyer2", "flyer", AT_1105 + 10 * minute, FOERDERBANK)
    await join(database, "early", "tiktok", AT_1105 - 35 * minute, INTEGRATION)
    await join(database, "wave1", "tiktok", AT_1105, INTEGRATION, "Alles nur für Autos")
    await join(database, "wave2", "tiktok", AT_1105 + 5 * minute, INTEGRATION)
    await join(database, "wave3", "tiktok", AT_1105 + 15 * minute, INTEGRATION)
    ratings = SqlRatingRepository(database)
    for name in ("flyer2", "early", "wave1", "wave2"):
        assert await ratings.rate(name, published, -1, AT_1105 + 20 * minute)
    return published


async def digest_figures(h: DigestHarness) -> dict[str, object]:
    """What the digest would report now: the figures its composer gets (the same facts a
    posted digest stores; the charts are not rendered, to keep the test light)."""
    h.clock.set(h.clock.now + timedelta(minutes=1))
    facts, _content = await h.app.dispatcher["digests"].compose_now(h.clock.now)
    figures: dict[str, object] = json.loads(facts.figures.to_json())
    return figures


def text_of(person: Citizen, message_id: int) -> str:
    return next(m.text for m in person.user.messages if m.message_id == message_id)


def votes(figures: dict[str, object]) -> dict[str, int]:
    topics = figures["topics"]
    assert isinstance(topics, list)
    return {t["id"]: t["votes"] for t in topics if t["votes"]}


async def rating_counts(database: Database) -> list[tuple[int, int, int]]:
    """Each impulse's maintained rating count next to a full recount of active ratings."""
    recount = text(
        "SELECT i.id, i.rating_count, (SELECT count(*) FROM ratings r JOIN participants p"
        " ON p.id = r.participant_id WHERE r.impulse_id = i.id AND p.status = 'active')"
        " FROM impulses i ORDER BY i.id"
    )
    async with database.reading() as session:
        return [(int(a), int(b), int(c)) for a, b, c in await session.execute(recount)]


async def audit_actions(database: Database) -> list[tuple[str, str | None]]:
    async with database.reading() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.target)
            .where(AuditEntry.action.like("wave%"))
            .order_by(AuditEntry.id)
        )
        return [(a, t) for a, t in rows]


async def test_a_wave_set_aside_stops_counting_and_counts_again_when_restored(
    wh: DigestHarness,
) -> None:
    published = await seed_wave(wh.database)
    moderator = wh.citizen(MOD)
    before = await digest_figures(wh)
    assert (before["participants"], before["new_participants"]) == (6, 6)
    assert votes(before) == {INTEGRATION: 5, FOERDERBANK: 1}
    assert [(i, n) for i, n, _ in await rating_counts(wh.database)] == [(published, 4), (2, 0)]

    await moderator.send("/welle tiktok 11:00 11:30")
    proposal = moderator.user.last_message
    preview = proposal.text
    assert "tiktok" in preview and "18.05. 11:00 bis 18.05. 11:30" in preview
    assert "3 Personen" in preview and "1 Impuls " in preview
    assert moderator.buttons() == ["Beiseitelegen", "Abbrechen"]
    set_aside = proposal.buttons[0].callback_data
    # Only a preview so far: everyone still counts.
    assert votes(await digest_figures(wh)) == {INTEGRATION: 5, FOERDERBANK: 1}

    await moderator.press("Beiseitelegen", message_id=proposal.message_id)
    assert "Welle #1" in text_of(moderator, proposal.message_id)
    after = await digest_figures(wh)
    # The wave's three are gone from the standings and the digest; the others are unchanged.
    assert (after["participants"], after["new_participants"]) == (3, 3)
    assert votes(after) == {INTEGRATION: 2, FOERDERBANK: 1}
    counts = await rating_counts(wh.database)
    assert [(i, n) for i, n, _ in counts] == [(published, 2), (2, 0)]
    assert all(kept == recounted for _, kept, recounted in counts)
    # A rating while set aside is kept but does not count, until the wave is restored.
    assert await SqlRatingRepository(wh.database).rate("wave3", published, 1, wh.clock.now)
    counts = await rating_counts(wh.database)
    assert [(i, n) for i, n, _ in counts] == [(published, 2), (2, 0)]
    assert all(kept == recounted for _, kept, recounted in counts)
    # Their idea is kept, not deleted.
    async with wh.database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Impulse)) == 2

    await moderator.send("/wellen")
    listing = moderator.user.last_message
    assert "#1" in listing.text and "beiseitegelegt" in listing.text
    restore = listing.buttons[0].callback_data
    await moderator.press("↩️ Welle #1 wiederherstellen", message_id=listing.message_id)
    assert "wiederhergestellt" in text_of(moderator, listing.message_id)
    restored = await digest_figures(wh)
    assert (restored["participants"], restored["new_participants"]) == (6, 6)
    assert votes(restored) == {INTEGRATION: 5, FOERDERBANK: 1}
    counts = await rating_counts(wh.database)
    assert [(i, n) for i, n, _ in counts] == [(published, 5), (2, 0)]
    assert all(kept == recounted for _, kept, recounted in counts)

    assert await audit_actions(wh.database) == [
        ("wave_set_aside", "wave:1"),
        ("wave_restore", "wave:1"),
    ]
    # The buttons are gone; a second tap (a stale client) changes nothing: the first one won.
    assert text_of(moderator, listing.message_id) and not listing.buttons
    for message_id, data in ((listing.message_id, restore), (proposal.message_id, set_aside)):
        assert data is not None
        await moderator.do(partial(moderator.user.press_data, message_id, data))
    assert len(await audit_actions(wh.database)) == 2
    assert votes(await digest_figures(wh)) == {INTEGRATION: 5, FOERDERBANK: 1}


async def test_cancelled_preview_and_a_blocked_member_stay_as_they_were(
    wh: DigestHarness,
) -> None:
    """Abbrechen sets nothing aside; a member blocked before the wave is still blocked after
    it is restored, and an unblock while the wave is set aside does not make them count."""
    await seed_wave(wh.database)
    moderator = wh.citizen(MOD)
    await moderator.send("/welle tiktok 11:00 11:30")
    await moderator.press("Abbrechen")
    assert "Nichts beiseitegelegt" in moderator.last_text
    assert (await digest_figures(wh))["participants"] == 6
    assert await audit_actions(wh.database) == []

    await moderator.send("/block 2")  # wave1's idea
    await moderator.send("/welle tiktok 11:00 11:30")
    await moderator.press("Beiseitelegen")
    assert (await digest_figures(wh))["participants"] == 3
    await moderator.send("/unblock 2")
    assert (await digest_figures(wh))["participants"] == 3  # still set aside
    await moderator.send("/block 2")
    await moderator.send("/wellen")
    await moderator.press("↩️ Welle #2 wiederherstellen")
    assert (await digest_figures(wh))["participants"] == 5  # wave1 is still blocked
    assert all(kept == recounted for _, kept, recounted in await rating_counts(wh.database))
    async with wh.database.reading() as session:
        statuses = dict(
            (await session.execute(select(Participant.pseudonym, Participant.status))).all()
        )
    assert statuses["wave1"] == "blocked"
    assert {statuses[n] for n in ("wave2", "wave3", "early", "flyer1")} == {"active"}


async def test_citizens_cannot_set_a_wave_aside(
    wh: DigestHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_wave(wh.database)
    moderator, citizen = wh.citizen(MOD), wh.citizen(4711)
    await citizen.send("/start")
    await moderator.send("/welle tiktok 11:00 11:30")  # a proposal is waiting
    proposal = moderator.user.last_message
    with caplog.at_level(logging.WARNING, logger="bot.telegram.middlewares"):
        for command in ("/welle tiktok 11:00 11:30", "/wave tiktok 11:00 jetzt", "/wellen"):
            await citizen.send(command)
            assert "Welle" not in citizen.last_text
        for button in proposal.buttons:
            assert button.callback_data is not None
            citizen.user.press_data(citizen.user.last_message.message_id, button.callback_data)
            await wh.settle()
        restore = proposal.buttons[0].callback_data.replace(":s", ":r")  # forged
        citizen.user.press_data(citizen.user.last_message.message_id, restore)
        await wh.settle()
    refused = [r.getMessage() for r in caplog.records if "moderator-only" in r.getMessage()]
    assert len(refused) == 6, refused
    async with wh.database.reading() as session:
        waves = (await session.execute(select(Wave.id, Wave.state))).all()
    assert waves == [(1, "proposed")]
    assert (await digest_figures(wh))["participants"] == 6
    assert await audit_actions(wh.database) == []


async def test_stats_shows_new_participants_by_hour_and_by_source(wh: DigestHarness) -> None:
    await seed_wave(wh.database)
    moderator = wh.citizen(MOD)
    await moderator.send("/stats")
    shown = next(m for m in reversed(moderator.user.messages) if "Neu in 24 Stunden" in m.text)
    lines = shown.text.splitlines()
    assert "Neu in 24 Stunden: 6" in lines[0]
    hours = [line for line in lines if line[:2].isdigit() and line[2:6] == ":00 "]
    assert len(hours) == 24 and hours[0].startswith("13:00") and hours[-1].startswith("12:00")
    counts = {line[:5]: int(line[6:11]) for line in hours}
    assert counts["10:00"] == 1 and counts["11:00"] == 5
    assert sum(counts.values()) == 6
    assert any(line.split() == ["tiktok", "4"] for line in lines)
    assert any(line.split() == ["flyer", "2"] for line in lines)
    assert max(len(line) for line in lines if "<" not in line) <= 32


def test_the_window_is_read_in_the_consultations_time_zone() -> None:
    now = NOW
    assert parse_wave("tiktok 11:00 11:30", now, BERLIN) == WaveWindow(
        "tiktok",
        datetime(2026, 5, 18, 9, 0, tzinfo=UTC),
        datetime(2026, 5, 18, 9, 30, tzinfo=UTC),
    )
    window = parse_wave("tiktok 17.05. 23:00 18.05.2026 01:00", now, BERLIN)
    assert isinstance(window, WaveWindow)
    assert (window.start, window.end) == (
        datetime(2026, 5, 17, 21, 0, tzinfo=UTC),
        datetime(2026, 5, 17, 23, 0, tzinfo=UTC),
    )
    # An end in the future, or "jetzt", ends the window now.
    assert parse_wave("tiktok 11:00 23:00", now, BERLIN) == parse_wave(
        "tiktok 11:00 jetzt", now, BERLIN
    )
    assert parse_wave("tiktok 11:00 jetzt", now, BERLIN).end == now  # type: ignore[union-attr]
    for args, problem in [
        ("", WaveProblem.USAGE),
        ("tiktok 11:00", WaveProblem.USAGE),
        ("tiktok 11:00 11:30 12:00", WaveProblem.USAGE),
        ("tik/tok 11:00 11:30", WaveProblem.SOURCE),
        ("tiktok 25:00 11:30", WaveProblem.TIME),
        ("tiktok 31.02. 11:00 11:30", WaveProblem.TIME),
        ("tiktok 11:30 11:00", WaveProblem.ORDER),
        ("tiktok 13:00 jetzt", WaveProblem.ORDER),
    ]:
        assert parse_wave(args, now, BERLIN) == problem, args
    assert stats_since(now, BERLIN) == datetime(2026, 5, 17, 13, 0, tzinfo=BERLIN)
