"""`dialogbot purge`: the raw Telegram ids go once `[privacy]` says so, the answers stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import cli
from bot.app.config import ConfigError, PrivacyPolicy, load_settings
from bot.ops.retention import PurgeRefused, check_due, purge
from storage.db import Database
from storage.migrate import upgrade
from storage.models import InboxPayload, InboxUpdate, Participant, ReplyAddress, Vote
from tests.harness import ROOT, Harness

EXAMPLE = ROOT / "config.example.toml"
ENDS = PrivacyPolicy(ends=date(2027, 3, 31), retention_days=90, notice_version="2026-11-01")


def config_with(tmp_path: Path, privacy: str) -> Path:
    """The example config with its [privacy] `ends` line replaced."""
    text = EXAMPLE.read_text().replace('ends = "2027-03-31"', privacy)
    assert text != EXAMPLE.read_text()
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_dates_are_read_from_the_config(tmp_path: Path) -> None:
    env = {"DIALOGBOT_SECRET": "retention-secret"}
    assert load_settings(EXAMPLE, env=env).privacy == ENDS
    toml_date = load_settings(config_with(tmp_path, "ends = 2027-03-31"), env=env)
    assert toml_date.privacy.ends == date(2027, 3, 31)
    with pytest.raises(ConfigError, match=r"privacy\.ends"):
        load_settings(config_with(tmp_path, 'ends = "31.03.2027"'), env=env)
    for days, expected in (("30", 30), ("-1", None)):
        path = tmp_path / f"retention-{days}.toml"
        text = EXAMPLE.read_text().replace("retention_days = 90", f"retention_days = {days}")
        assert text != EXAMPLE.read_text()
        path.write_text(text)
        if expected is None:
            with pytest.raises(ConfigError, match=r"privacy\.retention_days"):
                load_settings(path, env=env)
        else:
            assert load_settings(path, env=env).privacy.retention_days == expected


def test_purging_is_refused_until_the_day_after_ends_plus_retention() -> None:
    with pytest.raises(PurgeRefused, match="kept until 2027-06-29"):
        check_due(ENDS, date(2027, 6, 29))
    check_due(ENDS, date(2027, 6, 30))
    with pytest.raises(PurgeRefused, match=r"privacy\.ends is not set"):
        check_due(PrivacyPolicy(ends=None), date(2099, 1, 1))


async def test_purge_drops_reply_addresses_and_handled_updates_but_keeps_answers(
    harness: Harness,
) -> None:
    citizen = harness.citizen(7701)
    await citizen.take_part(["Mobilität & ÖPNV"])
    assert harness.bot.app is not None
    async with harness.bot.app.database.transaction() as session:
        session.add(InboxUpdate(update_id=990_001, status="pending", received_at=now()))
        session.add(InboxPayload(update_id=990_001, payload="{}"))
    before = await counts(harness)
    assert before["addresses"] == 1 and before["handled"] > 0
    settings = harness.settings.with_overrides(privacy=PrivacyPolicy(ends=date(2020, 1, 1)))

    purged = await purge(settings, today=date.today(), force=False)
    assert (purged.reply_addresses, purged.inbox_updates) == (1, before["handled"])
    assert await counts(harness) == {"addresses": 0, "handled": 0, "pending": 1, "votes": 1}


async def counts(h: Harness) -> dict[str, int]:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:

        async def count(model: type, *where: object) -> int:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)))

        return {
            "addresses": await count(ReplyAddress),
            "handled": await count(InboxUpdate, InboxUpdate.status != "pending"),
            "pending": await count(InboxUpdate, InboxUpdate.status == "pending"),
            "votes": await count(Vote),
        }


def now() -> datetime:
    return datetime.now(UTC)


def test_the_command_refuses_in_one_line_and_purges_with_force(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "configure_logging", lambda **_: None)  # keep pytest's handlers
    monkeypatch.setenv("DIALOGBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("DIALOGBOT_SECRET", "retention-secret")
    config = str(config_with(tmp_path, 'ends = "2999-01-01"'))
    populated = asyncio.run(populate(database_url))
    assert populated == {"addresses": 2, "handled": 3, "pending": 1, "votes": 3}
    assert cli.main(["purge", "--config", config]) == 2
    refusal = capsys.readouterr().err
    assert refusal.count("\n") == 1 and "kept until 2999-04-01" in refusal and "--force" in refusal
    assert asyncio.run(count_rows(database_url)) == populated  # refused: nothing gone

    assert cli.main(["purge", "--config", config, "--force"]) == 0
    assert capsys.readouterr().out.startswith("purged 2 reply addresses and 3 handled updates")
    after = asyncio.run(count_rows(database_url))
    assert after == {"addresses": 0, "handled": 0, "pending": 1, "votes": 3}


async def populate(database_url: str) -> dict[str, int]:
    """Two citizens with votes and reply addresses, three handled updates and a pending one."""
    database = Database(database_url)
    try:
        await upgrade(database)
        async with database.transaction() as session:
            for n, topics in ((1, ["mobilitaet", "sport"]), (2, ["sport"])):
                session.add(Participant(id=n, pseudonym=f"p{n}", locale="de", consented_at=now()))
                await session.flush()
                session.add(
                    ReplyAddress(participant_id=n, chat_id=7_700_000_000 + n, updated_at=now())
                )
                session.add_all(Vote(participant_id=n, topic_id=t) for t in topics)
            for update_id in (1, 2, 3):
                session.add(InboxUpdate(update_id=update_id, status="done", received_at=now()))
            session.add(InboxUpdate(update_id=4, status="pending", received_at=now()))
            session.add(InboxPayload(update_id=4, payload="{}"))
    finally:
        await database.dispose()
    return await count_rows(database_url)


async def count_rows(database_url: str) -> dict[str, int]:
    database = Database(database_url)
    try:
        async with database.reading() as session:

            async def count(model: type, *where: object) -> int:
                query = select(func.count()).select_from(model).where(*where)
                return int(await session.scalar(query))

            return {
                "addresses": await count(ReplyAddress),
                "handled": await count(InboxUpdate, InboxUpdate.status != "pending"),
                "pending": await count(InboxUpdate, InboxUpdate.status == "pending"),
                "votes": await count(Vote),
            }
    finally:
        await database.dispose()
