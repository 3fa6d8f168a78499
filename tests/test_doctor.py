"""`dialogbot doctor`: each check's ✓ and ✗, against the Bot API emulator and real databases."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession

from bot.app.config import Settings
from bot.app.doctor import Check, DoctorOptions, render_text, run_checks
from bot.emulator.server import BotApiEmulator
from storage.db import Database
from storage.migrate import HEAD, upgrade
from tests.harness import ROOT, TOKEN, make_settings

MODERATORS = (7_100_001, 7_100_002)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def migrated(url: str, revision: str = "head") -> None:
    database = Database(url)
    try:
        await upgrade(database, revision)
    finally:
        await database.dispose()


_TEMPLATE: list[bytes] = []  # a migrated SQLite file, made once: migrating takes seconds


async def ready(emulator: BotApiEmulator, url: str) -> Settings:
    """A world ready for launch: the channel, two moderators who started the bot, a migrated
    database, a launch-grade secret."""
    emulator.add_channel("@ruhr_dialog")
    for moderator in MODERATORS:
        emulator.user(moderator)
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite+aiosqlite:///"))
        if not _TEMPLATE:
            await migrated(url)
            _TEMPLATE.append(path.read_bytes())
        else:
            path.write_bytes(_TEMPLATE[0])
    else:
        await migrated(url)
    return make_settings(emulator.base_url, url, moderators=frozenset(MODERATORS))


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dialogbot.sqlite3'}"


async def check(settings: Settings, name: str, **options: object) -> Check:
    checks = await run_checks(settings, DoctorOptions(**options))  # type: ignore[arg-type]
    found = [c for c in checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in checks]}"
    return found[0]


async def test_a_world_ready_for_launch_passes_every_check(
    emulator: BotApiEmulator, database_url: str
) -> None:
    settings = await ready(emulator, database_url)
    checks = await run_checks(settings)
    assert all(c.ok for c in checks), render_text(checks)
    names = {c.name for c in checks}
    expected = {"secret", "digest schedule", "database", "redis", "token", "channel"}
    assert expected | {"channel link", "moderators", "webhook"} <= names
    postgres = not database_url.startswith("sqlite")
    assert ("postgresql version" in names) is postgres
    assert ("sqlite file" in names) is not postgres
    assert "ready for launch" in render_text(checks)


async def test_moderators_are_checked_without_a_message(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    await run_checks(settings)
    actions = emulator.calls_to("sendChatAction")
    assert sorted(c.chat_id for c in actions) == sorted(MODERATORS)
    for moderator in MODERATORS:
        assert emulator.user(moderator).messages == []


async def test_a_moderator_who_never_started_the_bot_or_blocked_it_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    stranger, blocker = 7_100_099, MODERATORS[1]
    emulator.user(blocker).block_bot()
    settings = settings.with_overrides(moderators=frozenset({*MODERATORS, stranger}))
    result = await check(settings, "moderators")
    assert not result.ok
    assert "2 of 3" in result.detail
    assert str(stranger) in result.detail and str(blocker) in result.detail
    assert str(MODERATORS[0]) not in result.detail
    assert "t.me/dialogbot_demo_bot" in result.fix


async def test_no_moderators_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    result = await check(settings.with_overrides(moderators=frozenset()), "moderators")
    assert not result.ok and "DIALOGBOT_MODERATORS" in result.fix


async def test_a_refused_token_fails_and_skips_the_telegram_checks(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    wrong = settings.with_overrides(token="4242:another-token-not-the-bots")
    checks = await run_checks(wrong)
    token = next(c for c in checks if c.name == "token")
    assert not token.ok and "401" in token.detail and "@BotFather" in token.fix
    assert "another-token" not in render_text(checks)
    assert not {"channel", "moderators", "webhook"} & {c.name for c in checks}


async def test_no_token_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    result = await check(settings.with_overrides(token=None), "token")
    assert not result.ok and "DIALOGBOT_TOKEN" in result.detail


async def test_an_unreachable_bot_api_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    away = settings.with_overrides(api_base=f"http://127.0.0.1:{free_port()}")
    result = await check(away, "token")
    assert not result.ok and "does not answer" in result.detail
    assert TOKEN not in result.detail


async def test_a_link_to_another_bot_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    config = tmp_path / "config.toml"
    text = (ROOT / "config.example.toml").read_text()
    config.write_text(text.replace("Ihre Prioritäten", "https://t.me/other_dialog_bot Ihre"))
    result = await check(settings.with_overrides(source_path=config), "bot links")
    assert not result.ok and "@other_dialog_bot" in result.detail
    assert "https://t.me/dialogbot_demo_bot" in result.fix
    config.write_text(text.replace("Ihre Prioritäten", "https://t.me/dialogbot_demo_bot Ihre"))
    result = await check(settings.with_overrides(source_path=config), "bot links")
    assert result.ok


async def test_a_channel_link_to_another_channel_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    other = settings.with_overrides(channel_link="https://t.me/ruhr_dialog_old")
    result = await check(other, "channel link")
    assert not result.ok and "https://t.me/ruhr_dialog" in result.fix


@pytest.mark.parametrize(
    ("status", "rights", "said"),
    [
        ("member", {}, "member"),
        ("administrator", {"can_post_messages": False}, "administrator without the right"),
        ("left", {}, "left"),
    ],
)
async def test_a_channel_where_the_bot_may_not_post_fails(
    emulator: BotApiEmulator, tmp_path: Path, status: str, rights: dict[str, bool], said: str
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    emulator.set_bot_membership("@ruhr_dialog", status, **rights)
    result = await check(settings, "channel")
    assert not result.ok and said in result.detail
    assert "administrator" in result.fix and "post" in result.fix


async def test_a_missing_channel_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    result = await check(settings.with_overrides(channel_chat="@no_such_channel"), "channel")
    assert not result.ok and "cannot be found" in result.detail


async def test_the_moderators_group(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    group = emulator.add_group("Moderation")
    settings = settings.with_overrides(moderators_chat=group)
    result = await check(settings, "moderators' group")
    assert result.ok and "member" in result.detail
    emulator.set_bot_membership(group, "restricted", can_send_messages=False)
    result = await check(settings, "moderators' group")
    assert not result.ok and "restricted" in result.detail
    emulator.set_bot_membership(group, "kicked")
    assert not (await check(settings, "moderators' group")).ok
    missing = settings.with_overrides(moderators_chat=-4_999_999_999)
    assert not (await check(missing, "moderators' group")).ok


async def test_a_database_behind_the_newest_migration_fails(
    emulator: BotApiEmulator, database_url: str
) -> None:
    settings = await ready(emulator, database_url)
    fresh = database_url.rsplit("/", 1)[0] + "/doctor_behind.sqlite3"
    if database_url.startswith("sqlite"):
        await migrated(fresh, "0008")
        settings = settings.with_overrides(database_url=fresh)
        result = await check(settings, "database")
    else:
        database = Database(database_url)
        async with database.write_engine.begin() as connection:
            from sqlalchemy import text

            await connection.execute(text("UPDATE alembic_version SET version_num = '0008'"))
        await database.dispose()
        result = await check(settings, "database")
    assert not result.ok and f"at migration 0008, the newest is {HEAD}" in result.detail
    assert "dialogbot db upgrade" in result.fix


async def test_an_unreachable_postgresql_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    url = f"postgresql+asyncpg://nobody:secret-pw@127.0.0.1:{free_port()}/dialogbot"
    result = await check(settings.with_overrides(database_url=url), "database")
    assert not result.ok and "does not answer" in result.detail
    assert "secret-pw" not in result.detail


@pytest.mark.postgresql
async def test_an_old_postgresql_fails(emulator: BotApiEmulator, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    settings = await ready(emulator, database_url)
    result = await check(settings, "postgresql version", min_postgres=990000)
    assert not result.ok and "older than 99" in result.detail


async def test_a_missing_sqlite_file_or_folder_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    not_yet = settings.with_overrides(database_url=sqlite_url(tmp_path / "new"))
    (tmp_path / "new").mkdir()
    result = await check(not_yet, "database")
    assert not result.ok and "does not exist yet" in result.detail
    assert not (tmp_path / "new" / "dialogbot.sqlite3").exists()  # doctor created nothing
    no_folder = settings.with_overrides(database_url=sqlite_url(tmp_path / "gone"))
    result = await check(no_folder, "sqlite file")
    assert not result.ok and "does not exist" in result.detail and "mkdir" in result.fix


async def test_a_sqlite_file_on_a_network_file_system_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/export {tmp_path} nfs4 rw 0 0\n")
    result = await check(settings, "sqlite file", mounts=mounts)
    assert not result.ok and "nfs4" in result.detail and "local disk" in result.fix
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 {tmp_path} xfs rw 0 0\n")
    result = await check(settings, "sqlite file", mounts=mounts)
    assert result.ok and "xfs" in result.detail


async def test_a_sqlite_file_or_folder_the_bot_may_not_write_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    # A folder nobody may create files in, root included.
    read_only = settings.with_overrides(database_url="sqlite+aiosqlite:////proc/dialogbot.sqlite3")
    result = await check(read_only, "sqlite file")
    assert not result.ok and "not writable" in result.detail and "write access" in result.fix
    assert not any(c.name == "database" for c in await run_checks(read_only))
    if os.geteuid() == 0:
        return  # root may write to a read-only file: the file's own mode cannot be tested
    path = tmp_path / "dialogbot.sqlite3"
    path.chmod(0o444)
    try:
        result = await check(settings, "sqlite file")
    finally:
        path.chmod(0o644)
    assert not result.ok and f"{path} or its folder is not writable" in result.detail


async def test_redis_answers(emulator: BotApiEmulator, tmp_path: Path, redis_url: str) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    result = await check(settings.with_overrides(redis_url=redis_url), "redis")
    assert result.ok and "answers" in result.detail


async def test_an_old_redis_fails(emulator: BotApiEmulator, tmp_path: Path, redis_url: str) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    result = await check(settings.with_overrides(redis_url=redis_url), "redis", min_redis=(99, 0))
    assert not result.ok and "too old" in result.detail and "Redis 99.0 or newer" in result.fix


async def test_an_unreachable_redis_fails(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    away = settings.with_overrides(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    result = await check(away, "redis")
    assert not result.ok and "does not answer" in result.detail


@pytest.mark.parametrize("secret", ["change-me-before-launch", "short-but-eight"])
async def test_a_weak_secret_fails(emulator: BotApiEmulator, tmp_path: Path, secret: str) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    result = await check(settings.with_overrides(secret=secret), "secret")
    assert not result.ok and "secrets.token_urlsafe(32)" in result.fix
    assert secret not in result.detail


async def test_the_next_three_digest_times(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    now = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # the clocks go forward on the 29th
    result = await check(settings, "digest schedule", now=now)
    assert result.ok
    assert "2026-03-27 18:00 CET, 2026-03-28 18:00 CET, 2026-03-29 18:00 CEST" in result.detail


async def set_webhook(emulator: BotApiEmulator, url: str) -> None:
    async with (
        ClientSession() as session,
        session.post(f"{emulator.base_url}/bot{TOKEN}/setWebhook", json={"url": url}) as answer,
    ):
        assert answer.status == 200


async def test_polling_with_a_registered_webhook_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    await set_webhook(emulator, "https://bot.example.org/hook")
    result = await check(settings, "webhook")
    assert not result.ok and "https://bot.example.org/hook" in result.detail


async def test_webhook_mode(emulator: BotApiEmulator, tmp_path: Path) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    secret = settings.with_overrides(webhook_secret="hook-secret")
    url = "https://bot.example.org/hook"
    result = await check(secret, "webhook", webhook=url)
    assert result.ok and "not registered yet" in result.detail
    result = await check(settings, "webhook", webhook=url)
    assert not result.ok and "no webhook secret" in result.detail
    result = await check(secret, "webhook", webhook="http://bot.example.org/hook")
    assert not result.ok and "not an https:// URL" in result.detail


async def test_a_webhook_telegram_cannot_deliver_to_fails(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = await ready(emulator, sqlite_url(tmp_path))
    settings = settings.with_overrides(webhook_secret="hook-secret")
    url = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens
    await set_webhook(emulator, url)
    emulator.user(7_100_050).send_text("/start")
    for _ in range(400):  # the emulator's delivery fails in the background
        if _webhook_info(emulator):
            break
        await asyncio.sleep(0.025)
    result = await check(settings, "webhook", webhook=url)
    assert (
        not result.ok
        and "last delivery" in result.detail
        and "Connection failed" in (result.detail)
    )


def _webhook_info(emulator: BotApiEmulator) -> dict[str, object]:
    hook = emulator._webhook
    if hook is None or hook.last_error_message is None:
        return {}
    return {"last_error_message": hook.last_error_message}


async def doctor_process(
    emulator: BotApiEmulator, url: str, *args: str, secret: str, cron: str = "0 18 * * *"
) -> tuple[int, str]:
    config = Path(url.removeprefix("sqlite+aiosqlite:///")).parent / "config.toml"
    text = (ROOT / "config.example.toml").read_text().replace("0 18 * * *", cron)
    config.write_text(text)
    env = {
        **os.environ,
        "DIALOGBOT_TOKEN": TOKEN,
        "DIALOGBOT_API_BASE": emulator.base_url,
        "DIALOGBOT_DATABASE_URL": url,
        "DIALOGBOT_SECRET": secret,
        "DIALOGBOT_MODERATORS": ",".join(map(str, MODERATORS)),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.app.cli",
        "doctor",
        "--config",
        str(config),
        *args,
        env=env,
        cwd=config.parent,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.slow
async def test_the_command_prints_one_line_per_check_and_fails_on_any_cross(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    await ready(emulator, url)
    good = "doctor-test-secret-with-256-bits-0123456789abcd"
    status, out = await doctor_process(emulator, url, secret=good)
    assert status == 0, out
    lines = out.strip().splitlines()
    assert all(line.startswith("✓ ") for line in lines[:-1]) and lines[-1] == "ready for launch"
    status, out = await doctor_process(emulator, url, "--json", secret="change-me-before-launch")
    assert status == 1
    report = json.loads(out)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["secret"] and failed[0]["fix"]
    status, out = await doctor_process(emulator, url, "--json", secret=good, cron="0 25 * * *")
    assert status == 1
    report = json.loads(out)
    assert report["checks"][0]["name"] == "config" and "digest.schedule" in out


def test_check_lines_carry_the_fix() -> None:
    checks = [Check("a", True, "fine"), replace(Check("b", False, "broken", "mend it"))]
    assert render_text(checks).splitlines() == [
        "✓ a: fine",
        "✗ b: broken — fix: mend it",
        "1 of 2 checks failed",
    ]
