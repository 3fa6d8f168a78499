"""The web chat (bot/web/) over HTTP, next to the real bot polling the emulator: the same
rules, the same database, one pool of participants marked with their channel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import cli
from bot.app.web_command import WebServer, make_invites, web_app_for
from bot.domain.clock import system_clock
from bot.ops.export import full_export, snapshot, to_csv, votes_csv
from bot.web.app import build_app
from bot.web.identity import client_address
from storage.db import Database
from storage.models import ConversationState, Impulse, Rating
from storage.web import WebInvites
from tests.harness import ROOT, Harness, RunningBot, make_settings
from tests.web_client import WebCitizen, browser, served

MODERATOR = 777


async def start(emulator: Any, database_url: str, **overrides: Any) -> Harness:
    settings = make_settings(
        emulator.base_url, database_url, moderators=frozenset({MODERATOR}), **overrides
    )
    bot = RunningBot(settings)
    await bot.start()
    emulator.user(MODERATOR, first_name="Moderation")
    return Harness(emulator, bot)


@pytest.fixture
async def h(emulator: Any, database_url: str) -> AsyncIterator[Harness]:
    harness = await start(emulator, database_url)
    try:
        yield harness
    finally:
        await harness.bot.stop()


@pytest.fixture
async def server(h: Harness) -> AsyncIterator[TestServer]:
    assert h.bot.app is not None
    async with served(web_app_for(h.bot.app)) as running:
        yield running


@pytest.fixture
async def person(server: TestServer) -> AsyncIterator[WebCitizen]:
    async with browser(server) as citizen:
        yield citizen


async def test_a_web_answer_counts_next_to_a_telegram_answer(
    h: Harness, person: WebCitizen
) -> None:
    await h.citizen(1001).take_part(["Mobilität", "Bildung"], impulse=None)
    await person.open()
    assert "Mitmachen" in person.page and person.status == 200
    await person.press("consent")
    assert "Themen" in person.now
    await person.press("topics", topic=["gruen", "bildung"])
    await person.press("impulse", impulse="Mehr Trinkbrunnen in den Parks der Innenstadt.")
    await person.press("impulse_topic", topic="gruen")
    assert "Absenden" in person.page and "Trinkbrunnen" in person.now
    await person.press("submit")
    assert "Danke! Ihre Stimme ist gespeichert." in person.page
    assert "Teilnehmende bisher: 2" in person.page
    # No chat to write to later and no /meinvotum: the review is followed under "Meine Wahl".
    assert "sehen Sie unter „Meine Wahl“" in person.page
    assert "Mit /meinvotum" not in person.page and "Wir melden uns" not in person.page

    assert h.bot.app is not None
    data = await full_export(h.settings, h.bot.app.database, system_clock(), [])
    assert data["participants"] == 2
    assert data["participants_by_channel"] == {"telegram": 1, "web": 1}
    channels = {(v["topic"], v["channel"]) for v in data["votes"]}
    assert channels == {
        ("mobilitaet", "telegram"),
        ("bildung", "telegram"),
        ("gruen", "web"),
        ("bildung", "web"),
    }
    votes = votes_csv(data)
    assert ";web" in votes and ";telegram" in votes
    impulses = to_csv(data, "impulses")
    assert "Trinkbrunnen" in impulses and ";web;" in impulses
    # The moderators got the web idea's review card in Telegram, as for any idea.
    await h.settle()
    cards = [m for m in h.emulator.user(MODERATOR).messages if "Trinkbrunnen" in m.text]
    assert cards, "no review card for the web idea"
    # Approving it tells nobody in Telegram (the author has no chat) and publishes it.
    moderator = h.citizen(MODERATOR)
    await moderator.press("Freigeben", message_id=cards[0].message_id)
    data = await full_export(h.settings, h.bot.app.database, system_clock(), [])
    assert [i["status"] for i in data["impulses"]] == ["approved"]
    assert "Trinkbrunnen" in await person.open("/ergebnisse")
    await moderator.send("/stats")
    assert "Telegram 1 · Web 1" in moderator.last_text


async def test_a_restart_in_the_middle_keeps_the_draft(h: Harness) -> None:
    """The place in a half-finished dialog is in the database: the web app started again (or
    a second instance, both on the same database) continues it; erasure takes it away."""
    assert h.bot.app is not None
    async with served(web_app_for(h.bot.app)) as first, browser(first) as before:
        await before.open()
        await before.press("consent")
        await before.press("topics", topic=["gruen", "bildung"])
        await before.press("impulse", impulse="Mehr Trinkbrunnen in den Parks der Innenstadt.")
        assert "passt Ihre Idee" in before.now
        cookies = before.cookies
    # The first server is gone; a new one, with nothing in memory, serves the same browser.
    async with served(web_app_for(h.bot.app)) as second, browser(second, cookies) as after:
        await after.open()
        # Still choosing the idea's topic, the idea and the two topics kept.
        assert 'name="action" value="impulse_topic"' in after.page
        assert "Trinkbrunnen" in after.page
        data = await (await after.client.get("/daten")).json()
        assert data["web_dialog"]["step"] == "impulse_topic"
        assert data["web_dialog"]["selected"] == ["gruen", "bildung"]
        async with served(web_app_for(h.bot.app)) as third, browser(third, cookies) as other:
            await other.open()  # a second instance at the same time, the same place
            await other.press("impulse_topic", topic="gruen")
        await after.open()
        assert "Absenden" in after.page and "Trinkbrunnen" in after.now
        await after.press("submit")
        assert "Danke! Ihre Stimme ist gespeichert." in after.page
        exported = await full_export(h.settings, h.bot.app.database, system_clock(), [])
        assert {v["topic"] for v in exported["votes"]} == {"gruen", "bildung"}
        assert [i["topic"] for i in exported["impulses"]] == ["gruen"]
        await after.open("/loeschen")
        await after.press("erase")
    async with h.bot.app.database.reading() as session:
        keys = (await session.execute(select(ConversationState.key))).scalars().all()
    assert not [k for k in keys if k.startswith("web:")]


async def test_two_instances_share_the_rate_limit_in_redis(
    emulator: Any, database_url: str, redis_url: str
) -> None:
    """With [scaling] redis_url the web chat's buckets are the bot's shared ones: a person
    who spreads their presses over two instances gets the burst once, not once per instance."""
    h = await start(
        emulator,
        database_url,
        redis_url=redis_url,
        # A secret of its own: Redis keys are derived from it, so no other run shares them.
        secret=f"web-rate-limit-test-{uuid.uuid4().hex}",
    )
    try:
        assert h.bot.app is not None
        settings = h.bot.app.settings.with_overrides(
            abuse=replace(h.bot.app.settings.abuse, rate_burst=3, rate_per_minute=1)
        )
        deps = h.bot.app.dependencies
        assert deps is not None
        app = h.bot.app
        # Two instances of the web chat, each with its own limiters (and Redis connections).
        apps = [
            build_app(settings, app.database, deps.services.participation, app.i18n)
            for _ in range(2)
        ]
        async with served(apps[0]) as one, served(apps[1]) as two, browser(one) as first:
            await first.open()
            async with browser(two, first.cookies) as second:
                await first.press("privacy")
                await first.press("welcome")
                await second.open()
                await second.press("privacy")
                assert second.status == 200
                await second.press("welcome")  # the fourth press: over the burst of three
                assert second.status == 429
                assert "Bitte etwas langsamer" in second.page
    finally:
        await h.bot.stop()


async def test_a_forged_form_without_csrf_token_is_refused(h: Harness, person: WebCitizen) -> None:
    await person.open()
    await person.post([("action", "consent")])
    assert person.status == 403
    await person.post([("action", "consent"), ("csrf", "0" * 40)])
    assert person.status == 403
    assert h.bot.app is not None
    assert (await snapshot(h.settings, h.bot.app.database, system_clock()))[
        "participants_by_channel"
    ] == {}
    # A browser without the cookie (another site's form) cannot take part either.
    async with browser(person.server) as stranger:
        await stranger.post([("action", "consent"), ("csrf", person.csrf)])
        assert stranger.status == 403
    await person.press("consent")
    assert person.status == 200 and "Themen" in person.now


async def test_a_second_vote_from_the_same_cookie_is_refused(
    h: Harness, person: WebCitizen
) -> None:
    await person.take_part(["bildung"])
    assert "Danke!" in person.page
    # The submit button of the finished dialog, pressed again with other topics.
    await person.press("topics", topic=["gruen", "heimat"])
    await person.press("submit")
    assert "veraltet" in person.now
    assert h.bot.app is not None
    data = await full_export(h.settings, h.bot.app.database, system_clock(), [])
    assert data["participants"] == 1
    assert [v["topic"] for v in data["votes"]] == ["bildung"]
    # Changing the vote replaces it: still one participant.
    await person.open("/meinvotum")
    await person.press("change")
    await person.press("topics", topic=["gruen"])
    await person.press("skip")
    await person.press("submit")
    data = await full_export(h.settings, h.bot.app.database, system_clock(), [])
    assert data["participants"] == 1
    assert [v["topic"] for v in data["votes"]] == ["gruen"]


async def test_cookie_flags_and_security_headers(person: WebCitizen) -> None:
    response = await person.client.get("/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    page = await response.text()
    # Nothing from elsewhere: every script, style and image is served by the bot itself.
    assert 'src="http' not in page and 'href="http' not in page.split("<main")[0]
    for path in ("/static/chat.js", "/static/chat.css"):
        asset = await person.client.get(path)
        assert asset.status == 200 and "Content-Security-Policy" in asset.headers


async def test_user_text_is_escaped(person: WebCitizen) -> None:
    await person.open()
    await person.press("consent")
    await person.press("topics", topic=["bildung"])
    idea = "<script>alert(1)</script> Schulhöfe am Nachmittag öffnen"
    await person.press("impulse", impulse=idea)
    assert "<script>alert(1)" not in person.page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in person.page


async def test_the_idea_rules_and_the_topic_limit_are_the_bots(person: WebCitizen) -> None:
    await person.open()
    await person.press("consent")
    await person.press("topics", topic=["bildung", "gruen", "heimat", "mobilitaet"])
    assert "Themen" in person.now and "3" in person.now  # at most three, as in Telegram
    await person.press("topics", topic=["bildung"])
    await person.press("impulse", impulse="zu kurz")
    assert "Idee" in person.now and "Absenden" not in person.page


async def test_language_and_leichte_sprache(person: WebCitizen) -> None:
    await person.open()
    assert '<html lang="de">' in person.page
    await person.press("language", locale="en")
    assert '<html lang="en">' in person.page and "Take part" in person.page
    await person.press("language", locale="de_LS")
    assert '<html lang="de">' in person.page and "Leichte Sprache" in person.page


async def test_invite_codes_are_used_once(emulator: Any, database_url: str) -> None:
    h = await start(emulator, database_url)
    settings = h.settings.with_overrides(web=replace(h.settings.web, invite_codes=True))
    h.bot.settings = settings
    await h.bot.restart()
    try:
        codes = await make_invites(settings, 2)
        assert len(set(codes)) == 2
        assert h.bot.app is not None
        async with (
            served(web_app_for(h.bot.app)) as server,
            browser(server) as first,
            browser(server) as second,
        ):
            await first.open()
            await first.press("consent")
            assert "Code" in first.now  # refused without a code
            await first.press("consent", code="AAAA-AAAA")
            assert "Code" in first.now
            await first.press("consent", code=codes[0].lower())
            assert "Themen" in first.now
            await second.open()
            await second.press("consent", code=codes[0])
            assert "Code" in second.now  # used already
            await second.press("consent", code=codes[1])
            assert "Themen" in second.now
    finally:
        await h.bot.stop()


async def test_results_page_with_chart_and_published_ideas(
    emulator: Any, database_url: str
) -> None:
    h = await start(emulator, database_url, moderation_mode="post")
    try:
        assert h.bot.app is not None
        async with served(web_app_for(h.bot.app)) as server, browser(server) as person:
            await person.take_part(["bildung", "gruen"], "Schulhöfe nachmittags für alle öffnen.")
            page = await person.open("/ergebnisse")
            assert person.status == 200
            assert "Schulhöfe nachmittags" in page and 'src="/ergebnisse/chart.png' in page
            assert "im Web: 1" in page
            chart = await person.client.get("/ergebnisse/chart.png")
            assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")
    finally:
        await h.bot.stop()


async def test_own_data_and_erasure(h: Harness, person: WebCitizen) -> None:
    await person.take_part(["bildung"])
    data = await person.client.get("/daten")
    assert data.status == 200 and (await data.json())["channel"] == "web"
    await person.open("/loeschen")
    await person.press("erase")
    assert "gelöscht" in person.page
    assert h.bot.app is not None
    exported = await snapshot(h.settings, h.bot.app.database, system_clock())
    assert exported["participants"] == 0
    # The cookie went with the data: the next visit is a stranger's.
    await person.open()
    assert "Mitmachen" in person.page


def test_forwarded_for_only_from_trusted_proxies() -> None:
    trusted = ["10.0.0.0/8"]
    assert client_address("203.0.113.9", "198.51.100.1", trusted) == "203.0.113.9"
    assert client_address("10.0.0.2", "198.51.100.1", trusted) == "198.51.100.1"
    # What the client wrote before the proxy's own entry is not believed.
    assert client_address("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.3", trusted) == (
        "198.51.100.1"
    )
    assert client_address("10.0.0.2", "not-an-address", trusted) == "10.0.0.2"


async def test_a_blocked_web_participant_keeps_only_the_data_rights(
    h: Harness, person: WebCitizen
) -> None:
    await person.take_part(["bildung"], impulse="Ateliers in leeren Ladenlokalen für alle.")
    moderator = h.citizen(MODERATOR)
    await moderator.send("/block #1")
    await moderator.press("Ja, sperren")
    assert "gesperrt" in moderator.last_text
    assert h.bot.app is not None
    data = await snapshot(h.settings, h.bot.app.database, system_clock())
    assert data["participants"] == 0
    await person.open("/meinvotum")
    await person.press("change")
    assert "gesperrt" in person.now
    data_file = await person.client.get("/daten")
    assert data_file.status == 200
    await person.open("/loeschen")
    await person.press("erase")
    assert "gelöscht" in person.page


async def test_a_closed_consultation_takes_no_web_vote(h: Harness, person: WebCitizen) -> None:
    await person.open()
    await person.press("consent")
    moderator = h.citizen(MODERATOR)
    await moderator.send("/phase close")
    await moderator.press("Ja, schließen")
    await person.press("topics", topic=["bildung"])
    assert "abgeschlossen" in person.now
    assert h.bot.app is not None
    data = await snapshot(h.settings, h.bot.app.database, system_clock())
    assert data["participants"] == 0
    # Someone arriving now sees the results instead of the consent.
    async with browser(person.server) as newcomer:
        await newcomer.open()
        assert "abgeschlossen" in newcomer.now and 'value="consent"' not in newcomer.page


def test_the_command_prints_invite_codes_and_stores_only_their_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'invites.sqlite3'}"
    monkeypatch.setattr(cli, "configure_logging", lambda **_: None)  # keep pytest's handlers
    monkeypatch.setenv("DIALOGBOT_DATABASE_URL", url)
    monkeypatch.setenv("DIALOGBOT_SECRET", "invite-secret")
    config = str(ROOT / "config.example.toml")
    assert cli.main(["web", "invites", "5", "--config", config]) == 0
    codes = capsys.readouterr().out.split()
    assert len(set(codes)) == 5 and all(len(code) == 9 and code[4] == "-" for code in codes)
    assert cli.main(["web", "invites", "0", "--config", config]) == 2

    async def stored() -> tuple[int, bytes]:
        database = Database(url)
        try:
            return await WebInvites(database).unused(), (tmp_path / "invites.sqlite3").read_bytes()
        finally:
            await database.dispose()

    unused, raw = asyncio.run(stored())
    assert unused == 5
    assert not any(code.encode() in raw for code in codes)  # only keyed hashes


async def test_the_welcome_points_to_the_language_menu_not_a_command(person: WebCitizen) -> None:
    page = await person.open()
    assert "Dialog zur Ruhr-Konferenz" in person.now and "/sprache" not in page
    assert '<select id="locale" name="locale">' in page


async def test_the_web_server_beside_the_bot(h: Harness) -> None:
    """What `dialogbot run --web` and `dialogbot demo --web` start: the chat on its address."""
    import socket

    from aiohttp import ClientSession

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert h.bot.app is not None
    server = WebServer(h.bot.app, f"127.0.0.1:{port}")
    await server.start()
    try:
        async with ClientSession() as session, session.get(server.url) as response:
            assert response.status == 200 and "Mitmachen" in await response.text()
    finally:
        await server.stop()
    assert server.url == f"http://127.0.0.1:{port}/"


# The similar-idea hint before the review, as in Telegram (docs/ratings.md)

BUS = "Ein gemeinsamer Tarif für Bus & Bahn im ganzen Ruhrgebiet."
BUS_AGAIN = "Ein einheitliches Ticket für Busse und Bahnen im gesamten Ruhrgebiet"


@pytest.fixture
async def published(emulator: Any, database_url: str) -> AsyncIterator[Harness]:
    """Ideas published at once (moderation after the fact): the bus idea is #1."""
    harness = await start(emulator, database_url, moderation_mode="post")
    try:
        await harness.citizen(1001).take_part(["Mobilität"], impulse=BUS)
        await harness.citizen(1002).take_part(
            ["Bildung"], impulse="Mehr Schulsozialarbeit an allen Grundschulen."
        )
        yield harness
    finally:
        await harness.bot.stop()


async def ideas_and_ratings(h: Harness) -> tuple[list[str], list[tuple[int, int]]]:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        ideas = await session.scalars(select(Impulse.text).order_by(Impulse.id))
        ratings = await session.execute(select(Rating.impulse_id, Rating.value))
        return list(ideas), [(i, v) for i, v in ratings]


async def test_a_similar_published_idea_can_be_supported_instead(published: Harness) -> None:
    assert published.bot.app is not None
    async with served(web_app_for(published.bot.app)) as server, browser(server) as person:
        await person.open()
        await person.press("consent")
        await person.press("topics", topic=["mobilitaet"])
        await person.press("impulse", impulse=BUS_AGAIN)
        assert "Ähnliche Ideen gibt es schon" in person.now
        assert "#1" in person.now and "#2" not in person.now
        assert "Bus &amp; Bahn" in person.page  # the published text, escaped
        assert "👍 #1 unterstützen" in person.page and "Meine Idee trotzdem senden" in person.page
        # Only an idea that was shown can be supported.
        await person.press("similar_choice", impulse="2")
        assert "veraltet" in person.now
        await person.press("similar_choice", impulse="1")
        assert "Sie unterstützen jetzt die Idee #1" in person.page
        assert "Ohne eigene Idee" in person.now  # the review, without their own text
        await person.press("submit")
        assert "Danke!" in person.page
    ideas, ratings = await ideas_and_ratings(published)
    assert len(ideas) == 2 and BUS_AGAIN not in ideas
    assert ratings == [(1, 1)]  # agreeing with #1


async def test_a_similar_idea_shown_and_ones_own_sent_anyway(published: Harness) -> None:
    assert published.bot.app is not None
    async with served(web_app_for(published.bot.app)) as server, browser(server) as person:
        await person.open()
        await person.press("consent")
        await person.press("topics", topic=["mobilitaet", "bildung"])
        await person.press("impulse", impulse=BUS_AGAIN)
        assert "Ähnliche Ideen gibt es schon" in person.now
        await person.press("similar_choice", impulse="0")
        await person.press("impulse_topic", topic="mobilitaet")  # then its topic, as in Telegram
        assert "Absenden" in person.page and "einheitliches Ticket" in person.now
        await person.press("submit")
    async with served(web_app_for(published.bot.app)) as server, browser(server) as other:
        # An idea that resembles nothing published goes straight on to the review.
        await other.open()
        await other.press("consent")
        await other.press("topics", topic=["gruen"])
        await other.press(
            "impulse", impulse="Die Schwimmbäder im Sommer länger öffnen, bis 22 Uhr."
        )
        assert "Ähnliche Ideen" not in other.page and "Absenden" in other.page
    ideas, ratings = await ideas_and_ratings(published)
    assert ideas[-1] == BUS_AGAIN and ratings == []  # the person's own idea, no agreement
