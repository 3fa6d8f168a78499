"""Abuse: flooding, contact data in ideas, the same idea twice, groups, edits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiogram.types import Update
from sqlalchemy import event, func, select

from bot.domain.clock import system_clock
from bot.domain.impulse import contact_data
from bot.emulator.server import BotApiEmulator, Fault
from bot.ops.export import snapshot
from bot.telegram.throttling import (
    FLOOD_GATE_MARGIN,
    FloodGate,
    MemoryRateLimiter,
    RateLimiter,
    Verdict,
)
from storage.models import Base, InboxUpdate
from tests.harness import Harness, RunningBot, make_settings


async def start(emulator: BotApiEmulator, database_url: str, **abuse: Any) -> Harness:
    settings = make_settings(emulator.base_url, database_url)
    settings = settings.with_overrides(abuse=replace(settings.abuse, **{"rate_burst": 20, **abuse}))
    bot = RunningBot(settings)
    await bot.start()
    return Harness(emulator, bot)


@pytest.fixture
async def strict(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    harness = await start(emulator, database_url)
    try:
        yield harness
    finally:
        await harness.bot.stop()


async def test_rate_limiter_refills_and_notifies_once() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    assert [await limiter.check(1) for _ in range(5)] == [
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.NOTIFY,
        Verdict.DROP,
    ]
    assert await limiter.check(2) is Verdict.ALLOW  # somebody else is not affected
    now[0] = 1.0  # one token back after a second at 60 per minute
    assert await limiter.check(1) is Verdict.ALLOW
    assert await limiter.check(1) is Verdict.NOTIFY  # a new flood gets a new notice
    now[0] = 1000.0
    await limiter.check(3)  # sweeping drops the buckets that refilled long ago
    assert len(limiter) == 1
    limiter.forget(3)
    assert len(limiter) == 0


async def test_a_flood_gets_one_notice_and_never_reaches_the_database(
    emulator: BotApiEmulator, database_url: str
) -> None:
    # One token a minute: nothing refills while the test runs, so the count is exact.
    strict = await start(emulator, database_url, rate_per_minute=1)
    assert strict.bot.app is not None
    flooder, other = strict.citizen(7001), strict.citizen(7002)
    for _ in range(20):  # the whole burst: these are handled normally
        flooder.user.send_text("Hallo?")
    await strict.settle()
    statements: list[str] = []

    inbox: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Recording and finishing updates is the inbox's job; BEGIN belongs to those too.
        if "inbox" not in statement and not statement.startswith("BEGIN"):
            statements.append(statement)
        elif "inbox" in statement:
            inbox.append(statement)

    engines = {strict.bot.app.database.write_engine, strict.bot.app.database.read_engine}
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for _ in range(15):
            flooder.user.send_text("Hallo???")
        await strict.settle()
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert statements == [], statements[:5]
    # What the dropped updates did reach: the inbox, which records each update before the
    # throttling runs (and on PostgreSQL checks its order) and marks it done after; its
    # statements name no other table.
    others = [t for t in Base.metadata.tables if not t.startswith("inbox")]
    assert inbox and not [s for s in inbox for t in others if f" {t}" in s], inbox[:3]
    notices = [m for m in flooder.user.messages if "langsamer" in m.text]
    assert len(notices) == 1
    answered = len(flooder.user.messages)

    # Somebody else, in the middle of the same flood (one getUpdates batch), is served.
    for _ in range(5):
        flooder.user.send_text("Hallo????")
    other.user.send_text("/hilfe")
    for _ in range(5):
        flooder.user.send_text("Hallo?????")
    await strict.settle()
    assert "Hilfe" in other.last_text and not [
        m for m in other.user.messages if "langsamer" in m.text
    ]
    assert len(flooder.user.messages) == answered  # the flood still gets nothing
    await strict.bot.stop()


async def inbox_rows(harness: Harness) -> int:
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxUpdate)) or 0)


async def test_a_press_flood_stops_before_the_inbox_and_others_are_still_answered(
    emulator: BotApiEmulator, database_url: str
) -> None:
    # A burst of 5 and one token a minute: nothing refills while the test runs.
    strict = await start(emulator, database_url, rate_per_minute=1, rate_burst=5)
    assert strict.bot.app is not None
    flooder, other = strict.citizen(7011), strict.citizen(7012)
    await flooder.send("/start")
    keyboard = flooder.user.last_message
    data = next(b.callback_data for b in keyboard.buttons if "Mitmachen" in b.text)
    assert data is not None
    # As if the /start was long ago: both buckets are full when the presses begin.
    limiter: RateLimiter = strict.bot.app.dispatcher["rate_limiter"]
    limiter.forget(flooder.user.id)
    rows_before = await inbox_rows(strict)
    for n in range(400):  # as fast as a script presses, all fetched before any is handled
        flooder.user.press_data(keyboard.message_id, data)
        if n == 200:
            other.user.send_text("/hilfe")
    await strict.settle()

    # The gate lets the burst and its margin through: the throttling answers the first over
    # the limit with the notice there, and drops (and answers) the few after it.
    let_through = 5 + FLOOD_GATE_MARGIN
    assert await inbox_rows(strict) - rows_before == let_through + 1  # and the other's /hilfe
    answers = flooder.user.callback_answers
    assert len(answers) == let_through
    assert [a.text for a in answers if a.text and "langsamer" in a.text]  # the notice, once
    gate: FloodGate = strict.bot.app.dispatcher["flood_gate"]
    assert gate.dropped == 400 - let_through
    # Somebody else, in the middle of the flood, is answered as usual.
    assert "Hilfe" in other.last_text
    assert not [m for m in other.user.messages if "langsamer" in m.text]
    await strict.bot.stop()


def press(update_id: int, user_id: int) -> Update:
    """A button press as Telegram sends it."""
    person = {"id": user_id, "is_bot": False, "first_name": "Test"}
    message = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": user_id, "type": "private", "first_name": "Test"},
        "text": "Schritt 1 von 3",
    }
    query = {
        "id": str(update_id),
        "from": person,
        "message": message,
        "chat_instance": "1",
        "data": "topic:sport",
    }
    return Update.model_validate({"update_id": update_id, "callback_query": query})


async def test_the_gate_judges_a_press_delivered_again_as_the_first_time() -> None:
    """While the database is away nothing is confirmed, and each getUpdates brings the same
    presses again: they must not spend the person's tokens once per delivery."""
    gate = FloodGate(MemoryRateLimiter(per_minute=1, burst=2, clock=lambda: 0.0), frozenset())
    first, second, third = press(1, 7020), press(2, 7020), press(3, 7020)
    for _ in range(20):  # delivered again and again during an outage
        assert await gate.admits(first) and await gate.admits(second)
    assert gate.dropped == 0
    assert not await gate.admits(third)  # a new press over the burst is dropped
    assert not await gate.admits(third)  # and stays so when it comes again
    assert gate.dropped == 1
    assert await gate.admits(first)
    # Bounded: the oldest verdicts go, the recent ones stay.
    limiter = MemoryRateLimiter(per_minute=1, burst=1, clock=lambda: 0.0)
    small = FloodGate(limiter, frozenset(), memory=2)
    assert await small.admits(press(10, 7021))
    assert not await small.admits(press(11, 7021))
    assert not await small.admits(press(12, 7021))
    assert not await small.admits(press(10, 7021))  # forgotten: judged anew, over the burst
    assert len(small._verdicts) == 2


async def test_a_step_run_again_after_a_passing_failure_is_not_charged_twice(
    emulator: BotApiEmulator, database_url: str
) -> None:
    """The Bot API fails the step's edit until the client gives up, so the pipeline runs the
    step again: the throttling lets it through on the verdict it gave the first time, instead
    of taking a token of a bucket that holds none by then."""
    strict = await start(emulator, database_url, rate_per_minute=1, rate_burst=2)
    citizen = strict.citizen(7022)
    await citizen.send("/start")
    emulator.faults.schedule("editMessageText", *[Fault.html_page(502) for _ in range(5)])
    await citizen.press("Mitmachen")  # the second and last token
    assert "Gewählt: 0 von 3" in citizen.last_text
    assert not [a for a in citizen.user.callback_answers if a.text and "langsamer" in a.text]
    assert [m for m, _ in emulator.faults.injected] == ["editMessageText"] * 5  # all used
    await strict.bot.stop()


async def test_a_message_flood_is_never_dropped_unseen(
    emulator: BotApiEmulator, database_url: str
) -> None:
    # Messages may carry an idea: each reaches the inbox and the throttling, none the gate.
    strict = await start(emulator, database_url, rate_per_minute=1, rate_burst=3)
    assert strict.bot.app is not None
    flooder = strict.citizen(7013)
    rows_before = await inbox_rows(strict)
    for _ in range(30):
        flooder.user.send_text("Hallo?")
    await strict.settle()
    assert await inbox_rows(strict) - rows_before == 30
    assert [m for m in flooder.user.messages if "langsamer" in m.text]
    gate: FloodGate = strict.bot.app.dispatcher["flood_gate"]
    assert gate.dropped == 0
    await strict.bot.stop()


async def test_erasure_forgets_the_rate_limit_state(strict: Harness) -> None:
    assert strict.bot.app is not None
    limiter: RateLimiter = strict.bot.app.dispatcher["rate_limiter"]
    c = strict.citizen(7003)
    await c.take_part(["Sport & Events"])
    await c.send("/loeschen")
    await c.press("Ja, alles löschen")
    assert "gelöscht" in c.last_text
    assert isinstance(limiter, MemoryRateLimiter) and 7003 not in limiter
    gate: FloodGate = strict.bot.app.dispatcher["flood_gate"]
    assert isinstance(gate._limiter, MemoryRateLimiter)
    assert 7003 not in gate._limiter  # the flood gate's bucket too


async def test_contact_data_is_refused_when_configured(
    emulator: BotApiEmulator, database_url: str
) -> None:
    h = await start(emulator, database_url, links="refuse")
    try:
        c = h.citizen(7004)
        await c.send("/start")
        await c.press("Mitmachen")
        await c.press("Sport & Events")
        await c.press("Weiter")
        await c.send("Mehr Sport, Infos unter www.mein-verein-shop.de oder 0201 1234567")
        assert "Links, E-Mail-Adressen und Telefonnummern" in c.last_text
        assert "Schritt 2 von 3" in c.user.messages[-2].text  # the question, not asked again
        await c.send("Mehr Sport für alle im Stadtteil, auch abends")
        assert "Schritt 3 von 3" in c.last_text
    finally:
        await h.bot.stop()


async def test_contact_data_is_held_for_review_even_in_post_moderation(
    emulator: BotApiEmulator, database_url: str
) -> None:
    h = await start(emulator, database_url, links="hold")
    h.bot.settings = h.settings.with_overrides(moderation_mode="post")
    await h.bot.restart()
    try:
        await h.citizen(7005).take_part(
            ["Sport & Events"], impulse="Mehr Sportplätze, Kontakt: sport@example.org"
        )
        await h.citizen(7006).take_part(
            ["Sport & Events"], impulse="Mehr Sportplätze in Gelsenkirchen"
        )
        assert h.bot.app is not None
        data = await snapshot(h.settings, h.bot.app.database, system_clock())
        assert [i["status"] for i in data["impulses"]] == ["pending", "approved"]
    finally:
        await h.bot.stop()


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Bitte anrufen: 0201 1234567", {"phone"}),
        ("Mobil +49 176 12345678 erreichbar", {"phone"}),
        ("0049 (0201) 123-45-67", {"phone"}),
        ("Tel. 0176/12345678", {"phone"}),
        ("Infos auf www.mein-verein-shop.de", {"link"}),
        ("Schreiben Sie an sport@example.org", {"email"}),
        # Numbers that are not phone numbers: years, amounts, dates, lines, times.
        ("Im Jahr 2026 für 12.000 Menschen, 4.000.000 Euro", set()),
        ("Linie 107 alle 10 Minuten, am 18.05.2026 um 18:00", set()),
    ],
)
def test_contact_data_finds_each_kind_on_its_own(text: str, kinds: set[str]) -> None:
    assert contact_data(text) == kinds


async def test_a_phone_number_alone_is_refused_or_held(
    emulator: BotApiEmulator, database_url: str
) -> None:
    idea = "Mehr Sportplätze im Stadtteil, Rückfragen gern unter 0201 1234567"
    h = await start(emulator, database_url, links="refuse")
    try:
        c = h.citizen(7010)
        await c.send("/start")
        await c.press("Mitmachen")
        await c.press("Sport & Events")
        await c.press("Weiter")
        await c.send(idea)
        assert "Links, E-Mail-Adressen und Telefonnummern" in c.last_text
        assert "Schritt 2 von 3" in c.user.messages[-2].text  # the question, not asked again
    finally:
        await h.bot.stop()
    h.bot.settings = h.settings.with_overrides(
        abuse=replace(h.settings.abuse, links="hold"), moderation_mode="post"
    )
    await h.bot.start()
    try:
        await h.citizen(7011).take_part(["Sport & Events"], impulse=idea)
        assert h.bot.app is not None
        data = await snapshot(h.settings, h.bot.app.database, system_clock())
        assert [i["status"] for i in data["impulses"]] == ["pending"]
    finally:
        await h.bot.stop()


async def test_the_same_idea_twice_is_refused(harness: Harness) -> None:
    c = harness.citizen(7007)
    await c.take_part(["Mobilität & ÖPNV"], impulse="Ein Ticket für den ganzen VRR, günstig!")
    await c.send("/meinvotum")
    await c.press("Wahl ändern")
    await c.press("Weiter")
    # Equal after case and punctuation, and nearly so (one word more).
    for again in [
        "ein Ticket für den ganzen VRR günstig",
        "Ein Ticket für den ganzen VRR, bitte günstig!",
    ]:
        await c.send(again)
        assert "schon geschickt" in c.last_text, again
    await c.send("Busse im 10-Minuten-Takt auch am Abend")
    assert "Schritt 3 von 3" in c.last_text
    # Another person's same idea is their own first one: taken.
    other = harness.citizen(7017)
    await other.send("/start")
    await other.press("Mitmachen")
    await other.press("Mobilität & ÖPNV")
    await other.press("Weiter")
    await other.send("Ein Ticket für den ganzen VRR, günstig!")
    assert "Schritt 3 von 3" in other.last_text


async def test_groups_get_silence_and_the_bot_leaves(harness: Harness) -> None:
    group = harness.emulator.add_group("Stammtisch Wattenscheid")
    c = harness.citizen(7008)
    await c.do(lambda: c.user.send_text_in_group(group, "/start"))
    assert harness.emulator.chat_messages(group) == []
    assert harness.emulator.calls_to("leaveChat")


async def test_an_edited_message_is_not_taken_and_changes_nothing(harness: Harness) -> None:
    c = harness.citizen(7009)
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Sport & Events")
    await c.press("Weiter")
    await c.send("Sportplätze auch abends beleuchten")
    assert "Schritt 3 von 3" in c.last_text
    review = c.user.last_message.message_id
    incoming = harness.emulator._private_chat(c.user).incoming  # what the person sent
    idea = next(i for i, m in incoming.items() if m.get("text", "").startswith("Sportplätze"))
    await c.do(lambda: c.user.edit_text(idea, "Ganz andere Idee, nachträglich geändert"))
    assert "Geänderte Nachrichten" in c.last_text
    await c.press("Absenden", message_id=review)
    assert harness.bot.app is not None
    data = await snapshot(harness.settings, harness.bot.app.database, system_clock())
    assert data["impulses"][0]["text"] == "Sportplätze auch abends beleuchten"
