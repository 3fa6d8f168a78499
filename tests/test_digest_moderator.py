"""Moderators and operators: /digest previews privately and posts once; the CLI writes the
digest to files or posts it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import digest_command as command
from bot.app.config import ConfigError
from bot.emulator.server import BotApiEmulator
from storage.models import AuditEntry
from tests.digest_support import CHANNEL, MAY_18_1800, DigestHarness, digest_harness, digest_rows
from tests.harness import ROOT

MOD = 900_123
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def mh(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[DigestHarness]:
    emulator.user(MOD, first_name="Moderation")
    start = MAY_18_1800 + 60 * MINUTE
    async for harness in digest_harness(emulator, database_url, start, moderators=frozenset({MOD})):
        yield harness


async def test_preview_is_private_and_the_button_posts_exactly_that_once(
    mh: DigestHarness,
) -> None:
    await mh.seed(["mobilitaet"], at=MAY_18_1800 + 30 * MINUTE)
    moderator = mh.citizen(MOD)
    await moderator.send("/digest")
    intro, preview = moderator.user.messages[-2:]
    assert "Vorschau des nächsten Digests für @ruhr_dialog" in intro.text
    assert preview.kind == "photo" and preview.photo is not None
    assert "Teilnehmende: 1, davon 1 neu in diesem Zeitraum" in (preview.caption or "")
    assert preview.button_texts == ["📣 Jetzt im Kanal veröffentlichen"]
    assert mh.posts() == []  # a preview posts nothing
    button = preview.buttons[0].callback_data
    assert button is not None

    await moderator.press("Jetzt im Kanal veröffentlichen")
    [post] = mh.posts()
    assert post.raw_text == preview.raw_text and post.photo == preview.photo
    assert "ist im Kanal veröffentlicht" in (moderator.user.callback_answers[-1].text or "")
    assert moderator.user.last_message.button_texts == []  # no second tap invited

    await moderator.do(lambda: moderator.user.press_data(preview.message_id, button))
    assert "bereits veröffentlicht" in (moderator.user.callback_answers[-1].text or "")
    assert len(mh.posts()) == 1

    async with mh.database.reading() as session:
        [entry] = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "digest_post")
        )
    row = (await digest_rows(mh.database))[-1]
    assert (entry.moderator_id, entry.target) == (MOD, row.period_key)
    assert row.period_key == "manual-20260518T170000Z" and row.status == "sent"


async def test_a_preview_overtaken_by_the_schedule_is_not_posted(mh: DigestHarness) -> None:
    await mh.seed(["sport"], at=MAY_18_1800 + 10 * MINUTE)
    moderator = mh.citizen(MOD)
    await moderator.send("/digest")
    await mh.tick(MAY_18_1800 + 24 * 60 * MINUTE)  # the next scheduled digest goes out
    assert len(mh.photos()) == 1
    await moderator.press("Jetzt im Kanal veröffentlichen")
    assert "veraltet" in (moderator.user.callback_answers[-1].text or "")
    assert len(mh.photos()) == 1


async def test_citizens_cannot_use_digest(mh: DigestHarness) -> None:
    """A citizen's /digest gets the ordinary help, as any unknown command does; a moderator's
    /digest on the same data gets the preview, whose button does nothing for the citizen."""
    await mh.seed(["mobilitaet"], at=MAY_18_1800 + 30 * MINUTE)
    citizen = mh.citizen(4711)
    await citizen.send("/hilfe")
    help_text = citizen.last_text
    assert "/start" in help_text
    await citizen.send("/digest")
    assert citizen.last_text == help_text
    assert await digest_rows(mh.database) == []

    moderator = mh.citizen(MOD)
    await moderator.send("/digest")
    preview = moderator.user.messages[-1]
    assert preview.button_texts == ["📣 Jetzt im Kanal veröffentlichen"]
    button = preview.buttons[0].callback_data
    assert button is not None
    message_id = citizen.user.last_message.message_id
    await citizen.do(lambda: citizen.user.press_data(message_id, button))
    assert mh.posts() == []
    assert all(row.status != "sent" for row in await digest_rows(mh.database))
    await moderator.press("Jetzt im Kanal veröffentlichen")  # the same button, a moderator's
    assert len(mh.posts()) == 1


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIALOGBOT_")},
        "DIALOGBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "DIALOGBOT_SECRET": "test-secret-with-256-bits-0123456789abcdefghijk",
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "bot.app.cli",
        *args,
        "--config",
        str(ROOT / "config.example.toml"),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60
    )


@pytest.mark.slow
def test_cli_dry_run_writes_the_chart_and_the_text(tmp_path: Path) -> None:
    done = _cli(tmp_path, "digest", "--dry-run", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    chart, text = (Path(line) for line in done.stdout.splitlines())
    assert chart.suffix == ".png" and chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "Dialog zur Ruhr-Konferenz" in text.read_text(encoding="utf-8")
    assert "?start=digest" in text.read_text(encoding="utf-8")


async def test_cli_post_names_what_is_missing(mh: DigestHarness) -> None:
    with pytest.raises(ConfigError, match="DIALOGBOT_TOKEN is not set"):
        await command.post(mh.settings.with_overrides(token=None), mh.clock)
    with pytest.raises(command.DigestCommandError, match="nowhere to post"):
        await command.post(mh.settings.with_overrides(channel_chat=None), mh.clock)


async def test_cli_post_posts_the_current_digest(mh: DigestHarness) -> None:
    await mh.seed(["bildung"], at=MAY_18_1800 + 10 * MINUTE)
    report = await command.post(mh.settings, mh.clock)
    assert report == f"digest manual-20260518T170000Z posted to {CHANNEL}"
    [post] = mh.posts()
    assert "Talentschulen & Bildung: 100 %" in (post.caption or "")
