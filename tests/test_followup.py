"""Closing the loop: citizens ask at the end of the dialog to hear what came of the
consultation; a moderator's outcome message reaches exactly them, after a preview, paced, and
nobody twice. Through the emulator, as people and moderators would tap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.followup import Pacer
from bot.emulator.server import BotApiEmulator, Fault
from handlers.moderation.callbacks import DraftAction, FollowUpDraftCallback
from storage.models import AuditEntry, FollowUpDelivery, FollowUpSubscriber, ReplyAddress
from tests.digest_support import FakeClock
from tests.harness import Citizen, Harness, RunningBot, make_settings
from tests.test_languages import choose_language

WANTED_SINCE = "Ergebnis der Beteiligung gewünscht seit"  # /meinedaten, under "Ihre Teilnahme"

MOD = 900_001
ASK = "Ergebnis später zuschicken"
UNDO = "Doch keine Ergebnis-Nachricht"
OUTCOME = "Der Rat hat den Sozialtarif <ab 2027> beschlossen & dankt allen."
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def start(emulator: BotApiEmulator, database_url: str, clock: FakeClock) -> Harness:
    emulator.user(MOD, first_name="Moderation")
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset({MOD}))
    bot = RunningBot(settings, clock=clock)
    await bot.start()
    return Harness(emulator, bot)


@pytest.fixture
async def h(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    harness = await start(emulator, database_url, FakeClock(START))
    try:
        yield harness
    finally:
        await harness.bot.stop()


async def rows(h: Harness, model: Any) -> list[Any]:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        key = list(model.__table__.primary_key.columns)
        return list(await session.scalars(select(model).order_by(*key)))


async def sent_out(h: Harness) -> None:
    """Wait until the outcome messages in the background are all sent."""
    assert h.bot.app is not None
    await asyncio.wait_for(h.bot.app.followup.wait_idle(), timeout=20)
    await h.settle()


def outcome_messages(citizen: Citizen) -> list[str]:
    return [m.text for m in citizen.user.messages if "Sozialtarif" in m.text]


async def asking(h: Harness, user_id: int, *, ask: bool = True) -> Citizen:
    citizen = h.citizen(user_id)
    await citizen.take_part(["Mobilität & ÖPNV"])
    assert ASK in " ".join(citizen.buttons())  # offered on the thanks screen
    if ask:
        await citizen.press(ASK)
    return citizen


async def preview(h: Harness, command: str = "/rueckmeldung") -> Citizen:
    moderator = h.citizen(MOD)
    await moderator.send(f"{command} {OUTCOME}")
    return moderator


async def test_asking_for_the_outcome_can_be_taken_back_and_shows_in_my_data(h: Harness) -> None:
    citizen = await asking(h, 5001)
    assert "schicken Ihnen" in (citizen.user.callback_answers[-1].text or "")  # read aloud
    assert UNDO in " ".join(citizen.buttons()) and ASK not in " ".join(citizen.buttons())
    assert "Ideen anderer bewerten" in " ".join(citizen.buttons())  # the other button stays
    assert len(await rows(h, FollowUpSubscriber)) == 1
    await citizen.press(UNDO)
    assert await rows(h, FollowUpSubscriber) == []
    assert "keine Ergebnis-Nachricht" in (citizen.user.callback_answers[-1].text or "")
    await citizen.press(ASK)
    # /meinedaten says so, in the file and with a button to take it back.
    await citizen.send("/meinedaten")
    document = next(m for m in reversed(citizen.user.messages) if m.kind == "document")
    assert document.document is not None
    asked_since = json.loads(document.document)["Ihre Teilnahme"][WANTED_SINCE]
    assert asked_since and asked_since.endswith(tuple("0123456789"))  # a date, in words
    assert "Ergebnis der Beteiligung" in citizen.last_text
    await citizen.press(UNDO)
    assert await rows(h, FollowUpSubscriber) == []
    await citizen.send("/meinedaten")
    assert "Ergebnis der Beteiligung" not in citizen.last_text
    document = next(m for m in reversed(citizen.user.messages) if m.kind == "document")
    assert document.document is not None
    assert json.loads(document.document)["Ihre Teilnahme"][WANTED_SINCE] is None
    await citizen.press(ASK)  # again, and read in every other language
    for locale, participation, key in [
        ("en", "Your participation", "Outcome of the consultation requested since"),
        ("tr", "Katılımınız", "Katılımın sonucunu şu tarihten beri istiyorsunuz"),
        ("de_LS", "So machen Sie mit", "Sie wollen das Ergebnis bekommen. Seit:"),
    ]:
        await choose_language(citizen, locale)
        await citizen.send("/meinedaten")
        document = next(m for m in reversed(citizen.user.messages) if m.kind == "document")
        assert document.document is not None
        assert json.loads(document.document)[participation][key], locale


async def test_only_those_who_asked_get_it_after_a_preview_and_blocked_ones_are_skipped(
    h: Harness,
) -> None:
    wants = await asking(h, 5101)
    silent = await asking(h, 5102, ask=False)
    changed_mind = await asking(h, 5103)
    await changed_mind.press(UNDO)
    blocked = await asking(h, 5104)
    moderator = await preview(h, "/outcome")  # the English alias
    shown = moderator.user.last_message
    assert "an 2 Personen" in shown.text and "Sozialtarif <ab 2027>" in shown.text
    assert shown.button_texts == ["📨 Senden", "✏️ Ändern", "Abbrechen"]
    await sent_out(h)
    assert all(outcome_messages(c) == [] for c in (wants, silent, changed_mind, blocked))

    # The second recipient blocked the bot meanwhile: Telegram answers 403.
    h.emulator.faults.schedule("sendMessage", Fault(execute=True), Fault.blocked())
    await moderator.press("Senden")
    await sent_out(h)
    (received,) = outcome_messages(wants)
    assert "Was aus der Beteiligung geworden ist" in received and "<ab 2027>" in received
    assert all(outcome_messages(c) == [] for c in (silent, changed_mind, blocked))
    deliveries = {d.status for d in await rows(h, FollowUpDelivery)}
    assert deliveries == {"sent", "gone"}
    addresses = {a.chat_id: a.reachable for a in await rows(h, ReplyAddress)}
    assert addresses[5104] is False  # marked, not tried again
    report = moderator.last_text
    assert "1 Person hat sie bekommen" in report and "1 Person hat den Bot blockiert" in report
    actions = [e.action for e in await rows(h, AuditEntry)]
    assert {"followup_preview", "followup_send", "followup_sent"} <= set(actions)

    # The same press again (or handled again after a crash) and another drain send nothing.
    moderator.user.press_data(
        shown.message_id, FollowUpDraftCallback(message=1, action=DraftAction.SEND).pack()
    )
    await sent_out(h)
    assert h.bot.app is not None
    assert await h.bot.app.followup.drain() == []
    assert len(outcome_messages(wants)) == 1 and outcome_messages(blocked) == []
    await wants.send("/meinedaten")  # the person's own record of it
    document = next(m for m in reversed(wants.user.messages) if m.kind == "document")
    assert document.document is not None
    mine = json.loads(document.document)["Ergebnis-Nachrichten an Sie"]
    assert [(m["Nummer"], m["Stand"]) for m in mine] == [(1, "geschickt")]
    assert mine[0]["Geschickt am"].endswith(tuple("0123456789"))
    assert "schon erledigt" in (moderator.user.callback_answers[-1].text or "")


async def test_change_and_cancel_send_nothing(h: Harness) -> None:
    wants = await asking(h, 5201)
    moderator = await preview(h)
    await moderator.press("Ändern")
    assert "/rueckmeldung" in moderator.last_text
    moderator = await preview(h)
    await moderator.press("Abbrechen")
    assert "nichts gesendet" in moderator.last_text
    await sent_out(h)
    assert outcome_messages(wants) == [] and await rows(h, FollowUpDelivery) == []
    await moderator.send("/rueckmeldung")
    assert "So geht es" in moderator.last_text


@pytest.mark.slow
async def test_a_crash_in_the_middle_sends_nobody_twice(
    emulator: BotApiEmulator, database_url: str
) -> None:
    clock = FakeClock(START)
    h = await start(emulator, database_url, clock)
    try:
        people = [await asking(h, 5300 + n) for n in range(4)]
        moderator = await preview(h)
        # The second message goes out, but its answer never comes back before the crash.
        emulator.faults.schedule("sendMessage", Fault(execute=True), Fault.slow(30))
        await moderator.press("Senden")
        for _ in range(3000):  # up to 30 s on a busy machine
            if outcome_messages(people[1]):
                break
            await asyncio.sleep(0.01)
        assert [len(outcome_messages(p)) for p in people] == [1, 1, 0, 0]
        await h.bot.crash()
        # A restart waits for the lease of the crashed process, then goes on.
        clock.set(START + timedelta(minutes=3))
        await h.bot.start()
        await sent_out(h)
        assert [len(outcome_messages(p)) for p in people] == [1, 1, 1, 1]
        assert "unklar" in moderator.last_text  # the one in doubt is not sent again
        statuses = [d.status for d in await rows(h, FollowUpDelivery)]
        assert statuses == ["sent", "sending", "sent", "sent"]
        await h.bot.restart()  # and a further start sends nothing
        await sent_out(h)
        assert [len(outcome_messages(p)) for p in people] == [1, 1, 1, 1]
    finally:
        await h.bot.stop()


async def test_erasure_removes_the_request(h: Harness) -> None:
    citizen = await asking(h, 5401)
    await citizen.send("/loeschen")
    await citizen.press("Ja, alles löschen")
    assert await rows(h, FollowUpSubscriber) == []
    moderator = await preview(h)
    assert "niemand" in moderator.last_text
    await sent_out(h)
    assert outcome_messages(citizen) == []


async def test_the_pacer_keeps_to_its_rate() -> None:
    """No clock is read in the assertion: the pacer is told the time and records its sleeps."""
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(25, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(26):
        await pacer.wait()
    assert len(slept) == 25 and sum(slept) == pytest.approx(1.0)
    now[0] += 5  # after a pause, no catching up in a burst beyond the rate
    await pacer.wait()
    await pacer.wait()
    assert len(slept) == 26 and slept[-1] == pytest.approx(0.04)
