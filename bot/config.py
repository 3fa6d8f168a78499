"""Configuration: a TOML file, overridden by DIALOGBOT_* environment variables.

Every problem becomes one `ConfigError` whose message names the key, so the CLI can stop with a
single clear line instead of a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_API_BASE = "https://api.telegram.org"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///dialogbot.sqlite3"
# Telegram's limit is 64 bytes of callback data; our ids travel inside it, so keep them short.
TOPIC_ID_PATTERN = re.compile(r"^[a-z0-9_]{1,24}$")
TOPIC_TITLE_MAX = 30
PHASES = ("open", "closed")


class ConfigError(Exception):
    """A missing or malformed setting; the message names the key."""


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    # Titles in other languages, by locale; the German `title` is the fallback.
    titles: Mapping[str, str] = field(default_factory=dict)

    def title_for(self, locale: str) -> str:
        return self.titles.get(locale, self.title)


@dataclass(frozen=True)
class Consultation:
    title: str
    question: str
    purpose: str
    privacy_url: str
    max_topics: int
    impulse_min_length: int
    impulse_max_length: int
    phase: str
    topics: tuple[Topic, ...]

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def title_of(self, topic_id: str, locale: str = "de") -> str:
        """The topic's title; an id no longer configured is shown as it is."""
        topic = self.topic(topic_id)
        return topic.title_for(locale) if topic else topic_id

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)


@dataclass(frozen=True)
class Settings:
    token: str | None
    api_base: str
    secret: str
    default_locale: str
    database_url: str
    channel_chat: str | None
    channel_link: str | None
    moderators: frozenset[int]
    moderation_mode: str
    moderators_chat: int | None
    digest_schedule: str
    digest_timezone: str
    consultation: Consultation
    source_path: Path | None = None

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError("DIALOGBOT_TOKEN is not set (get a token from @BotFather)")
        return self.token

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def default_config_path(cwd: Path | None = None) -> Path:
    """config.toml if the operator made one, else the shipped example (a working config)."""
    base = cwd or Path.cwd()
    from_env = os.environ.get("DIALOGBOT_CONFIG")
    if from_env:
        return Path(from_env)
    own = base / "config.toml"
    return own if own.exists() else base / "config.example.toml"


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    path = path or default_config_path()
    raw = _read_toml(path)
    return _build(raw, env, path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _build(raw: Mapping[str, Any], env: Mapping[str, str], path: Path) -> Settings:
    bot = _table(raw, "bot")
    database = _table(raw, "database")
    channel = _table(raw, "channel")
    moderation = _table(raw, "moderation")
    digest = _table(raw, "digest")
    secret = env.get("DIALOGBOT_SECRET") or _str(bot, "bot.secret", default="")
    if len(secret) < 8:
        raise ConfigError("bot.secret / DIALOGBOT_SECRET must be at least 8 characters")
    api_base = env.get("DIALOGBOT_API_BASE") or _str(bot, "bot.api_base", DEFAULT_API_BASE)
    if not re.match(r"^https?://", api_base):
        raise ConfigError(f"DIALOGBOT_API_BASE / bot.api_base must be an http(s) URL: {api_base!r}")
    channel_chat = env.get("DIALOGBOT_CHANNEL", _str(channel, "channel.chat", ""))
    return Settings(
        token=env.get("DIALOGBOT_TOKEN") or None,
        api_base=api_base.rstrip("/"),
        secret=secret,
        default_locale=_str(bot, "bot.default_locale", "de"),
        database_url=env.get("DIALOGBOT_DATABASE_URL")
        or _str(database, "database.url", DEFAULT_DATABASE_URL),
        channel_chat=channel_chat or None,
        channel_link=_str(channel, "channel.link", "") or None,
        moderators=_moderators(env, moderation),
        moderation_mode=_choice(moderation, "moderation.mode", ("pre", "post"), "pre"),
        moderators_chat=_optional_int(moderation, "moderation.group_chat"),
        digest_schedule=_str(digest, "digest.schedule", "0 18 * * *"),
        digest_timezone=_str(digest, "digest.timezone", "Europe/Berlin"),
        consultation=_consultation(raw),
        source_path=path,
    )


def _consultation(raw: Mapping[str, Any]) -> Consultation:
    c = _table(raw, "consultation")
    topics = _topics(raw.get("topics"))
    max_topics = _int(c, "consultation.max_topics", 3, minimum=1)
    min_len = _int(c, "consultation.impulse_min_length", 10, minimum=1)
    max_len = _int(c, "consultation.impulse_max_length", 1000, minimum=min_len)
    if max_len > 3000:
        # The review screen repeats the impulse inside one Telegram message (4096 characters).
        raise ConfigError("consultation.impulse_max_length must be at most 3000")
    phase = _str(c, "consultation.phase", "open")
    if phase not in PHASES:
        raise ConfigError(f"consultation.phase must be one of {', '.join(PHASES)}: {phase!r}")
    return Consultation(
        title=_required_str(c, "consultation.title"),
        question=_required_str(c, "consultation.question"),
        purpose=_str(c, "consultation.purpose", ""),
        privacy_url=_required_str(c, "consultation.privacy_url"),
        max_topics=min(max_topics, len(topics)),
        impulse_min_length=min_len,
        impulse_max_length=max_len,
        phase=phase,
        topics=topics,
    )


def _topics(value: Any) -> tuple[Topic, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError("topics: at least one [[topics]] entry with id and title is required")
    topics: list[Topic] = []
    for index, entry in enumerate(value):
        key = f"topics[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{key} must be a table with id and title")
        topic_id = _required_str(entry, f"{key}.id")
        if not TOPIC_ID_PATTERN.match(topic_id):
            raise ConfigError(f"{key}.id must be 1-24 characters a-z, 0-9 or _: {topic_id!r}")
        title = _required_str(entry, f"{key}.title")
        if len(title) > TOPIC_TITLE_MAX:
            raise ConfigError(f"{key}.title must be at most {TOPIC_TITLE_MAX} characters")
        titles = entry.get("titles", {})
        if not isinstance(titles, dict) or not all(isinstance(v, str) for v in titles.values()):
            raise ConfigError(f"{key}.titles must map locales to strings")
        topics.append(Topic(id=topic_id, title=title, titles=dict(titles)))
    ids = [t.id for t in topics]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise ConfigError(f"topics: id {duplicate!r} is used twice")
    return tuple(topics)


def _moderators(env: Mapping[str, str], moderation: Mapping[str, Any]) -> frozenset[int]:
    from_env = env.get("DIALOGBOT_MODERATORS")
    if from_env is not None:
        parts = [p.strip() for p in from_env.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ConfigError("DIALOGBOT_MODERATORS must be comma-separated Telegram user ids")
        return frozenset(int(p) for p in parts)
    value = moderation.get("moderators", [])
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ConfigError("moderation.moderators must be a list of Telegram user ids")
    return frozenset(value)


def _choice(table: Mapping[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
    value = _str(table, key, default)
    if value not in options:
        raise ConfigError(f"{key} must be one of {', '.join(options)}: {value!r}")
    return value


def _optional_int(table: Mapping[str, Any], key: str) -> int | None:
    value = table.get(key.rsplit(".", 1)[-1])
    if value is None or value == 0:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{key} must be a Telegram chat id (a whole number)")
    return value


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table")
    return value


def _str(table: Mapping[str, Any], key: str, default: str) -> str:
    value = table.get(key.rsplit(".", 1)[-1], default)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string")
    return value


def _required_str(table: Mapping[str, Any], key: str) -> str:
    value = _str(table, key, "").strip()
    if not value:
        raise ConfigError(f"{key} is missing")
    return value


def _int(table: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = table.get(key.rsplit(".", 1)[-1], default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{key} must be a whole number >= {minimum}")
    return value
