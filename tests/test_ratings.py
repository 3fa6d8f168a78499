"""Citizens weigh each other's impulses: rating cards, reports, erasure, merges. Through the
emulator, as people would tap."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.emulator.server import BotApiEmulator
from handlers.citizen.callbacks import RateCallback, ReportCallback, UndoCallback
from storage.models import Impulse, ImpulseReport, Participant, Rating
from storage.ratings import SqlRatingRepository
from tests.harness import Citizen, Harness, RunningBot, make_settings

MOD = 900_001
IDEAS = [
    ("Mobilität & ÖPNV", "Ein gemeinsamer Tarif für Bus und Bahn im ganzen Ruhrgebiet."),
    ("Grüne Infrastruktur", "Mehr Bäume und Grünflächen in allen Innenstädten pflanzen."),
    ("Talentschulen & Bildung", "Schnelles Internet und Tablets für jede Schule im Revier."),
]


async def start(emulator: BotApiEmulator, database_url: str, **overrides: Any) -> Harness:
    emulator.add_channel("@ruhr_dialog")
    emulator.user(MOD, first_name="Moderation")
    settings = make_settings(
        emulator.base_url,
        database_url,
        moderators=frozenset({MOD}),
        moderation_mode="post",  # ideas are published at once: there is something to rate
        **overrides,
    )
    bot = RunningBot(settings)
    await bot.start()
    return Harness(emulator, bot)


@pytest.fixture
async def h(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    harness = await start(emulator, database_url)
    try:
        yield harness
    finally:
        await harness.bot.stop()


async def authors(h: Harness, ideas: list[tuple[str, str]] = IDEAS) -> list[Citizen]:
    people = []
    for n, (topic, idea) in enumerate(ideas):
        author = h.citizen(7000 + n)
        await author.take_part([topic], impulse=idea)
        people.append(author)
    return people


def shown_id(citizen: Citizen) -> int | None:
    found = re.search(r"Idee #(\d+)", citizen.last_text)
    return int(found.group(1)) if found else None


async def rate_all(citizen: Citizen, button: str = "Stimme zu") -> list[int]:
    """Tap through every card; the ids shown, in order."""
    seen = []
    while (impulse := shown_id(citizen)) is not None:
        seen.append(impulse)
        await citizen.press(button)
        assert len(seen) < 50
    return seen


async def rows(h: Harness, model: Any) -> list[Any]:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        # In key order: a table without ORDER BY comes back in whatever order the rows lie.
        key = [column for column in model.__table__.primary_key.columns]
        return list(await session.scalars(select(model).order_by(*key)))


async def test_cards_come_one_at_a_time_never_twice_never_ones_own(h: Harness) -> None:
    first, *_ = await authors(h)
    assert "Ideen anderer bewerten" in " ".join(first.buttons())  # offered on the thanks screen
    reader = h.citizen(7100)
    await reader.take_part(["Sport & Events"])
    await reader.press("Ideen anderer bewerten")
    card = reader.user.last_message
    assert "Idee #1" in card.text and "Mobilität & ÖPNV" in card.text
    assert card.button_texts == [
        "👍 Stimme zu",
        "👎 Stimme nicht zu",
        "🤷 Weiß nicht",
        "⚠️ Melden",
        "⏸ Pause",
    ]
    assert await rate_all(reader) == [1, 2, 3]
    assert reader.user.last_message.message_id == card.message_id  # edited in place
    assert "alle veröffentlichten Ideen gesehen" in reader.last_text
    await reader.send("/stoebern")
    assert "alle veröffentlichten Ideen gesehen" in reader.last_text

    # The author of #1 never gets their own idea; cards with fewer ratings come first.
    await first.send("/stoebern")
    assert await rate_all(first, "Weiß nicht") == [2, 3]
    late = h.citizen(7101)
    await late.take_part(["Sport & Events"])
    await late.send("/stoebern")
    assert shown_id(late) == 1  # #1 has one rating, #2 and #3 two each


async def test_only_registered_citizens_rate(h: Harness) -> None:
    await authors(h, IDEAS[:1])
    stranger = h.citizen(7200)
    await stranger.send("/stoebern")
    assert "/start" in stranger.last_text and "Idee #" not in stranger.last_text
    stranger.user.send_text("/start")
    await h.settle()
    stranger.user.press_data(
        stranger.user.last_message.message_id, RateCallback(impulse=1, opinion="a").pack()
    )
    await h.settle()
    assert "/start" in (stranger.user.callback_answers[-1].text or "")
    assert await rows(h, Rating) == []


async def test_no_card_for_a_pseudonym_that_takes_no_part(h: Harness) -> None:
    # The card's statement looks the person up itself: an unknown pseudonym must not pass its
    # conditions as NULL, not even for an idea whose author erased their data.
    await authors(h, IDEAS[:1])
    assert h.bot.app is not None
    database = h.bot.app.database
    async with database.transaction() as session:
        await session.execute(update(Impulse).values(participant_id=None))
    repository = SqlRatingRepository(database)
    assert await repository.next_card("a pseudonym nobody has") is None
    someone = (await rows(h, Participant))[0].pseudonym
    assert await repository.next_card(someone) is not None  # a participant gets that card


async def test_a_changed_rating_counts_once_the_latest(h: Harness) -> None:
    await authors(h, IDEAS[:2])
    reader = h.citizen(7300)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    card = reader.user.last_message.message_id
    await reader.press("Stimme zu")
    # A stale copy of the first card (say, on another device): the latest tap counts.
    reader.user.press_data(card, RateCallback(impulse=1, opinion="d").pack())
    await h.settle()
    ratings = [(r.impulse_id, r.value) for r in await rows(h, Rating)]
    assert ratings == [(1, -1)]


async def test_reports_hold_an_impulse_for_the_moderators(h: Harness) -> None:
    await authors(h, IDEAS[:2])
    moderator = h.citizen(MOD)
    cards_before = len(moderator.user.messages)
    for n in range(3):
        reader = h.citizen(7400 + n)
        await reader.take_part(["Sport & Events"])
        await age(h, days=2)  # reports count from people who took part a day before or more
        await reader.send("/stoebern")
        assert shown_id(reader) == 1
        await reader.press("Melden")
        assert "Werbung oder Spam" in reader.buttons()
        await reader.press("beleidigend" if n == 1 else "Werbung oder Spam")
        assert "Danke für Ihre Meldung" in (reader.user.callback_answers[-1].text or "")
        assert shown_id(reader) == 2  # the next card; the reported one is not shown again
        status = {i.id: i.status for i in await rows(h, Impulse)}
        assert status[1] == ("pending" if n == 2 else "approved")  # nothing hidden before N
    new_cards = moderator.user.messages[cards_before:]
    [held] = [m for m in new_cards if "Impuls #1" in m.text]  # a review card for the held one
    # It says why it is back: how many reports, for which reasons.
    assert (
        "Zurück zur Prüfung nach 3 Meldungen: Werbung oder Spam (2), beleidigend (1)" in held.text
    ), held.text
    newcomer = h.citizen(7410)
    await newcomer.take_part(["Sport & Events"])
    await newcomer.send("/stoebern")
    assert shown_id(newcomer) == 2  # out of the rotation until a moderator decides
    assert len(await rows(h, ImpulseReport)) == 3


async def test_ratings_are_in_my_data_and_go_with_erasure(h: Harness) -> None:
    await authors(h, IDEAS[:2])
    reader = h.citizen(7500)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    await reader.press("Stimme nicht zu")
    await reader.press("Melden")
    await reader.press("beleidigend")
    await reader.send("/meinedaten")
    document = reader.user.last_message.document
    assert document is not None
    mine = json.loads(document)
    ratings = [(r["Idee Nummer"], r["Ihre Bewertung"]) for r in mine["Ihre Bewertungen"]]
    assert ratings == [(1, "stimme nicht zu")]
    assert [(r["Idee Nummer"], r["Grund"]) for r in mine["Ihre Meldungen"]] == [(2, "beleidigend")]
    await reader.send("/loeschen")
    await reader.press("Ja, alles löschen")
    assert await rows(h, Rating) == [] and await rows(h, ImpulseReport) == []


BUS = ("Mobilität & ÖPNV", "Ein gemeinsamer Tarif für Bus und Bahn im ganzen Ruhrgebiet.")
BUS_AGAIN = "Ein einheitliches Ticket für Busse und Bahnen im gesamten Ruhrgebiet"


async def write_idea(citizen: Citizen, idea: str, topic: str = "Mobilität & ÖPNV") -> None:
    await citizen.send("/start")
    await citizen.press("Mitmachen")
    await citizen.press(topic)
    await citizen.press("Weiter")
    await citizen.send(idea)


async def test_a_similar_idea_can_be_supported_instead(h: Harness) -> None:
    await authors(h, [BUS, IDEAS[1]])
    citizen = h.citizen(7600)
    await write_idea(citizen, BUS_AGAIN)
    hint = citizen.last_text
    assert "Ähnliche Ideen gibt es schon" in hint and "#1" in hint and "#2" not in hint
    assert citizen.buttons() == ["👍 #1 unterstützen", "Meine Idee trotzdem senden"]
    await citizen.press("#1 unterstützen")
    assert "Ohne eigene Idee" in citizen.last_text  # the review, without their own text
    await citizen.press("Absenden")
    assert [i.id for i in await rows(h, Impulse)] == [1, 2]
    assert [(r.impulse_id, r.value) for r in await rows(h, Rating)] == [(1, 1)]


async def test_a_similar_idea_can_still_be_sent_and_turkish_works(h: Harness) -> None:
    turkish = ("Mobilität & ÖPNV", "Ruhrgebiet genelinde otobüs ve tren için tek bir bilet olsun.")
    await authors(h, [BUS, turkish])
    citizen = h.citizen(7700)  # a Turkish idea, written with a German client
    await write_idea(citizen, "Ruhr bölgesinde otobüs ve trenler için ortak bilet istiyoruz")
    assert "#2" in citizen.last_text and "#1" not in citizen.last_text
    await citizen.press("Meine Idee trotzdem senden")
    assert "ortak bilet" in citizen.last_text  # the review, with their own text
    await citizen.press("Absenden")
    assert len(await rows(h, Impulse)) == 3
    unrelated = h.citizen(7701)
    await write_idea(unrelated, "Die Schwimmbäder im Sommer länger öffnen, bis 22 Uhr.")
    assert "Bitte prüfen" in unrelated.last_text  # no hint: straight to the review


async def test_moderators_see_similar_ideas_and_merge_carries_supporters(h: Harness) -> None:
    await authors(h, [BUS])
    second = h.citizen(7800)
    await write_idea(second, BUS_AGAIN)
    await second.press("Meine Idee trotzdem senden")
    await second.press("Absenden")
    moderator = h.citizen(MOD)
    card = moderator.user.last_message
    assert "Impuls #2" in card.text and "Ähnlich: #1" in card.text
    # Two supporters of #2; one of them disagreed with #1 already and keeps that.
    fan, critic = h.citizen(7801), h.citizen(7802)
    for person in (fan, critic):
        await person.take_part(["Sport & Events"])
    await critic.send("/stoebern")
    await critic.press("Stimme nicht zu")  # #1
    await critic.press("Stimme zu")  # #2
    await fan.send("/stoebern")
    await fan.do(  # the fan supports #2 only (as from the similar-idea hint)
        lambda: fan.user.press_data(
            fan.user.last_message.message_id, RateCallback(impulse=2, opinion="a").pack()
        )
    )

    await moderator.press("Duplikat von #1", message_id=card.message_id)
    asked = next(m for m in moderator.user.messages if m.message_id == card.message_id)
    assert "#2 mit #1 zusammenführen?" in asked.text
    assert asked.button_texts == ["Ja, zusammenführen", "Abbrechen"]
    assert {i.id: i.status for i in await rows(h, Impulse)}[2] != "merged"  # asked first
    await moderator.press("Ja, zusammenführen", message_id=card.message_id)
    assert "zusammengeführt" in (moderator.user.callback_answers[-1].text or "")
    impulses = {i.id: i for i in await rows(h, Impulse)}
    assert (impulses[2].status, impulses[2].merged_into) == ("merged", 1)
    ratings = {(r.participant_id, r.impulse_id): r.value for r in await rows(h, Rating)}
    on_first = sorted(v for (_p, i), v in ratings.items() if i == 1)
    assert on_first == [-1, 1]  # the fan's agreement carried over, the critic's "no" stays
    assert (await counted(h))[1] == (2, 2)  # the kept count follows the carried ratings
    await moderator.send("/merge 2 1")
    assert "kann nicht" in moderator.last_text  # already merged
    await moderator.send("/audit")
    assert "als Duplikat zusammengeführt · Impuls #2 – in #1" in moderator.last_text


async def test_the_report_question_stands_above_the_reasons(h: Harness) -> None:
    await authors(h, IDEAS[:1])
    reader = h.citizen(7600)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    await reader.press("Melden")
    asked = reader.last_text
    assert "Warum melden Sie diese Idee?" in asked and "Was meinen Sie" not in asked
    assert "Idee #1" in asked and IDEAS[0][1] in asked  # still the same card
    await reader.press("Zurück")
    assert "Was meinen Sie zu dieser Idee?" in reader.last_text
    assert "Warum melden" not in reader.last_text
    assert "👍 Stimme zu" in reader.buttons()


async def test_browsing_with_no_published_idea_says_so(h: Harness) -> None:
    reader = h.citizen(7601)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    assert "Noch ist keine Idee veröffentlicht" in reader.last_text
    assert "alle veröffentlichten Ideen gesehen" not in reader.last_text


async def age(h: Harness, *, days: int) -> None:
    """Everyone took part `days` earlier than they did."""
    assert h.bot.app is not None
    async with h.bot.app.database.transaction() as session:
        people = (await session.execute(select(Participant.id, Participant.consented_at))).all()
        for pid, consented in people:
            await session.execute(
                update(Participant)
                .where(Participant.id == pid)
                .values(consented_at=consented - timedelta(days=days))
            )


async def test_reports_of_fresh_accounts_do_not_hold_an_idea(h: Harness) -> None:
    await authors(h, IDEAS[:1])
    for n in range(3):
        fresh = h.citizen(7420 + n)
        await fresh.take_part(["Sport & Events"])
        await fresh.send("/stoebern")
        await fresh.press("Melden")
        await fresh.press("Werbung oder Spam")
        assert "Danke für Ihre Meldung" in (fresh.user.callback_answers[-1].text or "")
    assert [i.status for i in await rows(h, Impulse)] == ["approved"]  # three new accounts
    assert len(await rows(h, ImpulseReport)) == 3  # recorded all the same


async def counted(h: Harness) -> dict[int, tuple[int, int]]:
    """Per impulse: the kept rating count and a fresh count of ratings by active people."""
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        fresh = dict(
            (
                await session.execute(
                    select(Rating.impulse_id, func.count())
                    .join(Participant, Participant.id == Rating.participant_id)
                    .where(Participant.status == "active")
                    .group_by(Rating.impulse_id)
                )
            ).all()
        )
        kept = (await session.execute(select(Impulse.id, Impulse.rating_count))).all()
    return {i: (n, int(fresh.get(i, 0))) for i, n in kept}


async def test_rating_counts_are_kept_through_rating_blocking_erasure_and_merge(
    h: Harness,
) -> None:
    people = await authors(h)  # #1, #2, #3; each author rates the other two
    for person in people:
        await person.send("/stoebern")
        assert len(await rate_all(person)) == 2
    assert all(kept == fresh == 2 for kept, fresh in (await counted(h)).values())
    # A changed rating is no new one.
    reader = h.citizen(7900)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    card, first = reader.user.last_message.message_id, shown_id(reader)
    await reader.press("Stimme zu")
    reader.user.press_data(card, RateCallback(impulse=first or 0, opinion="d").pack())
    await h.settle()
    moderator = h.citizen(MOD)
    await moderator.send("/block 1")  # the author of #1: their two ratings stop counting
    await moderator.press("Ja, sperren")
    after_block = await counted(h)
    assert all(kept == fresh for kept, fresh in after_block.values()), after_block
    assert sum(kept for kept, _ in after_block.values()) == 4 + 1
    await moderator.send("/unblock 1")
    await people[1].send("/loeschen")
    await people[1].press("Ja, alles löschen")  # their ratings go with them
    final = await counted(h)
    assert all(kept == fresh for kept, fresh in final.values()), final
    assert sum(kept for kept, _ in final.values()) == 6 + 1 - 2  # #2 was published: it stays


async def test_an_author_cannot_rate_or_report_their_own_idea_with_forged_buttons(
    h: Harness,
) -> None:
    (author,) = await authors(h, IDEAS[:1])
    message = author.user.last_message.message_id
    for data in (
        RateCallback(impulse=1, opinion="a").pack(),
        ReportCallback(impulse=1, reason="spam").pack(),
    ):
        await author.do(lambda d=data: author.user.press_data(message, d))
    assert await rows(h, Rating) == [] and await rows(h, ImpulseReport) == []
    assert (await counted(h))[1] == (0, 0)


async def test_each_card_says_where_the_reader_is(h: Harness) -> None:
    first, *_ = await authors(h)
    reader = h.citizen(8100)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    assert "Idee 1 von 3" in reader.last_text
    await reader.press("Stimme zu")
    assert "Idee 2 von 3" in reader.last_text
    await reader.press("Melden")
    await reader.press("Werbung oder Spam")  # a reported idea counts as seen too
    assert "Idee 3 von 3" in reader.last_text
    await first.send("/stoebern")  # their own idea is not among them
    assert "Idee 1 von 2" in first.last_text


async def test_the_last_rating_can_be_taken_back_one_step(h: Harness) -> None:
    await authors(h)
    reader = h.citizen(8200)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    assert "↩️ Rückgängig" not in reader.buttons()  # nothing rated yet
    await reader.press("Stimme nicht zu")
    assert shown_id(reader) == 2 and "↩️ Rückgängig" in reader.buttons()
    await reader.press("Rückgängig")
    assert shown_id(reader) == 1 and "zurückgenommen" in reader.last_text
    assert "Idee 1 von 3" in reader.last_text
    assert "↩️ Rückgängig" not in reader.buttons()  # one step only
    ratings = [r for r in await rows(h, Rating) if r.impulse_id == 1]
    assert ratings == []
    assert all(kept == fresh for kept, fresh in (await counted(h)).values())
    # The same undo again (a second tap, or a forged one) takes nothing more away.
    message = reader.user.last_message.message_id
    await reader.do(lambda: reader.user.press_data(message, UndoCallback(impulse=1).pack()))
    assert "nichts zurückzunehmen" in (reader.user.callback_answers[-1].text or "")
    await reader.press("Stimme zu")
    assert [(r.impulse_id, r.value) for r in await rows(h, Rating) if r.impulse_id == 1] == [(1, 1)]
    counts = await counted(h)
    assert all(kept == fresh for kept, fresh in counts.values()), counts
    assert counts[1] == (1, 1)


async def test_a_pause_says_how_to_go_on(h: Harness) -> None:
    await authors(h)
    reader = h.citizen(8300)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    await reader.press("Stimme zu")
    card = reader.user.last_message
    await reader.press("Pause")
    assert reader.user.last_message.message_id == card.message_id  # the card gives way
    assert "/stoebern" in reader.last_text and reader.buttons() == []
    await reader.send("/stoebern")
    assert shown_id(reader) == 2 and "Idee 2 von 3" in reader.last_text


async def test_a_card_notes_an_idea_in_another_language(h: Harness) -> None:
    await authors(h, IDEAS[:1])  # German
    english = h.citizen(8400, language_code="en")
    await english.send("/start")
    await english.press("Take part")
    await english.press("Mobility & public transport")
    await english.press("Next")
    await english.send("A single ticket for every bus and train in the whole Ruhr area.")
    await english.press("Submit")
    assert [i.locale for i in await rows(h, Impulse)] == ["de", "en"]  # kept with the idea
    reader = h.citizen(8401)
    await reader.take_part(["Sport & Events"])
    await reader.send("/stoebern")
    assert shown_id(reader) == 1 and "geschrieben" not in reader.last_text
    await reader.press("Stimme zu")
    assert shown_id(reader) == 2 and "Diese Idee ist auf Englisch geschrieben." in reader.last_text
    assert h.bot.app is not None
    async with h.bot.app.database.transaction() as session:  # an idea from before it was kept
        await session.execute(update(Impulse).where(Impulse.id == 2).values(locale=None))
    await reader.send("/stoebern")
    assert shown_id(reader) == 2 and "geschrieben" not in reader.last_text  # unknown: no note
