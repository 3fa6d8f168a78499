"""`dialogbot doctor`: everything a launch depends on, checked before the launch.

One `Check` per line: ✓ or ✗, what was found, and for a ✗ what to do about it. Nothing is
changed anywhere: the Bot API is only asked (getMe, getChat, getChatMember, getWebhookInfo),
the database only read (a missing SQLite file is not created), and each moderator is checked
with `sendChatAction` ("typing…" for a few seconds in their chat with the bot, no message and
no notification), which Telegram refuses with 403 when the person never started the bot or
blocked it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.app.config import (
    ConfigError,
    Settings,
    check_launch_secret,
)
from bot.domain.digest_schedule import DigestSchedule

# PostgreSQL versions the bot is tested with and supports (older ones are out of support).
MIN_POSTGRES = 140000
MIN_REDIS = (5, 0)
# File systems where SQLite's locks are not reliable (https://www.sqlite.org/lockingv3.html).
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "davfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.gcsfuse",
    }
)
_T_ME = re.compile(r"(?:https?://)?(?:t|telegram)\.me/([A-Za-z0-9_]{4,32})\b")
_TIMEOUT = 15.0  # for each question to the Bot API, the database or Redis


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class DoctorOptions:
    webhook: str | None = None  # the URL `dialogbot run --webhook` will be given
    mounts: Path = Path("/proc/mounts")
    min_postgres: int = MIN_POSTGRES
    min_redis: tuple[int, int] = MIN_REDIS
    now: datetime | None = None


@dataclass
class _Found:
    """What the Bot API told earlier checks, for the later ones."""

    username: str | None = None
    channel_username: str | None = None
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, ok, detail, "" if ok else fix))


async def run_checks(settings: Settings, options: DoctorOptions | None = None) -> list[Check]:
    options = options or DoctorOptions()
    found = _Found()
    _secret(settings, found)
    _schedule(settings, options, found)
    await _database(settings, options, found)
    await _redis(settings, options, found)
    await _telegram(settings, options, found)
    return found.checks


def config_failure(error: ConfigError) -> list[Check]:
    """The one check when the configuration itself does not load."""
    return [Check("config", False, str(error), "correct the named key in the config file")]


def render_text(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        mark = "✓" if check.ok else "✗"
        line = f"{mark} {check.name}: {check.detail}"
        if check.fix:
            line += f" — fix: {check.fix}"
        lines.append(line)
    failed = sum(not c.ok for c in checks)
    lines.append("ready for launch" if not failed else f"{failed} of {len(checks)} checks failed")
    return "\n".join(lines)


def render_json(checks: list[Check]) -> str:
    return json.dumps(
        {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]},
        ensure_ascii=False,
        indent=2,
    )


# -- configuration ----------------------------------------------------------------------------


def _secret(settings: Settings, found: _Found) -> None:
    try:
        check_launch_secret(settings.secret)
    except ConfigError as exc:
        reason, _, fix = str(exc).partition("; ")
        if not fix:
            reason, _, fix = str(exc).partition(" for run: ")
        found.add("secret", False, reason, fix or "set DIALOGBOT_SECRET")
        return
    found.add("secret", True, f"set, {len(settings.secret)} characters")


def _schedule(settings: Settings, options: DoctorOptions, found: _Found) -> None:
    schedule = DigestSchedule(settings.digest_schedule, settings.digest_timezone)
    zone = ZoneInfo(settings.digest_timezone)
    moment = options.now or datetime.now(UTC)
    fires = []
    for _ in range(3):
        moment = schedule.next_fire(moment)
        fires.append(moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))
    where = "" if settings.channel_chat else " (no channel set: nothing is posted)"
    found.add(
        "digest schedule",
        True,
        f"{schedule.cron!r} in {settings.digest_timezone}, next: {', '.join(fires)}{where}",
    )


# -- database and Redis -----------------------------------------------------------------------


async def _database(settings: Settings, options: DoctorOptions, found: _Found) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.db import Database, is_sqlite
    from storage.migrate import HEAD, current_revision
    from storage.outage import describe

    url = make_url(settings.database_url)
    name = url.render_as_string(hide_password=True)
    sqlite = is_sqlite(settings.database_url)
    if sqlite:
        path = _sqlite_path(url.database)
        if path is None:
            found.add("database", False, "an in-memory SQLite database keeps nothing", _SQLITE_FIX)
            return
        if not _sqlite_file(path, options, found):
            return
    database = Database(
        settings.database_url,
        connect_timeout=min(settings.database.connect_timeout, _TIMEOUT),
        command_timeout=min(settings.database.command_timeout, _TIMEOUT),
    )
    try:
        revision = await asyncio.wait_for(current_revision(database), _TIMEOUT)
        version = 0
        if not sqlite:
            async with database.write_engine.connect() as connection:
                version = int(
                    (await connection.execute(text("SHOW server_version_num"))).scalar_one()
                )
    except Exception as exc:  # what failed is the check's answer
        found.add(
            "database",
            False,
            f"{name} does not answer: {describe(exc)}",
            "start the database, or correct database.url / DIALOGBOT_DATABASE_URL",
        )
        return
    finally:
        await database.dispose()
    if revision != HEAD:
        found.add(
            "database",
            False,
            f"{name} is at migration {revision or 'none'}, the newest is {HEAD}",
            "run `dialogbot db upgrade` (or let `dialogbot run` migrate at start)",
        )
    else:
        found.add("database", True, f"{name} answers, at the newest migration {HEAD}")
    if not sqlite:
        readable = f"{version // 10000}.{version % 10000}"
        if version < options.min_postgres:
            found.add(
                "postgresql version",
                False,
                f"PostgreSQL {readable} is older than {options.min_postgres // 10000}",
                f"upgrade to PostgreSQL {options.min_postgres // 10000} or newer",
            )
        else:
            found.add("postgresql version", True, f"PostgreSQL {readable} is supported")


_SQLITE_FIX = "set database.url to a file such as sqlite+aiosqlite:////var/lib/dialogbot/db.sqlite3"


def _sqlite_path(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database.removeprefix("file:").split("?", 1)[0]).absolute()


def _sqlite_file(path: Path, options: DoctorOptions, found: _Found) -> bool:
    """The SQLite file: its folder exists, is on a local disk, and both are writable. True if
    the database itself is there to be asked."""
    folder = path.parent
    if not folder.is_dir():
        found.add(
            "sqlite file",
            False,
            f"the folder {folder} does not exist",
            f"create it (mkdir -p {folder}) for the user the bot runs as",
        )
        return False
    fstype = filesystem_type(folder, options.mounts)
    if fstype in NETWORK_FILESYSTEMS:
        found.add(
            "sqlite file",
            False,
            f"{path} is on a network file system ({fstype}), where SQLite's locks are unreliable",
            "keep the file on a local disk, or use PostgreSQL",
        )
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        writable = not path.exists() or os.access(path, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        found.add(
            "sqlite file",
            False,
            f"{path} or its folder is not writable",
            "give the user the bot runs as write access to the file and its folder",
        )
        return False
    where = f"on a local disk ({fstype})" if fstype else "on a local disk"
    if not path.exists():
        found.add("sqlite file", True, f"{path}: the folder is writable, {where}")
        found.add(
            "database",
            False,
            f"{path} does not exist yet",
            "run `dialogbot db upgrade` to create and migrate it",
        )
        return False
    found.add("sqlite file", True, f"{path} is writable, {where}")
    return True


def filesystem_type(path: Path, mounts: Path) -> str:
    """The type of the file system `path` is on, from a mount table (/proc/mounts); "" if
    unknown."""
    try:
        table = mounts.read_text()
    except OSError:
        return ""
    target = str(path.resolve())
    best, kind = "", ""
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


async def _redis(settings: Settings, options: DoctorOptions, found: _Found) -> None:
    if not settings.redis_url:
        found.add("redis", True, "not configured (one instance keeps its rate limits itself)")
        return
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(
        settings.redis_url, socket_connect_timeout=_TIMEOUT, socket_timeout=_TIMEOUT
    )
    try:
        await client.ping()
        info = await client.info("server")
    except Exception as exc:  # what failed is the check's answer
        found.add(
            "redis",
            False,
            f"does not answer: {type(exc).__name__}",
            "start Redis, or correct [scaling] redis_url / DIALOGBOT_REDIS_URL",
        )
        return
    finally:
        await client.aclose()
    version = str(info.get("redis_version", "0"))
    numbers = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if numbers < options.min_redis:
        oldest = ".".join(map(str, options.min_redis))
        found.add("redis", False, f"Redis {version} is too old", f"use Redis {oldest} or newer")
    else:
        found.add("redis", True, f"Redis {version} answers")


# -- the Bot API ------------------------------------------------------------------------------


async def _telegram(settings: Settings, options: DoctorOptions, found: _Found) -> None:
    from aiogram import Bot

    from bot.telegram.session import bot_api_session

    if not settings.token:
        found.add(
            "token",
            False,
            "DIALOGBOT_TOKEN is not set; the Telegram checks were skipped",
            "get a token from @BotFather and set DIALOGBOT_TOKEN",
        )
        return
    bot = Bot(
        token=settings.token,
        session=bot_api_session(settings, timeout=min(settings.request_timeout, _TIMEOUT)),
    )
    try:
        if not await _token(bot, settings, found):
            return
        await _links(settings, found, before=True)
        await _channel(bot, settings, found)
        await _links(settings, found, before=False)
        await _moderators_chat(bot, settings, found)
        await _moderators(bot, settings, found)
        await _webhook(bot, settings, options, found)
    finally:
        await bot.session.close()


async def _ask(call: Callable[[], Awaitable[Any]]) -> tuple[Any, str | None]:
    """The answer, or None and a short reason (never the token)."""
    try:
        return await asyncio.wait_for(call(), _TIMEOUT), None
    except Exception as exc:  # what failed is the check's answer
        return None, _reason(exc)


def _reason(exc: BaseException) -> str:
    from bot.app.logs import RedactTokens
    from bot.telegram.outcomes import describe

    if isinstance(exc, TimeoutError):
        return f"no answer within {_TIMEOUT:g} s"
    return RedactTokens().redact(describe(exc))


async def _token(bot: Any, settings: Settings, found: _Found) -> bool:
    from aiogram.exceptions import TelegramUnauthorizedError

    try:
        me = await asyncio.wait_for(bot.get_me(), _TIMEOUT)
    except TelegramUnauthorizedError:
        found.add(
            "token",
            False,
            "Telegram refuses the token (401); the other Telegram checks were skipped",
            "copy the current token from @BotFather into DIALOGBOT_TOKEN",
        )
        return False
    except Exception as exc:  # what failed is the check's answer
        reason = _reason(exc)
        found.add(
            "token",
            False,
            f"the Bot API at {settings.api_base} does not answer ({reason}); "
            "the other Telegram checks were skipped",
            "check the network, a proxy, or bot.api_base / DIALOGBOT_API_BASE",
        )
        return False
    found.username = me.username
    found.add("token", True, f"works: @{me.username} (id {me.id})")
    return True


async def _links(settings: Settings, found: _Found, *, before: bool) -> None:
    """Links to the bot in the config name this bot (checked with the token); the channel
    link names the channel (checked with the channel, `before` False)."""
    if before:
        names = [n for n in _config_links(settings) if n.lower().endswith("bot")]
        wrong = sorted({n for n in names if n.lower() != (found.username or "").lower()})
        if wrong:
            found.add(
                "bot links",
                False,
                f"the config links to @{', @'.join(wrong)}, but the token is @{found.username}'s",
                f"change the links to https://t.me/{found.username}, or use that bot's token",
            )
        elif names:
            found.add("bot links", True, f"the config's links name @{found.username}")
        return
    link = settings.channel_link
    if not link or not found.channel_username:
        return
    match = _T_ME.search(link)
    linked = match.group(1) if match else None
    if linked is None or linked.lower() != found.channel_username.lower():
        found.add(
            "channel link",
            False,
            f"channel.link {link} does not lead to @{found.channel_username}",
            f"set channel.link to https://t.me/{found.channel_username}",
        )
    else:
        found.add("channel link", True, f"{link} leads to @{found.channel_username}")


def _config_links(settings: Settings) -> list[str]:
    if settings.source_path is None:
        return []
    try:
        text = settings.source_path.read_text(encoding="utf-8")
    except OSError:
        return []
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [m.group(1) for line in lines for m in _T_ME.finditer(line)]


async def _channel(bot: Any, settings: Settings, found: _Found) -> None:
    if not settings.channel_chat:
        found.add("channel", True, "none configured: digests are not posted")
        return
    chat_ref = settings.channel_chat
    chat, reason = await _ask(lambda: bot.get_chat(chat_ref))
    if chat is None:
        found.add(
            "channel",
            False,
            f"{chat_ref} cannot be found ({reason})",
            "create the channel, add the bot as administrator, check channel.chat",
        )
        return
    if chat.type != "channel":
        found.add(
            "channel",
            False,
            f"{chat_ref} is a {chat.type}, not a channel",
            "set channel.chat to the channel's @username or id",
        )
        return
    found.channel_username = chat.username
    await _may_post(bot, "channel", chat_ref, found, channel=True)


async def _moderators_chat(bot: Any, settings: Settings, found: _Found) -> None:
    chat_ref = settings.moderators_chat
    if chat_ref is None:
        return
    chat, reason = await _ask(lambda: bot.get_chat(chat_ref))
    if chat is None:
        found.add(
            "moderators' group",
            False,
            f"{chat_ref} cannot be found ({reason})",
            "add the bot to the group, check moderation.group_chat",
        )
        return
    if chat.type not in ("group", "supergroup"):
        found.add(
            "moderators' group",
            False,
            f"{chat_ref} is a {chat.type}, not a group",
            "set moderation.group_chat to the group's numeric id",
        )
        return
    await _may_post(bot, "moderators' group", chat_ref, found, channel=False)


async def _may_post(bot: Any, name: str, chat_ref: Any, found: _Found, *, channel: bool) -> None:
    me = await bot.me()
    member, reason = await _ask(lambda: bot.get_chat_member(chat_ref, me.id))
    if member is None:
        found.add(
            name,
            False,
            f"the bot's membership in {chat_ref} cannot be read ({reason})",
            "add the bot to the chat",
        )
        return
    status = str(getattr(member.status, "value", member.status))
    if channel:
        may = status == "creator" or (
            status == "administrator" and bool(getattr(member, "can_post_messages", False))
        )
        fix = f"make @{me.username} an administrator of {chat_ref} with the right to post messages"
    else:
        may = status in ("creator", "administrator", "member") or (
            status == "restricted" and bool(getattr(member, "can_send_messages", False))
        )
        fix = f"add @{me.username} to {chat_ref} and let it send messages"
    if not may:
        what = "an administrator without the right to post" if status == "administrator" else status
        found.add(name, False, f"the bot is {what} in {chat_ref}, it may not post there", fix)
        return
    found.add(name, True, f"{chat_ref}: the bot is {status} and may post")


async def _moderators(bot: Any, settings: Settings, found: _Found) -> None:
    from aiogram.enums import ChatAction

    if not settings.moderators:
        found.add(
            "moderators",
            False,
            "none configured: nobody can review ideas or use the moderator commands",
            "set moderation.moderators or DIALOGBOT_MODERATORS to their Telegram user ids",
        )
        return
    silent: list[str] = []
    for moderator in sorted(settings.moderators):
        done, reason = await _ask(partial(bot.send_chat_action, moderator, ChatAction.TYPING))
        if done is None:
            silent.append(f"{moderator} ({reason})")
    if silent:
        found.add(
            "moderators",
            False,
            f"the bot cannot write to {len(silent)} of {len(settings.moderators)}: "
            + ", ".join(silent),
            f"each of them opens https://t.me/{found.username} and presses Start "
            "(and does not block the bot)",
        )
    else:
        found.add(
            "moderators",
            True,
            f"the bot can write to all {len(settings.moderators)} (they started it)",
        )


async def _webhook(bot: Any, settings: Settings, options: DoctorOptions, found: _Found) -> None:
    info, reason = await _ask(bot.get_webhook_info)
    if info is None:
        found.add("webhook", False, f"getWebhookInfo failed ({reason})", "try again later")
        return
    if options.webhook is None:
        if info.url:
            found.add(
                "webhook",
                False,
                f"polling, but a webhook is registered at {info.url}: Telegram refuses getUpdates",
                "run with --webhook that URL, or remove it (Bot API deleteWebhook)",
            )
        else:
            found.add("webhook", True, "polling; no webhook registered")
        return
    url = options.webhook
    problems = []
    fixes = []
    if urlsplit(url).scheme != "https" or not urlsplit(url).netloc:
        problems.append(f"{url} is not an https:// URL")
        fixes.append("give --webhook the public https:// URL")
    if not settings.webhook_secret:
        problems.append("no webhook secret is set")
        fixes.append("set DIALOGBOT_WEBHOOK_SECRET (1-256 characters A-Z a-z 0-9 _ -)")
    if info.last_error_date is not None:
        when = info.last_error_date
        stamp = when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else str(when)
        problems.append(
            f"Telegram's last delivery to {info.url or url} failed at {stamp}: "
            f"{info.last_error_message}"
        )
        fixes.append("make the URL reachable from the internet and answer 200")
    if problems:
        found.add("webhook", False, "; ".join(problems), "; ".join(fixes))
        return
    registered = (
        f"registered, {info.pending_update_count} updates pending"
        if info.url == url
        else "not registered yet (`dialogbot run --webhook` registers it)"
    )
    found.add("webhook", True, f"{url}: https, secret set, {registered}, no delivery errors")
