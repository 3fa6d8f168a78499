"""A step whose reply cannot go out after every retry is run again later, not apologised for.

bot.telegram.pipeline keeps such an update pending and runs it again (a replay) once the failure has
passed; the person's later updates wait behind it. At shutdown it stays pending in the inbox,
and the next start answers it.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.emulator.server import BotApiEmulator, Fault
from storage.models import Impulse, InboxUpdate
from tests.harness import FAST_RETRY, Harness, RunningBot, make_settings

SORRY = "etwas schiefgegangen"
MODERATORS = (900_077, 900_078)


async def inbox_statuses(harness: Harness) -> list[str]:
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        rows = await session.scalars(select(InboxUpdate.status).order_by(InboxUpdate.update_id))
        return list(rows)


async def test_a_reply_that_outlasts_the_retries_arrives_later_once_and_in_order(
    harness: Harness,
) -> None:
    anna = harness.citizen(7101)
    # Two full retry budgets fail: the step runs three times in all.
    harness.emulator.inject_fault("sendMessage", status=502, times=2 * FAST_RETRY.attempts)
    anna.user.send_text("/start")
    anna.user.send_text("/hilfe")
    await harness.settle()

    texts = [m.text for m in anna.user.messages]
    assert not [t for t in texts if SORRY in t]
    assert len(texts) == 2
    assert "Datenschutz" in texts[0]  # the welcome, then the help: the order they were sent
    assert "/meinvotum" in texts[1]
    sends = [c.status for c in harness.emulator.calls_to("sendMessage") if c.chat_id == 7101]
    assert sends == [502] * (2 * FAST_RETRY.attempts) + [200, 200]
    assert await inbox_statuses(harness) == ["done", "done"]


async def test_a_step_still_failing_at_shutdown_is_answered_after_the_next_start(
    harness: Harness,
) -> None:
    bert = harness.citizen(7102)
    harness.emulator.inject_fault("sendMessage", status=502, times=10_000)
    bert.user.send_text("/start")
    bert.user.send_text("/hilfe")
    await harness.emulator.wait_fetched(timeout=10)
    await harness.emulator.wait_for(
        lambda: len(harness.emulator.calls_to("sendMessage")) > 2 * FAST_RETRY.attempts
    )
    await harness.bot.stop()  # Telegram still down: nothing may be marked done

    harness.emulator.faults.clear()
    await harness.bot.start()
    await harness.settle()
    assert await inbox_statuses(harness) == ["done", "done"]
    texts = [m.text for m in bert.user.messages]
    assert len(texts) == 2
    assert "Datenschutz" in texts[0]
    assert "/meinvotum" in texts[1]
    assert not [t for t in texts if SORRY in t]


async def test_a_review_card_that_outlasts_the_retries_arrives_later_once(
    emulator: BotApiEmulator, database_url: str
) -> None:
    for moderator in MODERATORS:  # each has opened the bot
        emulator.user(moderator, first_name="Moderation")
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset(MODERATORS))
    harness = Harness(emulator, RunningBot(settings))
    await harness.bot.start()
    try:
        carla = harness.citizen(7103)
        await carla.send("/start")
        await carla.press("Mitmachen")
        await carla.press("Sport & Events")
        await carla.press("Weiter")
        await carla.send("Mehr Bolzplätze mit Flutlicht in jedem Stadtteil")
        # Submitting sends a card to each moderator: the first goes out, the second fails
        # through two full retry budgets; each moderator ends up with exactly one card.
        passes = Fault(execute=True, body=lambda _status, answer: answer, label="passes")
        emulator.faults.schedule(
            "sendMessage", passes, *[Fault.error(502)] * (2 * FAST_RETRY.attempts)
        )
        await carla.press("Absenden")

        for moderator in MODERATORS:
            cards = [m for m in emulator.user(moderator).messages if "Impuls #1" in m.text]
            assert len(cards) == 1, moderator
        assert "Danke" in carla.last_text
        assert not [m for m in carla.user.messages if SORRY in m.text]
        assert await inbox_statuses(harness) == ["done"] * 6
        assert harness.bot.app is not None
        async with harness.bot.app.database.reading() as session:
            assert await session.scalar(select(func.count()).select_from(Impulse)) == 1
    finally:
        await harness.bot.stop()
