"""Moderators are told in Telegram, once per incident, when a digest cannot be posted: after
five failed attempts in a row (Telegram or the way to it is down), or at once when only the
operator can fix it (the channel refuses the bot). Through the emulator, with the real bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.domain.incidents import DIGEST_FAILURES_TO_TELL
from bot.emulator.faults import Fault
from bot.emulator.server import BotApiEmulator
from tests.digest_support import MAY_18_1800, DigestHarness, digest_harness, digest_rows
from tests.harness import FAST_RETRY

MODERATOR = 7_400_001
SESSION_TRIES = FAST_RETRY.attempts  # one failed attempt: the session tried this often
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@pytest.fixture
async def dh(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[DigestHarness]:
    emulator.user(MODERATOR, first_name="Moderation")
    start = MAY_18_1800 - timedelta(hours=6)
    async for harness in digest_harness(
        emulator, database_url, start, moderators=frozenset({MODERATOR})
    ):
        yield harness


def told(dh: DigestHarness) -> list[str]:
    return [m.text or "" for m in dh.emulator.user(MODERATOR).messages]


async def attempt(dh: DigestHarness, wake: datetime) -> datetime:
    """Tick at each wake-up (the scheduler wakes at least once a minute) until the digest was
    tried once more; returns the next wake-up."""
    before = len(dh.emulator.calls_to("sendPhoto"))
    for _ in range(20):
        wake = await dh.tick(wake)
        if len(dh.emulator.calls_to("sendPhoto")) > before:
            return wake
    raise AssertionError("the digest was not tried again")


async def failed_attempts(dh: DigestHarness, first: datetime, count: int) -> datetime:
    """`count` attempts that Telegram answers 502 throughout; returns the next wake-up."""
    dh.emulator.inject_fault("sendPhoto", status=502, times=SESSION_TRIES * count)
    wake = first
    for _ in range(count):
        wake = await attempt(dh, wake)
    return wake


@pytest.mark.slow
async def test_told_once_after_failures_in_a_row_and_again_for_the_next_incident(
    dh: DigestHarness,
) -> None:
    await dh.tick(MAY_18_1800 - 60 * MINUTE)  # the day before: nobody yet, skipped
    await dh.seed(["energie"], at=MAY_18_1800 - 30 * MINUTE)

    wake = await failed_attempts(dh, MAY_18_1800, DIGEST_FAILURES_TO_TELL - 1)
    assert told(dh) == []  # a passing disturbance is not an incident yet
    wake = await failed_attempts(dh, wake, 1)
    assert dh.posts() == []
    assert len(told(dh)) == 1
    assert f"Telegram hat ihn {DIGEST_FAILURES_TO_TELL}-mal hintereinander" in told(dh)[0]

    wake = await failed_attempts(dh, wake, 2)
    await dh.bot.restart()  # the incident is in the database, not in the process
    wake = await failed_attempts(dh, wake, 1)
    assert len(told(dh)) == 1  # the same incident

    await attempt(dh, wake)  # Telegram takes it: the incident is over
    assert len(dh.photos()) == 1
    await dh.seed(["energie"], at=MAY_18_1800 + 2 * MINUTE)
    # The next day's digest: one failure is no incident, and the count starts from zero.
    wake = await failed_attempts(dh, MAY_18_1800 + DAY, 1)
    await attempt(dh, wake)
    assert len(dh.photos()) == 2 and len(told(dh)) == 1

    await dh.seed(["energie"], at=MAY_18_1800 + DAY + 2 * MINUTE)
    await failed_attempts(dh, MAY_18_1800 + 2 * DAY, DIGEST_FAILURES_TO_TELL)
    assert len(told(dh)) == 2  # a new incident


async def test_a_refusal_told_at_once_is_not_told_again_by_the_count(dh: DigestHarness) -> None:
    await dh.tick(MAY_18_1800 - 60 * MINUTE)
    await dh.seed(["energie"], at=MAY_18_1800 - 30 * MINUTE)
    attempts = DIGEST_FAILURES_TO_TELL + 1
    dh.emulator.faults.schedule("sendPhoto", *[Fault.not_admin()] * attempts)
    for attempt in range(attempts):
        await dh.tick(MAY_18_1800 + attempt * 10 * MINUTE)  # refusals are tried every 10 min
        if attempt == 2:
            await dh.bot.restart()  # a new process would tell the refusal again on its own
    assert dh.posts() == []
    assert len(told(dh)) == 1 and "kein Administrator" in told(dh)[0], told(dh)
    await dh.tick(MAY_18_1800 + attempts * 10 * MINUTE)  # the operator fixed it
    assert len(dh.photos()) == 1


async def test_digest_post_goes_through_the_bots_retrying_session(dh: DigestHarness) -> None:
    """`dialogbot digest --post` posts with the composition root's Bot, as `run` does: a 502
    is retried by the session within the one attempt, not left to the outbox's backoff."""
    from bot.app import digest_command

    await dh.tick(MAY_18_1800 - 60 * MINUTE)
    await dh.seed(["energie"], at=MAY_18_1800 - 30 * MINUTE)
    dh.emulator.inject_fault("sendPhoto", status=502)
    report = await digest_command.post(dh.bot.settings, dh.clock)
    assert report.startswith("digest manual-") and len(dh.photos()) == 1
    assert [c.status for c in dh.emulator.calls_to("sendPhoto")] == [502, 200]
    row = (await digest_rows(dh.database))[-1]
    assert (row.status, row.attempts) == ("sent", 1)  # one attempt of the outbox


async def test_digest_post_does_not_wait_for_what_only_an_operator_can_fix(
    dh: DigestHarness,
) -> None:
    from bot.app import digest_command

    await dh.tick(MAY_18_1800 - 60 * MINUTE)
    await dh.seed(["energie"], at=MAY_18_1800 - 30 * MINUTE)
    dh.emulator.faults.schedule("sendPhoto", Fault.not_admin())
    with pytest.raises(digest_command.DigestCommandError, match=r"not posted yet \(retrying\)"):
        await digest_command.post(dh.bot.settings, dh.clock)
    assert len(dh.emulator.calls_to("sendPhoto")) == 1  # once, and no wait for the next try
    assert len(told(dh)) == 1 and "kein Administrator" in told(dh)[0]
