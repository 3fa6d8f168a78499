"""What a citizen reads about their own part: /meinvotum, the notices about their ideas,
/meinedaten, answers after submitting and the commands in every language. Through the emulator."""

from __future__ import annotations

import json

from bot.domain.pseudonym import pseudonym_for
from bot.emulator.server import BotApiEmulator
from bot.telegram.language import PLAIN_GERMAN
from handlers.citizen import commands
from storage.repository import SqlParticipationRepository
from tests.harness import Citizen, Harness
from tests.test_languages import choose_language, i18n, next_button, t, walk
from tests.test_moderation import MOD_A, card_for, export, start_harness

OTHERS_IDEA = "Bolzplätze abends bis 22 Uhr beleuchten, damit Jugendliche länger spielen können"
OWN_IDEA = "Ein gemeinsamer Nahverkehrstarif für das ganze Revier, ohne Tarifgrenzen."


def message_with(c: Citizen, words: str) -> str:
    return next(m.text for m in reversed(c.user.messages) if words in m.text)


async def test_my_vote_in_plain_words_with_ideas_support_and_end_date(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url, moderation_mode="post")
    try:
        other = mod.citizen(6001)
        await other.take_part(["Sport & Events"], impulse=OTHERS_IDEA)
        person = mod.citizen(6002)
        await person.send("/start")
        await person.press("Mitmachen")
        # Tapped in another order than the consultation lists them.
        await person.press("Mobilität & ÖPNV")
        await person.press("Talentschulen & Bildung")
        await person.press("Weiter")
        await person.send(OWN_IDEA)
        await person.press("Mobilität & ÖPNV")
        review = person.last_text
        await person.press("Absenden")
        await person.send("/stoebern")
        assert OTHERS_IDEA in person.last_text
        await person.press("Stimme zu")

        await person.send("/meinvotum")
        mine = person.last_text
        assert "Ihre Wahl" in mine and "Votum" not in mine
        # Bullets, in the same order as at review; no numbers that suggest a ranking.
        order = ["• Talentschulen & Bildung", "• Mobilität & ÖPNV"]
        for text in (review, mine):
            positions = [text.index(line) for line in order]
            assert positions == sorted(positions), text
        assert not any(line.startswith(("1. ", "2. ")) for line in mine.split("\n"))
        assert "Ihre Idee (1)" in mine and "Stand: veröffentlicht" in mine
        assert "„Ein gemeinsamer Nahverkehrstarif" in mine
        assert "Sie unterstützen 1 Idee" in mine and "„Bolzplätze abends" in mine
        assert "Die Beteiligung läuft bis zum 31. März 2027." in mine  # [privacy] ends

        await choose_language(person, "en")
        await person.send("/meinvotum")
        english = person.last_text
        assert "Your choice" in english and "Your idea (1)" in english
        assert "You support 1 idea" in english and "until 31 March 2027" in english
    finally:
        await mod.bot.stop()


async def test_my_vote_counts_several_ideas_in_every_language(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url)
    try:
        for n, locale in enumerate(["de", "en", "tr", PLAIN_GERMAN]):
            c = mod.citizen(6100 + n, language_code="de")
            if locale != "de":
                await choose_language(c, locale)
            await walk(c, locale, ["sport"], impulse=f"Erste Idee Nummer {n}: Freibäder länger")
            await c.send("/meinvotum")
            await c.press(t(locale, "✏️ Wahl ändern"))
            await c.press(next_button(locale))
            await c.send(f"Zweite Idee Nummer {n}: mehr Bolzplätze")
            await c.press(t(locale, "Absenden"))
            await c.send("/meinvotum")
            heading = i18n().gettext(
                "<b>Ihre Idee ({count})</b>", "<b>Ihre Ideen ({count})</b>", 2, locale=locale
            )
            assert heading != "<b>Ihre Ideen ({count})</b>" or locale in ("de", PLAIN_GERMAN)
            plain = heading.replace("<b>", "").replace("</b>", "").format(count=2)
            assert plain in c.last_text, (locale, c.last_text)
            assert t(locale, "wird geprüft") in c.last_text
    finally:
        await mod.bot.stop()


LONG_IDEA = (
    "Ein Sozialticket für 9 Euro im ganzen Verkehrsverbund <Rhein-Ruhr> & darüber hinaus, "
    "dazu Nachtbusse am Wochenende in allen Städten"
)


async def test_notices_quote_the_idea_give_the_reason_and_tell_of_a_merge(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url)
    try:
        moderator = mod.citizen(MOD_A)
        author = mod.citizen(6201)
        await author.take_part(["Mobilität & ÖPNV"], impulse=LONG_IDEA)
        await moderator.press("Freigeben", message_id=card_for(moderator, 1).message_id)
        published = author.user.last_message
        # Quoted, shortened to the start, escaped: not the number only.
        assert "Ihre Idee „Ein Sozialticket für 9 Euro im ganzen Verkehrsverbund <Rhein-Ruhr>" in (
            published.text
        )
        assert "&lt;Rhein-Ruhr&gt; &amp;" in published.raw_text
        assert "Nachtbusse" not in published.text and " …“" in published.text
        assert "ist jetzt veröffentlicht" in published.text and "/stoebern" in published.text
        assert "https://t.me/ruhr_dialog" in published.text

        # Withdrawn: the moderator picks a reason, and the author is told it.
        await moderator.press("Zurückziehen", message_id=card_for(moderator, 1).message_id)
        assert (await export(mod))["impulses"][0]["status"] == "approved"  # not yet
        await moderator.press("beleidigend", message_id=card_for(moderator, 1).message_id)
        assert (await export(mod))["impulses"][0]["status"] == "approved"  # asked first
        await moderator.press("Ja, zurückziehen", message_id=card_for(moderator, 1).message_id)
        assert (await export(mod))["impulses"][0]["status"] == "removed"
        withdrawn = author.last_text
        assert "„Ein Sozialticket" in withdrawn and "zurückgezogen" in withdrawn
        assert "Grund: beleidigend." in withdrawn

        # Rejected: quoted too, with its reason.
        await author.send("/meinvotum")
        await author.press("Wahl ändern")
        await author.press("Weiter")
        await author.send("Mehr Parkplätze direkt vor dem Rathaus in Essen bauen")
        await author.press("Absenden")
        await moderator.press("Ablehnen", message_id=card_for(moderator, 2).message_id)
        await moderator.press("Werbung oder Spam", message_id=card_for(moderator, 2).message_id)
        await moderator.press("Ja, ablehnen", message_id=card_for(moderator, 2).message_id)
        assert "„Mehr Parkplätze direkt vor dem Rathaus in Essen bauen“" in author.last_text
        assert "Grund: Werbung oder Spam." in author.last_text

        # Merged: the author of the duplicate hears which idea it went into, in their language.
        first = mod.citizen(6202)
        await first.take_part(["Sport & Events"], impulse="Freibäder im Sommer bis 22 Uhr öffnen")
        await moderator.press("Freigeben", message_id=card_for(moderator, 3).message_id)
        second = mod.citizen(6203, language_code="en")
        await walk(second, "en", ["sport"], impulse="Open the outdoor pools until 10 pm")
        await moderator.press("Freigeben", message_id=card_for(moderator, 4).message_id)
        told_before = len(second.user.messages)
        await moderator.send("/merge 4 3")
        assert len(second.user.messages) == told_before  # the moderator is asked first
        await moderator.press("Ja, zusammenführen")
        assert len(second.user.messages) == told_before + 1
        merged = second.last_text
        assert "„Open the outdoor pools until 10 pm“" in merged
        assert "„Freibäder im Sommer bis 22 Uhr öffnen“" in merged
        assert "merged" in merged
    finally:
        await mod.bot.stop()


async def test_every_citizen_command_answers_to_each_of_its_names(harness: Harness) -> None:
    """Each alias (handlers/citizen/commands.py) gets its command's answer, never the help for an
    unknown command; the menus and /hilfe name the commands in the reader's language."""
    c = harness.citizen(6301)
    await c.take_part(["Sport & Events"])
    help_text = "Hilfe: Dialog zur Ruhr-Konferenz"
    answers = {
        commands.START: "Ihre Wahl",  # a returning citizen sees the stored choice
        commands.MY_VOTE: "Ihre Wahl",
        commands.BROWSE: "Idee",
        commands.RESULTS: "Die Ergebnisse bisher",
        commands.HELP: help_text,
        commands.LANGUAGE: "In welcher Sprache",
        commands.ERASE: "Wollen Sie wirklich alle Ihre Daten löschen?",
    }
    walked = []
    for command in commands.CITIZEN_COMMANDS:
        for alias in command.aliases:
            await c.send(f"/{alias}")
            walked.append(alias)
            if command is commands.MY_DATA:
                assert c.user.last_message.document is not None, alias
                continue
            assert answers[command] in c.last_text, (alias, c.last_text)
            if command is not commands.HELP:
                assert help_text not in c.last_text, alias
    for alias in ("myvote", "oyum", "mydata", "verilerim", "delete", "sil", "sonuclar", "help"):
        assert alias in walked

    menus = {code: harness.emulator.commands(language_code=code) for code in ("", "en", "tr")}
    for code, names in [
        ("", ["start", "meinvotum", "stoebern", "ergebnis", "hilfe"]),
        ("en", ["start", "myvote", "ideas", "results", "help"]),
        ("tr", ["start", "oyum", "fikirler", "sonuclar", "yardim"]),
    ]:
        assert [m["command"] for m in menus[code]][:5] == names, code
    assert [m["command"] for m in menus["en"]][5:] == ["language", "mydata", "delete"]
    assert [m["command"] for m in menus["tr"]][5:] == ["dil", "verilerim", "sil"]

    for locale, lines in [
        ("en", ["/myvote – ", "/mydata – ", "/delete – ", "/ideas – "]),
        ("tr", ["/oyum – ", "/verilerim – ", "/sil – ", "/fikirler – "]),
        (PLAIN_GERMAN, ["/meinvotum – ", "/meinedaten – ", "/loeschen – ", "/stoebern – "]),
    ]:
        await choose_language(c, locale)
        await c.send("/hilfe")
        assert all(line in c.last_text for line in lines), (locale, c.last_text)


async def test_my_data_summary_in_words_and_a_file_with_readable_keys(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url, moderation_mode="post")
    try:
        other = mod.citizen(6401)
        await other.take_part(["Sport & Events"], impulse=OTHERS_IDEA)
        person = mod.citizen(6402)
        await person.take_part(["Sport & Events", "Mobilität & ÖPNV"], impulse=OWN_IDEA)
        await person.send("/stoebern")
        await person.press("Stimme zu")
        await person.send("/meinedaten")
        sent = person.user.last_message
        assert sent.document is not None and sent.filename == "meine-daten.json"
        summary = sent.caption or ""
        assert "Was über Sie gespeichert ist" in summary
        assert "• Ihre Themen: Mobilität & ÖPNV, Sport & Events" in summary
        assert "• 1 Idee von Ihnen" in summary and "• 1 Bewertung von Ihnen" in summary
        assert "/loeschen" in summary
        mine = json.loads(sent.document)
        assert mine["Ihre Themen"] == ["Mobilität & ÖPNV", "Sport & Events"]
        [idea] = mine["Ihre Ideen"]
        assert idea["Text"] == OWN_IDEA and idea["Stand"] == "veröffentlicht"
        assert idea["Thema"] == "Sport & Events"
        assert mine["Ihre Teilnahme"]["Eingewilligt am"].endswith(tuple("0123456789"))
        assert [r["Ihre Bewertung"] for r in mine["Ihre Bewertungen"]] == ["stimme zu"]
        assert "approved" not in sent.document.decode() and "mobilitaet" not in mine["Ihre Themen"]

        # Complete: each field stored about the person has its key in the file.
        assert mod.bot.app is not None
        stored = await SqlParticipationRepository(mod.bot.app.database).personal_data(
            pseudonym_for(6402, mod.settings.secret)
        )
        assert stored is not None
        lists = {"topics", "impulses", "ratings", "reports", "outcome_messages"}
        assert len(mine["Ihre Teilnahme"]) == len(set(stored) - lists)
        assert len(idea) == len(stored["impulses"][0])
        assert len(mine["Ihre Bewertungen"][0]) == len(stored["ratings"][0])

        await choose_language(person, "en")
        await person.send("/meinedaten")
        english = person.user.last_message
        assert "What is stored about you" in (english.caption or "")
        assert json.loads(english.document or b"{}")["Your topics"] == [
            "Mobility & public transport",
            "Sport & events",
        ]
    finally:
        await mod.bot.stop()


async def test_text_after_submitting_is_offered_as_a_new_idea_and_a_reply_to_an_answer_is_seen(
    emulator: BotApiEmulator, database_url: str
) -> None:
    mod = await start_harness(emulator, database_url)
    try:
        moderator = mod.citizen(MOD_A)
        person = mod.citizen(6501)
        await person.take_part(["Sport & Events"])
        later = "Und noch etwas: Trinkbrunnen in allen Innenstädten aufstellen"
        await person.send(later)
        assert "nicht verstanden" not in person.last_text
        assert "als neue Idee schicken" in person.last_text and later in person.last_text
        await person.press("Als neue Idee schicken")
        assert "Schritt 3 von 3" in person.last_text and later in person.last_text
        await person.press("Absenden")
        assert [i["text"] for i in (await export(mod))["impulses"]] == [later]

        # The official answer, and the person replies to it.
        card = card_for(moderator, 1)
        await moderator.press("Freigeben", message_id=card.message_id)
        await moderator.press("Antworten", message_id=card.message_id)
        await moderator.press("In Bearbeitung")
        await moderator.send("Die Stadtwerke prüfen zwölf Standorte.")
        await moderator.press("Senden")
        answer = person.user.last_message
        assert "Antwort auf Ihre Idee" in answer.text
        await person.send("Danke, das freut mich sehr!", reply_to=answer.message_id)
        assert "nicht verstanden" not in person.last_text
        assert "Rückmeldung zur Antwort der Moderation" in person.last_text
        # Someone who has not taken part gets the plain answer, not an offer.
        stranger = mod.citizen(6502)
        await stranger.send("Hallo, was ist das hier?")
        assert "nicht verstanden" in stranger.last_text and not stranger.buttons()
    finally:
        await mod.bot.stop()
