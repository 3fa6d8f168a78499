"""Telegram errors and crashes: a digest stays pending until Telegram accepted it, is retried
with backoff (by any process, also after a restart), and is never posted twice."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.app.digest_wiring import digest_ports
from bot.app.services import Services
from bot.domain.digests import DigestPorts, DigestService, Publisher, PublishError
from tests.digest_support import MAY_18_1800, DigestHarness, decide, dh, digest_rows
from tests.harness import FAST_RETRY

__all__ = ["dh"]  # the fixture

SECOND = timedelta(seconds=1)
# The bot's session retries a failed call itself first (bot.telegram.resilience); these tests
# outlast it.
SESSION_TRIES = FAST_RETRY.attempts
MINUTE = timedelta(minutes=1)


async def _one_participant(dh: DigestHarness) -> None:
    await dh.tick(MAY_18_1800 - 60 * MINUTE)  # the day before: nobody yet, skipped
    await dh.seed(["energie"], at=MAY_18_1800 - 30 * MINUTE)


async def test_a_passing_429_is_absorbed_by_the_session_retry(dh: DigestHarness) -> None:
    await _one_participant(dh)
    dh.emulator.inject_fault("sendPhoto", status=429, retry_after=7)
    await dh.tick(MAY_18_1800)
    assert len(dh.photos()) == 1
    assert [c.status for c in dh.emulator.calls_to("sendPhoto")] == [429, 200]


async def test_a_lasting_429_keeps_the_digest_pending_as_long_as_telegram_asks(
    dh: DigestHarness,
) -> None:
    await _one_participant(dh)
    dh.emulator.inject_fault("sendPhoto", status=429, retry_after=7, times=SESSION_TRIES)
    wake = await dh.tick(MAY_18_1800)
    assert dh.posts() == []
    assert wake == MAY_18_1800 + 7 * SECOND  # Telegram's retry_after, not our own backoff
    row = (await digest_rows(dh.database))[-1]
    assert (row.status, row.last_error) == ("sending", "TelegramRetryAfter: retry after 7 s")

    await dh.tick(MAY_18_1800 + 3 * SECOND)  # too early: nothing is sent
    assert len(dh.emulator.calls_to("sendPhoto")) == SESSION_TRIES
    await dh.tick(wake)
    assert len(dh.photos()) == 1
    assert [c.status for c in dh.emulator.calls_to("sendPhoto")][-2:] == [429, 200]
    assert (await digest_rows(dh.database))[-1].status == "sent"


async def test_disconnects_then_5xx_back_off_and_post_once(dh: DigestHarness) -> None:
    await _one_participant(dh)
    dh.emulator.inject_disconnect("sendPhoto", times=SESSION_TRIES)
    dh.emulator.inject_fault("sendPhoto", status=502, times=SESSION_TRIES)
    first = await dh.tick(MAY_18_1800)
    second = await dh.tick(first)
    assert dh.posts() == []
    assert (first - MAY_18_1800, second - first) == (5 * SECOND, 10 * SECOND)  # doubling
    await dh.tick(second)
    assert len(dh.photos()) == 1
    outcomes = [c.fault or c.status for c in dh.emulator.calls_to("sendPhoto")]
    assert outcomes == ["disconnect"] * 5 + ["status 502"] * 5 + [200]


async def test_a_retry_survives_a_restart(dh: DigestHarness) -> None:
    await _one_participant(dh)
    dh.emulator.inject_fault("sendPhoto", status=500, times=SESSION_TRIES)
    wake = await dh.tick(MAY_18_1800)
    await dh.bot.restart()
    await dh.tick(wake)
    assert len(dh.photos()) == 1


class ProcessDied(BaseException):
    """The process vanishing: nothing after this point runs."""


class DiesAfterTelegramAccepts:
    """Sends for real, then dies before the outbox could record the message id."""

    def __init__(self, real: Publisher) -> None:
        self._real = real

    async def send_photo(self, png: bytes, caption: str) -> int:
        await self._real.send_photo(png, caption)
        raise ProcessDied

    async def send_text(self, html: str) -> int:
        await self._real.send_text(html)
        raise ProcessDied


async def _long_digest_due(dh: DigestHarness) -> None:
    """Two parts: the chart with its caption, then the quoted impulses."""
    await dh.tick(MAY_18_1800 - 30 * MINUTE)
    for letter in "abc":
        impulse = await dh.seed(["heimat"], at=MAY_18_1800 - 60 * MINUTE, impulse=letter * 900)
        assert impulse is not None
        await decide(dh.database, impulse, "approved", MAY_18_1800 - 50 * MINUTE)


def _ports(dh: DigestHarness) -> DigestPorts:
    """What another process would wire up on the same database and Bot API."""
    standings = Services.build(dh.settings, dh.database).participation
    return digest_ports(dh.settings, dh.database, dh.app.i18n, standings, dh.app.bot)


async def test_a_part_telegram_accepted_before_the_crash_is_not_sent_again(
    dh: DigestHarness,
) -> None:
    await _long_digest_due(dh)
    ports = _ports(dh)
    assert ports.publisher is not None
    dying = DiesAfterTelegramAccepts(ports.publisher)
    doomed = DigestService(replace(ports, publisher=dying), "doomed")
    with pytest.raises(ProcessDied):
        await doomed.run_due(MAY_18_1800)
    assert [m.kind for m in dh.posts()] == ["photo"]

    # Its lease still holds: the surviving process leaves the digest alone...
    await dh.tick(MAY_18_1800 + MINUTE)
    assert len(dh.posts()) == 1
    # ...until the lease ran out; then it sends the rest, but not the photo again.
    await dh.tick(MAY_18_1800 + 11 * MINUTE)
    assert [m.kind for m in dh.posts()] == ["photo", "text"]
    assert "a" * 100 in dh.posts()[1].text
    row = (await digest_rows(dh.database))[-1]
    assert row.status == "sent"
    assert json.loads(row.message_ids) == [None, dh.posts()[1].message_id]


async def test_a_crash_before_anything_was_sent_is_posted_by_the_next_holder(
    dh: DigestHarness,
) -> None:
    await _long_digest_due(dh)

    async def dies() -> str:
        raise ProcessDied

    doomed = DigestService(replace(_ports(dh), link=dies), "doomed")
    with pytest.raises(ProcessDied):
        await doomed.run_due(MAY_18_1800)
    assert dh.posts() == []
    await dh.tick(MAY_18_1800 + 11 * MINUTE)
    assert [m.kind for m in dh.posts()] == ["photo", "text"]


async def test_a_refused_post_stays_pending_and_is_retried_later(dh: DigestHarness) -> None:
    await _one_participant(dh)
    dh.emulator.inject_fault("sendPhoto", status=403)  # e.g. the bot is no channel admin yet
    await dh.tick(MAY_18_1800)
    row = (await digest_rows(dh.database))[-1]
    assert row.status == "sending" and "Forbidden" in (row.last_error or "")
    assert row.lease_until == MAY_18_1800 + 10 * MINUTE  # no hammering: the longest backoff
    await dh.tick(MAY_18_1800 + 9 * MINUTE)
    assert dh.posts() == []
    await dh.tick(MAY_18_1800 + 10 * MINUTE)
    assert len(dh.photos()) == 1


class FailsWithTheTokenInItsMessage:
    """A network error as aiohttp words some: with the request URL, bot token included."""

    # Shaped like a real token (made up), assembled so that no token-shaped literal is committed.
    TOKEN = "123456789:" + "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_x"

    async def send_photo(self, png: bytes, caption: str) -> int:
        raise PublishError(
            f"TelegramNetworkError: cannot reach https://api.telegram.org/bot{self.TOKEN}/sendPhoto"
        )

    async def send_text(self, html: str) -> int:
        return await self.send_photo(b"", html)


async def test_a_stored_digest_error_never_holds_the_token(dh: DigestHarness) -> None:
    await _one_participant(dh)
    failing = DigestService(replace(_ports(dh), publisher=FailsWithTheTokenInItsMessage()), "x")
    await failing.run_due(MAY_18_1800)
    row = (await digest_rows(dh.database))[-1]
    assert row.status == "sending" and "cannot reach" in (row.last_error or "")
    assert FailsWithTheTokenInItsMessage.TOKEN.split(":")[1] not in (row.last_error or "")
