"""The citizen dialog end to end: the real bot, over HTTP, against the strict emulator."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.clock import system_clock
from bot.domain.pseudonym import pseudonym_for
from bot.ops.export import snapshot
from storage.models import ConversationState, Impulse, Participant, ReplyAddress, Vote
from tests.harness import Harness

# Also with aiogram's stock Bot API session (tests/conftest.py).
pytestmark = pytest.mark.both_sessions

BIG_ID = 8_000_000_000  # above 2^32: Telegram ids are 64-bit


async def export(h: Harness) -> dict[str, Any]:
    assert h.bot.app is not None
    return await snapshot(h.settings, h.bot.app.database, system_clock())


def votes_of(data: dict[str, Any], topic_id: str) -> int:
    return next(t["votes"] for t in data["topics"] if t["id"] == topic_id)


async def count_rows(h: Harness, model: Any) -> int:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_full_dialog_from_deep_link_to_thanks(harness: Harness) -> None:
    anna = harness.citizen(BIG_ID, first_name="Anna")
    await anna.send("/start flyer_essen")
    welcome = anna.last_text
    assert "Dialog zur Ruhr-Konferenz" in welcome
    assert "Wie kann die Metropolregion Ruhr erfolgreicher werden?" in welcome
    assert "Pseudonym" in welcome
    assert anna.buttons() == ["Mitmachen", "Datenschutz lesen", "Nein, danke"]
    assert await count_rows(harness, Participant) == 0  # nothing stored before consent

    await anna.press("Mitmachen")
    assert "Gewählt: 0 von 3" in anna.last_text
    assert len(anna.buttons()) == 20  # 19 confirmed theme forums + "Weiter"
    await anna.press("Mobilität & ÖPNV")
    await anna.press("Talentschulen & Bildung")
    assert "Gewählt: 2 von 3" in anna.last_text
    assert "✅ Mobilität & ÖPNV" in anna.buttons()
    await anna.press("Weiter")
    assert "Schritt 2 von 3" in anna.last_text

    await anna.send("Ein gemeinsamer Nahverkehrstarif für das ganze Revier, ohne Tarifgrenzen.")
    assert "Zu welchem Ihrer Themen" in anna.last_text
    await anna.press("Mobilität & ÖPNV")
    review = anna.last_text
    assert "Schritt 3 von 3" in review
    assert "• Mobilität & ÖPNV" in review and "• Talentschulen & Bildung" in review
    assert "gemeinsamer Nahverkehrstarif" in review

    await anna.press("Absenden")
    thanks = anna.last_text
    assert "Danke! Ihre Stimme ist gespeichert." in thanks
    assert "Mobilität & ÖPNV: 100 % (Platz 1 von 19)" in thanks
    assert "mehr als 100 %" in thanks
    assert "https://t.me/ruhr_dialog" in thanks

    data = await export(harness)
    assert data["participants"] == 1
    assert votes_of(data, "mobilitaet") == 1 and votes_of(data, "bildung") == 1
    [impulse] = data["impulses"]
    assert impulse["topic"] == "mobilitaet"
    assert impulse["source"] == "flyer_essen"
    assert impulse["status"] == "pending"
    assert str(BIG_ID) not in json.dumps(data)


async def test_commands_are_registered_for_the_menu(harness: Harness) -> None:
    assert harness.emulator.calls_to("setMyCommands"), "setMyCommands was never called"
    commands = harness.emulator.commands()
    assert [c["command"] for c in commands] == [
        "start",
        "meinvotum",
        "stoebern",
        "ergebnis",
        "hilfe",
        "sprache",
        "meinedaten",
        "loeschen",
    ]


async def test_topic_limit_refuses_a_fourth_tap_and_edits_in_place(harness: Harness) -> None:
    bert = harness.citizen(1001)
    await bert.send("/start")
    await bert.press("Mitmachen")
    keyboard_message = bert.user.last_message.message_id
    for title in ["Integration & Talente", "Sport & Events", "Kunst & Kreativität"]:
        await bert.press(title)
    messages_before = len(bert.user.messages)
    await bert.press("Zukunft der Arbeit")
    assert "höchstens" not in bert.last_text  # the message itself did not change
    assert "schon 3 Themen" in bert.user.callback_answers[-1].text
    assert "Gewählt: 3 von 3" in bert.last_text
    assert "Zukunft der Arbeit" in bert.buttons()
    assert len(bert.user.messages) == messages_before  # never re-sent
    assert bert.user.last_message.message_id == keyboard_message
    # Untapping frees a slot.
    await bert.press("Sport & Events")
    await bert.press("Zukunft der Arbeit")
    assert "✅ Zukunft der Arbeit" in bert.buttons()
    assert "Sport & Events" in bert.buttons()


async def test_done_needs_at_least_one_topic(harness: Harness) -> None:
    c = harness.citizen(1002)
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Weiter")
    assert "mindestens ein Thema" in c.user.callback_answers[-1].text
    assert "Schritt 1 von 3" in c.last_text


async def test_changing_the_vote_moves_counts_and_never_doubles(harness: Harness) -> None:
    c = harness.citizen(1003)
    await c.take_part(["Mobilität & ÖPNV", "Sport & Events"])
    other = harness.citizen(1004)
    await other.take_part(["Mobilität & ÖPNV"])
    data = await export(harness)
    assert (data["participants"], votes_of(data, "mobilitaet"), votes_of(data, "sport")) == (
        2,
        2,
        1,
    )

    await c.send("/meinvotum")
    assert c.last_text.startswith("Ihre Wahl\n") and "Sport & Events" in c.last_text
    await c.press("Wahl ändern")
    assert "Gewählt: 2 von 3" in c.last_text
    await c.press("Sport & Events")
    await c.press("Mobilität & ÖPNV")
    await c.press("Grüne Infrastruktur")
    await c.press("Weiter")
    await c.press("Überspringen")
    await c.press("Absenden")

    data = await export(harness)
    assert data["participants"] == 2
    assert votes_of(data, "mobilitaet") == 1
    assert votes_of(data, "sport") == 0
    assert votes_of(data, "gruen") == 1
    assert await count_rows(harness, Vote) == 2


async def test_skipping_the_impulse_stores_none(harness: Harness) -> None:
    c = harness.citizen(1005)
    await c.take_part(["Lehrkräfte gewinnen"])
    assert "Danke!" in c.last_text
    assert (await export(harness))["impulses"] == []


async def test_too_short_and_too_long_impulses_are_explained_once(
    harness: Harness,
) -> None:
    c = harness.citizen(1006)
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Sport & Events")
    await c.press("Weiter")
    # Seven visible characters; with the spaces and zero-width spaces around them, sixteen.
    for short in ["Zu kurz", "  Zu kurz\u200b\u200b\u200b    "]:
        await c.send(short)
        assert "etwas kurz" in c.last_text and "mindestens 10 Zeichen" in c.last_text, short
    await c.send("x" * 1001)
    assert "1001 Zeichen zu lang" in c.last_text
    # Only the reasons: the one question stands above them, its button still there.
    [prompt] = [m for m in c.user.messages if "Schritt 2 von 3" in m.text]
    assert prompt.button_texts == ["Überspringen ➡️"]
    await c.send("Mehr Bänke")  # exactly the minimum of 10 characters
    assert "Schritt 3 von 3" in c.last_text  # one topic: assigned without asking
    await c.press("Absenden")
    [impulse] = (await export(harness))["impulses"]
    assert impulse["text"] == "Mehr Bänke"
    assert impulse["topic"] == "sport"


async def test_non_text_input_at_every_step_gets_an_answer_and_changes_nothing(
    harness: Harness,
) -> None:
    c = harness.citizen(1007)
    u = c.user
    await c.do(u.send_sticker)  # before /start
    assert "/start" in c.last_text

    await c.send("/start")
    await c.do(u.send_photo)  # consent step
    assert "Knöpfe" in c.last_text
    await c.press("Mitmachen")
    await c.do(u.send_voice)  # topics step
    assert "Knöpfe" in c.last_text
    await c.press("Gesundheit & Pflege")
    await c.press("Energie in der Stadt")
    await c.press("Weiter")
    await c.do(u.send_sticker)  # impulse step
    assert "als Text" in c.last_text
    assert len([m for m in u.messages if "Schritt 2 von 3" in m.text]) == 1
    await c.send("Pflegekräfte im Quartier besser vernetzen und entlasten")
    await c.do(lambda: u.send_document("idee.pdf"))  # impulse topic step
    assert "Knöpfe" in c.last_text
    await c.press("Gesundheit & Pflege")
    await c.do(lambda: u.send_location(51.45, 7.01))  # review step
    assert "Knöpfe" in c.last_text
    await c.press("Absenden", message_id=_review_message(c))
    data = await export(harness)
    assert votes_of(data, "gesundheit") == 1 and votes_of(data, "energie") == 1
    assert data["impulses"][0]["text"] == "Pflegekräfte im Quartier besser vernetzen und entlasten"


def _review_message(c: Any) -> int:
    return next(m.message_id for m in reversed(c.user.messages) if "Schritt 3 von 3" in m.text)


async def test_consent_refusal_stores_nothing(harness: Harness) -> None:
    c = harness.citizen(1008)
    await c.send("/start flyer_bochum")
    await c.press("Nein, danke")
    assert "nichts über Sie gespeichert" in c.last_text
    for model in (Participant, ReplyAddress, Vote, Impulse, ConversationState):
        assert await count_rows(harness, model) == 0, model.__name__


async def test_html_in_an_impulse_is_escaped_everywhere(harness: Harness) -> None:
    c = harness.citizen(1009)
    text = "Mehr <b>Busse</b> & Bahnen <script>alert(1)</script> für Dortmund"
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Mobilität & ÖPNV")
    await c.press("Weiter")
    await c.send(text)
    review = c.user.last_message
    assert text in review.text  # shown literally, as typed
    assert "&lt;script&gt;" in review.raw_text
    await c.press("Absenden")
    assert "Danke!" in c.last_text
    await c.send("/meinvotum")
    assert text in c.last_text
    assert (await export(harness))["impulses"][0]["text"] == text  # stored exactly as sent


async def test_stale_and_forged_buttons_get_a_clear_answer(harness: Harness) -> None:
    c = harness.citizen(1010)
    await c.take_part(["Sport & Events"])
    # The message that showed the topic list (it became the next steps in place).
    topics_message = next(m for m in c.user.messages if "Ihre Prioritäten" in "".join(m.history))
    await c.do(lambda: c.user.press_data(topics_message.message_id, "t:sport"))
    assert "nicht mehr aktuell" in c.user.callback_answers[-1].text
    await c.do(lambda: c.user.press_data(topics_message.message_id, "garbage:\x00::"))
    assert "nicht mehr aktuell" in c.user.callback_answers[-1].text
    await c.do(lambda: c.user.press_data(topics_message.message_id, "t:not_a_topic"))
    assert "nicht mehr aktuell" in c.user.callback_answers[-1].text
    assert votes_of(await export(harness), "sport") == 1


async def test_forged_topic_inside_the_topics_step_changes_nothing(harness: Harness) -> None:
    c = harness.citizen(1011)
    await c.send("/start")
    await c.press("Mitmachen")
    keyboard = c.user.last_message.message_id
    await c.do(lambda: c.user.press_data(keyboard, "t:nonexistent"))
    assert "nicht mehr aktuell" in c.user.callback_answers[-1].text
    assert "Gewählt: 0 von 3" in c.last_text


async def test_two_taps_at_once_are_handled_in_order(harness: Harness) -> None:
    c = harness.citizen(1012)
    await c.send("/start")
    await c.press("Mitmachen")
    # Both taps arrive in one getUpdates batch; neither may overwrite the other.
    c.user.press("Integration & Talente")
    c.user.press("Sport & Events")
    c.user.press("Kunst & Kreativität")
    await harness.settle()
    assert "Gewählt: 3 von 3" in c.last_text
    await c.press("Weiter")
    await c.press("Überspringen")
    await c.press("Absenden")
    data = await export(harness)
    assert [votes_of(data, t) for t in ("integration", "sport", "kunst")] == [1, 1, 1]


async def test_many_citizens_at_once(harness: Harness) -> None:
    citizens = [harness.citizen(2000 + i) for i in range(12)]
    await asyncio.gather(*(c.take_part(["Mobilität & ÖPNV"]) for c in citizens))
    data = await export(harness)
    assert data["participants"] == 12 and votes_of(data, "mobilitaet") == 12


async def test_restart_in_the_middle_of_the_dialog_loses_nothing(harness: Harness) -> None:
    c = harness.citizen(1013)
    await c.send("/start flyer_herne")
    await c.press("Mitmachen")
    await c.press("Heimat Ruhr: Wohnen & Leben")
    await harness.bot.restart()
    # The keyboard sent before the restart still works.
    await c.press("Grüne Infrastruktur")
    assert "Gewählt: 2 von 3" in c.last_text
    await c.press("Weiter")
    await harness.bot.restart()
    await c.send("Brachflächen zu Parks und bezahlbaren Wohnungen machen")
    await c.press("Grüne Infrastruktur")
    await harness.bot.restart()
    await c.press("Absenden")
    assert "Danke!" in c.last_text
    data = await export(harness)
    assert votes_of(data, "heimat") == 1 and votes_of(data, "gruen") == 1
    assert data["impulses"][0]["source"] == "flyer_herne"


async def test_my_data_and_erasure(harness: Harness) -> None:
    c = harness.citizen(BIG_ID + 1)
    await c.take_part(["Mobilität & ÖPNV"], impulse="Eine Ringbahn um das ganze Ruhrgebiet bauen")
    keeper = harness.citizen(1014)
    await keeper.take_part(["Mobilität & ÖPNV"])

    await c.send("/meinedaten")
    document = c.user.last_message
    assert document.document is not None and document.filename == "meine-daten.json"
    mine = json.loads(document.document)
    assert mine["Ihre Themen"] == ["Mobilität & ÖPNV"]
    assert mine["Ihre Ideen"][0]["Text"].startswith("Eine Ringbahn")
    # The pseudonym next to the person's own id would allow an offline search for the secret.
    assert pseudonym_for(BIG_ID + 1, harness.settings.secret).encode() not in document.document

    await c.send("/loeschen")
    await c.press("Abbrechen")
    assert (await export(harness))["participants"] == 2
    await c.send("/loeschen")
    await c.press("Ja, alles löschen")
    assert "gelöscht" in c.last_text
    data = await export(harness)
    assert data["participants"] == 1 and votes_of(data, "mobilitaet") == 1
    assert data["impulses"] == []  # it was not published yet, so it goes too
    await c.send("/meinedaten")
    assert "nichts gespeichert" in c.last_text


async def test_help_explains_the_commands(harness: Harness) -> None:
    c = harness.citizen(1015)
    await c.send("/hilfe")
    for command in ("/start", "/meinvotum", "/meinedaten", "/loeschen"):
        assert command in c.last_text
    help_text = c.last_text
    await c.send("/gibtsnicht")
    assert c.last_text == help_text


IDEA = "Ein gemeinsamer Nahverkehrstarif für das ganze Revier, ohne Tarifgrenzen."


async def at_review_with_idea(c: Any) -> None:
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Mobilität & ÖPNV")
    await c.press("Weiter")
    await c.send(IDEA)
    assert "Schritt 3 von 3" in c.last_text and "zum Thema „Mobilität & ÖPNV“" in c.last_text


async def test_changing_the_topics_keeps_the_idea_under_its_topic(harness: Harness) -> None:
    c = harness.citizen(1101)
    await at_review_with_idea(c)
    await c.press("Themen ändern")
    await c.press("Mobilität & ÖPNV")  # the idea's topic is no priority any more
    await c.press("Sport & Events")
    await c.press("Weiter")
    review = c.last_text
    assert "Schritt 3 von 3" in review and "Nahverkehrstarif" in review
    assert "zum Thema „Mobilität & ÖPNV“" in review and "• Sport & Events" in review
    await c.press("Absenden")
    [impulse] = (await export(harness))["impulses"]
    assert (impulse["topic"], impulse["text"]) == ("mobilitaet", IDEA)
    assert votes_of(await export(harness), "sport") == 1


async def test_changing_the_idea_keeps_it_unless_it_is_removed(harness: Harness) -> None:
    c = harness.citizen(1102)
    await at_review_with_idea(c)
    await c.press("Idee ändern")
    assert "Ihre Idee bisher" in c.last_text and "Nahverkehrstarif" in c.last_text
    assert c.buttons() == ["Idee behalten", "Idee entfernen"]
    await c.press("Idee behalten")
    assert "Schritt 3 von 3" in c.last_text and "Nahverkehrstarif" in c.last_text

    await c.press("Idee ändern")
    await c.press("Idee entfernen")
    assert "Ohne eigene Idee." in c.last_text
    await c.press("Absenden")
    assert (await export(harness))["impulses"] == []


async def test_an_idea_may_go_under_a_topic_that_was_not_chosen(harness: Harness) -> None:
    c = harness.citizen(1103)
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Mobilität & ÖPNV")
    await c.press("Lehrkräfte gewinnen")
    await c.press("Weiter")
    await c.send("Mehr Sportvereine an offene Ganztagsschulen holen, mit Bus-Shuttle.")
    assert c.buttons()[-1] == "Anderes Thema …"
    await c.press("Anderes Thema")
    assert "Sport & Events" in c.buttons() and len(c.buttons()) == 19
    await c.press("Sport & Events")
    assert "zum Thema „Sport & Events“" in c.last_text
    await c.press("Absenden")
    [impulse] = (await export(harness))["impulses"]
    assert impulse["topic"] == "sport"


async def test_changing_the_vote_says_the_earlier_idea_stays(harness: Harness) -> None:
    c = harness.citizen(1104)
    await c.take_part(["Mobilität & ÖPNV"], impulse=IDEA)
    await c.send("/meinvotum")
    await c.press("Wahl ändern")
    await c.press("Sport & Events")
    await c.press("Weiter")
    assert "früher geschickte Idee bleibt gespeichert" in c.last_text
    await c.press("Überspringen")
    review = c.last_text
    assert "Ohne eigene Idee." not in review and "Keine neue Idee." in review
    assert "bleibt gespeichert" in review and "Nahverkehrstarif" in review
    await c.press("Absenden")
    [impulse] = (await export(harness))["impulses"]
    assert impulse["text"] == IDEA


async def test_the_welcome_names_no_number_of_forums_other_than_it_offers(
    harness: Harness,
) -> None:
    c = harness.citizen(1106)
    await c.send("/start")
    welcome = c.last_text
    await c.press("Mitmachen")
    offered = len(c.buttons()) - 1  # without "Weiter"
    claimed = [int(n) for n in re.findall(r"(\d+) (?:Themenforen|Foren|Gruppen)", welcome)]
    assert all(n == offered for n in claimed), (claimed, offered)


async def test_help_lists_every_citizen_command(harness: Harness) -> None:
    c = harness.citizen(1107)
    await c.send("/hilfe")
    for command in ("/start", "/meinvotum", "/ergebnis", "/stoebern", "/sprache", "/loeschen"):
        assert command in c.last_text, command


async def test_the_full_privacy_notice_is_one_tap_away_and_consent_stays_explicit(
    harness: Harness,
) -> None:
    c = harness.citizen(1201)
    await c.send("/start flyer_dortmund")
    welcome = c.user.last_message
    assert "/meinedaten" not in welcome.text  # the full notice is not on the short welcome
    await c.press("Datenschutz lesen")
    notice = c.user.last_message
    assert notice.message_id == welcome.message_id  # in place: one message, one tap
    assert "Pseudonym" in notice.text and "/meinedaten" in notice.text
    assert "/loeschen" in notice.text
    assert c.buttons() == ["Mitmachen", "📄 Datenschutzerklärung", "Zurück"]
    policy = next(b for b in notice.buttons if b.text == "📄 Datenschutzerklärung")
    assert policy.url == harness.settings.consultation.privacy_url
    assert "Datenschutzhinweis" in (c.user.callback_answers[-1].text or "")
    assert await count_rows(harness, Participant) == 0  # reading is no consent

    await c.press("Zurück")
    assert c.last_text == welcome.text and c.buttons() == welcome.button_texts
    await c.press("Datenschutz lesen")
    await c.press("Mitmachen")  # consent from the full notice
    assert await count_rows(harness, Participant) == 1
    assert "Gewählt: 0 von 3" in c.last_text
    assert c.user.callback_answers[-1].text == "Danke! Schritt 1 von 3: Themen wählen"


async def test_each_topic_tap_is_answered_in_words(harness: Harness) -> None:
    c = harness.citizen(1202)
    await c.send("/start")
    await c.press("Mitmachen")
    # No mark on a topic not chosen (a screen reader reads no emoji name nineteen times).
    assert c.buttons()[:-1] == [t.title for t in harness.settings.consultation.topics]
    assert c.buttons()[-1] == "Weiter · 0 von 3 gewählt"
    await c.press("Mobilität & ÖPNV")
    await c.press("Sport & Events")
    answers = [a.text for a in c.user.callback_answers[-2:]]
    assert answers == ["Mobilität & ÖPNV gewählt – 1 von 3", "Sport & Events gewählt – 2 von 3"]
    assert "Gewählt: 2 von 3\n• Mobilität & ÖPNV\n• Sport & Events" in c.last_text
    # ✅ means chosen, and only the chosen have it.
    assert [b for b in c.buttons() if "✅" in b] == ["✅ Mobilität & ÖPNV", "✅ Sport & Events"]
    assert c.buttons()[-1] == "Weiter · 2 von 3 gewählt"
    await c.press("✅ Mobilität & ÖPNV")
    assert c.user.callback_answers[-1].text == "Mobilität & ÖPNV abgewählt – 1 von 3"
    assert "Mobilität" not in c.last_text and "• Sport & Events" in c.last_text
    assert "Mobilität & ÖPNV" in c.buttons() and c.buttons()[-1] == "Weiter · 1 von 3 gewählt"
    await c.press("Weiter")
    assert c.user.callback_answers[-1].text == "Schritt 2 von 3: Ihre Idee (freiwillig)"
    assert "Ihre Themen: Sport & Events" in c.last_text


async def test_an_error_at_the_idea_step_sends_only_its_reason(harness: Harness) -> None:
    c = harness.citizen(1203)
    u = c.user
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Sport & Events")
    await c.press("Weiter")
    prompt = u.last_message.message_id
    for action, reason in [
        (u.send_sticker, "als Text"),
        (u.send_voice, "als Text"),
        (u.send_photo, "als Text"),
        (lambda: u.send_text("Zu kurz"), "etwas kurz"),
        (lambda: u.send_text("x" * 1001), "zu lang"),
        (lambda: u.forward_text("Eine Idee von jemand anderem, weitergeleitet."), "selbst"),
    ]:
        before = len(u.messages)
        await c.do(action)
        assert len(u.messages) == before + 1 and reason in c.last_text, reason
        assert "Schritt 2 von 3" not in c.last_text
    # The one question still stands, with its button.
    [question] = [m for m in u.messages if "Schritt 2 von 3" in m.text]
    assert question.message_id == prompt and question.button_texts == ["Überspringen ➡️"]
    await c.send("Mehr Bolzplätze, die auch abends offen sind")
    assert "Schritt 3 von 3" in c.last_text
    [question] = [m for m in u.messages if m.message_id == prompt]
    assert question.button_texts == []  # answered: its button retired


async def test_answers_that_mean_no_idea_skip_it_and_reach_no_moderator(
    harness: Harness,
) -> None:
    for n, answer in enumerate(["ok", "Nein, danke", "keine Idee", "weiß nicht", "no thanks"]):
        c = harness.citizen(1210 + n)
        await c.send("/start")
        await c.press("Mitmachen")
        await c.press("Sport & Events")
        await c.press("Weiter")
        await c.send(answer)
        review = c.last_text
        assert review.startswith("Gut, dann ohne eigene Idee."), answer
        assert "Schritt 3 von 3" in review and "Ohne eigene Idee." in review
        await c.press("Absenden")
    data = await export(harness)
    assert data["impulses"] == [] and votes_of(data, "sport") == 5

    # While the draft has an idea, the same answer keeps it: nothing is dropped unasked.
    c = harness.citizen(1220)
    await at_review_with_idea(c)
    await c.press("Idee ändern")
    await c.send("nein danke")
    assert c.last_text.startswith("Gut, Ihre Idee bleibt, wie sie war.")
    assert "Schritt 3 von 3" in c.last_text and "Nahverkehrstarif" in c.last_text
    await c.press("Absenden")
    [impulse] = (await export(harness))["impulses"]
    assert impulse["text"] == IDEA


async def test_the_benchmarks_walk_makes_at_most_17_bot_api_calls(harness: Harness) -> None:
    """benchmarks/load.py's nine updates (start, consent, three topics, next, an idea, its
    topic, submit): a button that moves the dialog on edits its message into the next step
    (20 calls when each step was a new message)."""
    c = harness.citizen(1230)
    before = len(harness.emulator.api_calls)
    await c.send("/start")
    await c.press("Mitmachen")
    for title in ["Mobilität & ÖPNV", "Sport & Events", "Gesundheit & Pflege"]:
        await c.press(title)
    await c.press("Weiter")
    await c.send("Mehr Busse am Abend und sichere Radwege im ganzen Revier.")
    await c.press("Mobilität & ÖPNV")
    await c.press("Absenden")
    assert "Danke!" in c.last_text
    calls = [
        call.method
        for call in harness.emulator.api_calls[before:]
        if call.chat_id == c.user.id or call.method == "answerCallbackQuery"
    ]
    assert len(calls) <= 17, calls
    assert calls.count("answerCallbackQuery") == 7  # every press answered, each with words
    assert all(a.text for a in c.user.callback_answers)
