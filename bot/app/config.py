"""Configuration: a TOML file, overridden by DIALOGBOT_* environment variables.

Every problem becomes one `ConfigError` whose message names the key, so the CLI can stop with a
single clear line instead of a traceback. The models it builds live in bot/domain/settings.py
(re-exported here for the application layer).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from pydantic import SecretStr

from bot.domain.digest_schedule import DEFAULT_CRON, DEFAULT_TIMEZONE, DigestSchedule
from bot.domain.settings import (
    LINK_POLICIES,
    MODERATOR_LOCALES,
    TUNING_SWITCHES,
    AbusePolicy,
    ConfigError,
    Consultation,
    ConsultationText,
    DatabasePolicy,
    PrivacyPolicy,
    RatingsPolicy,
    Settings,
    Topic,
    TuningPolicy,
    WebPolicy,
)

__all__ = [
    "MODERATOR_LOCALES",
    "AbusePolicy",
    "ConfigError",
    "Consultation",
    "ConsultationText",
    "DatabasePolicy",
    "PrivacyPolicy",
    "RatingsPolicy",
    "Settings",
    "Topic",
    "TuningPolicy",
    "WebPolicy",
    "check_launch_secret",
    "default_config_path",
    "load_settings",
    "shipped_example",
]

DEFAULT_API_BASE = "https://api.telegram.org"
# The secret shipped in config.example.toml: public, so never good enough for a real launch.
EXAMPLE_SECRET = "change-me-before-launch"  # noqa: S105 (the public example, refused)
# What `python -c "import secrets; print(secrets.token_urlsafe(32))"` prints: 256 random bits.
LAUNCH_SECRET_LENGTH = 43
# A host name (dot-separated labels; "_" allowed, as in container names) or an IPv4/IPv6
# address, with an optional port: no user info, no token, nothing else before the path.
_API_HOST = re.compile(
    r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?$"
)
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///dialogbot.sqlite3"
# Telegram's limit is 64 bytes of callback data; our ids travel inside it, so keep them short.
TOPIC_ID_PATTERN = re.compile(r"^[a-z0-9_]{1,24}$")
TOPIC_TITLE_MAX = 30
# A catalog's directory name: "en", "tr", "de_LS" (German in plain language).
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$")
TRANSLATION_KEYS = ("title", "question", "purpose")
PHASES = ("open", "closed")
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
REDIS_URL_PATTERN = re.compile(r"^(redis|rediss|unix)://")


def default_config_path(cwd: Path | None = None) -> Path:
    """config.toml if the operator made one, else config.example.toml here, else the shipped
    example (a working config): in the installed package, or at the top of the source tree."""
    base = cwd or Path.cwd()
    from_env = os.environ.get("DIALOGBOT_CONFIG")
    if from_env:
        return Path(from_env)
    for candidate in (base / "config.toml", base / "config.example.toml"):
        if candidate.exists():
            return candidate
    return shipped_example()


def shipped_example() -> Path:
    """The example config: package data in a wheel (setup.py), the top of a source tree."""
    packaged = Path(__file__).with_name("config.example.toml")
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "config.example.toml"


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
    scheme, _, rest = api_base.partition("://")
    host = rest.split("/", 1)[0]
    if scheme not in ("http", "https") or not _API_HOST.match(host):
        # Not the value itself: a token pasted into the wrong variable must not be printed.
        raise ConfigError(
            "DIALOGBOT_API_BASE / bot.api_base must be an http(s) URL with a host name, "
            "such as https://api.telegram.org"
        )
    channel_chat = env.get("DIALOGBOT_CHANNEL", _str(channel, "channel.chat", ""))
    return Settings(
        bot_token=_secret(env.get("DIALOGBOT_TOKEN")),
        api_base=api_base.rstrip("/"),
        pseudonym_secret=SecretStr(secret),
        default_locale=_str(bot, "bot.default_locale", "de"),
        database_url=env.get("DIALOGBOT_DATABASE_URL")
        or _str(database, "database.url", DEFAULT_DATABASE_URL),
        channel_chat=channel_chat or None,
        channel_link=_str(channel, "channel.link", "") or None,
        moderators=_moderators(env, moderation),
        moderation_mode=_choice(moderation, "moderation.mode", ("pre", "post"), "pre"),
        moderators_chat=_optional_int(moderation, "moderation.group_chat"),
        digest_schedule=_digest_cron(digest),
        digest_timezone=_digest_timezone(digest),
        consultation=_consultation(raw),
        source_path=path,
        abuse=_abuse(_table(raw, "abuse")),
        digest_locale=_digest_locale(digest),
        digest_when_unchanged=_choice(digest, "digest.when_unchanged", ("skip", "short"), "skip"),
        privacy=_privacy(_table(raw, "privacy")),
        ratings=_ratings(_table(raw, "ratings")),
        webhook_secret=_webhook_secret(env, bot),
        redis_url=_redis_url(env, _table(raw, "scaling")),
        request_timeout=_seconds(bot, "bot.request_timeout", 60.0),
        poll_seconds=_poll_seconds(bot),
        updates_in_flight=_int(bot, "bot.updates_in_flight", 200, minimum=1),
        moderation_language=_choice(
            moderation, "moderation.language", MODERATOR_LOCALES, MODERATOR_LOCALES[0]
        ),
        answer_minutes=_int(moderation, "moderation.answer_minutes", 15, minimum=1),
        database=_database_policy(database),
        tuning=_tuning(_table(raw, "tuning")),
        web=_web(_table(raw, "web")),
    )


def _web(table: Mapping[str, Any]) -> WebPolicy:
    listen = _str(table, "web.listen", "127.0.0.1:8081")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("web.listen must be host:port, such as 127.0.0.1:8081")
    proxies = table.get("trusted_proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise ConfigError("web.trusted_proxies must be a list of addresses or networks")
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"web.trusted_proxies: {proxy!r} is no address or network") from None
    invite_codes = table.get("invite_codes", False)
    if not isinstance(invite_codes, bool):
        raise ConfigError("web.invite_codes must be true or false")
    public_url = _str(table, "web.public_url", "")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError("web.public_url must be an http(s) URL")
    return WebPolicy(
        listen=listen,
        trusted_proxies=tuple(proxies),
        invite_codes=invite_codes,
        public_url=public_url.rstrip("/"),
    )


def _tuning(table: Mapping[str, Any]) -> TuningPolicy:
    switches: dict[str, bool] = {}
    for name in TUNING_SWITCHES:
        value = table.get(name, True)
        if not isinstance(value, bool):
            raise ConfigError(f"tuning.{name} must be true or false")
        switches[name] = value
    return TuningPolicy(**switches)


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def _poll_seconds(bot: Mapping[str, Any]) -> int:
    value = _int(bot, "bot.poll_seconds", 25, minimum=0)
    if value > 50:
        raise ConfigError("bot.poll_seconds must be at most 50 (Telegram's longest long poll)")
    return value


def _database_policy(table: Mapping[str, Any]) -> DatabasePolicy:
    default = DatabasePolicy()
    return DatabasePolicy(
        connect_timeout=_seconds(table, "database.connect_timeout", default.connect_timeout),
        command_timeout=_seconds(table, "database.command_timeout", default.command_timeout),
        startup_wait=_seconds(table, "database.startup_wait", default.startup_wait, minimum=0),
        retry_max_pause=_seconds(table, "database.retry_max_pause", default.retry_max_pause),
        takeover_grace=_seconds(
            table, "database.takeover_grace", default.takeover_grace, minimum=0
        ),
    )


def _seconds(table: Mapping[str, Any], key: str, default: float, *, minimum: float = 0.01) -> float:
    value = table.get(key.rsplit(".", 1)[-1], default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{key} must be a number of seconds >= {minimum:g}")
    return float(value)


def check_launch_secret(secret: str) -> None:
    """`dialogbot run` refuses the example secret and anything shorter than a 32-byte random
    one: with a weak secret anybody can compute the pseudonym of a known Telegram id."""
    if secret == EXAMPLE_SECRET:
        raise ConfigError(
            "bot.secret / DIALOGBOT_SECRET is the example value from config.example.toml; "
            'set your own: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    if len(secret) < LAUNCH_SECRET_LENGTH:
        raise ConfigError(
            f"bot.secret / DIALOGBOT_SECRET must be at least {LAUNCH_SECRET_LENGTH} characters "
            'for run: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def _webhook_secret(env: Mapping[str, str], bot: Mapping[str, Any]) -> str | None:
    secret = env.get("DIALOGBOT_WEBHOOK_SECRET") or _str(bot, "bot.webhook_secret", "")
    if secret and not WEBHOOK_SECRET_PATTERN.match(secret):
        raise ConfigError(
            "bot.webhook_secret / DIALOGBOT_WEBHOOK_SECRET must be 1-256 characters "
            "A-Z, a-z, 0-9, _ or - (Telegram's rule)"
        )
    return secret or None


def _redis_url(env: Mapping[str, str], scaling: Mapping[str, Any]) -> str | None:
    url = env.get("DIALOGBOT_REDIS_URL") or _str(scaling, "scaling.redis_url", "")
    if url and not REDIS_URL_PATTERN.match(url):
        # Not repeated in the message: the URL may carry a password.
        raise ConfigError(
            "scaling.redis_url / DIALOGBOT_REDIS_URL must be a redis://, rediss:// or unix:// URL"
        )
    return url or None


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
    purpose = _str(c, "consultation.purpose", "")
    translations = _translations(c.get("translations", {}), needs_purpose=bool(purpose))
    _check_topic_languages(topics, translations)
    return Consultation(
        title=_required_str(c, "consultation.title"),
        question=_required_str(c, "consultation.question"),
        purpose=purpose,
        privacy_url=_required_str(c, "consultation.privacy_url"),
        max_topics=min(max_topics, len(topics)),
        impulse_min_length=min_len,
        impulse_max_length=max_len,
        phase=phase,
        topics=topics,
        translations=translations,
    )


def _translations(value: Any, *, needs_purpose: bool) -> dict[str, ConsultationText]:
    """[consultation.translations.<locale>]: title, question and (if German has one) purpose."""
    if not isinstance(value, dict):
        raise ConfigError("consultation.translations must be a table of locales")
    texts: dict[str, ConsultationText] = {}
    for locale, entry in value.items():
        key = f"consultation.translations.{locale}"
        _check_locale(locale, key)
        if not isinstance(entry, dict):
            raise ConfigError(f"[{key}] must be a table with title, question and purpose")
        unknown = sorted(set(entry) - set(TRANSLATION_KEYS))
        if unknown:
            known = ", ".join(TRANSLATION_KEYS)
            raise ConfigError(f"{key}.{unknown[0]} is not a known key ({known})")
        purpose_key = f"{key}.purpose"
        purpose = (
            _required_str(entry, purpose_key) if needs_purpose else _str(entry, purpose_key, "")
        )
        texts[locale] = ConsultationText(
            title=_required_str(entry, f"{key}.title"),
            question=_required_str(entry, f"{key}.question"),
            purpose=purpose,
        )
    return texts


def _topic_titles(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must map locales to strings")
    for locale in value:
        _check_locale(locale, f"{key}.{locale}")
        title = _required_str(value, f"{key}.{locale}")
        if len(title) > TOPIC_TITLE_MAX:
            raise ConfigError(f"{key}.{locale} must be at most {TOPIC_TITLE_MAX} characters")
    return {locale: title.strip() for locale, title in value.items()}


def _check_topic_languages(
    topics: tuple[Topic, ...], translations: Mapping[str, ConsultationText]
) -> None:
    """Each translated consultation has every topic title in that language, and vice versa."""
    for index, topic in enumerate(topics):
        missing = sorted(set(translations) - set(topic.titles))
        if missing:
            raise ConfigError(f"topics[{index}].titles.{missing[0]} is missing ({topic.id})")
        extra = sorted(set(topic.titles) - set(translations))
        if extra:
            raise ConfigError(
                f"topics[{index}].titles.{extra[0]}: there is no "
                f"[consultation.translations.{extra[0]}] for this language"
            )


def _check_locale(locale: str, key: str) -> None:
    if not LOCALE_PATTERN.match(locale):
        raise ConfigError(f"{key}: {locale!r} is not a locale name such as en, tr or de_LS")


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
        titles = _topic_titles(entry.get("titles", {}), f"{key}.titles")
        topics.append(Topic(id=topic_id, title=title, titles=titles))
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


def _digest_cron(digest: Mapping[str, Any]) -> str:
    cron = _str(digest, "digest.schedule", DEFAULT_CRON)
    try:
        DigestSchedule(cron=cron)
    except ValueError as exc:
        raise ConfigError(f"digest.schedule: {exc}") from None
    return cron


def _digest_timezone(digest: Mapping[str, Any]) -> str:
    timezone = _str(digest, "digest.timezone", DEFAULT_TIMEZONE)
    try:
        DigestSchedule(timezone=timezone)
    except ValueError as exc:
        raise ConfigError(f"digest.timezone: {exc}") from None
    return timezone


def _digest_locale(digest: Mapping[str, Any]) -> str:
    locale = _str(digest, "digest.locale", "de")
    _check_locale(locale, "digest.locale")
    try:  # dates and numbers in the digest are formatted by Babel for this locale
        Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        raise ConfigError(
            f"digest.locale must be a language with standard formats (de, en, tr): {locale!r}"
        ) from None
    return locale


def _abuse(table: Mapping[str, Any]) -> AbusePolicy:
    leave = table.get("leave_groups", True)
    if not isinstance(leave, bool):
        raise ConfigError("abuse.leave_groups must be true or false")
    return AbusePolicy(
        rate_per_minute=_int(table, "abuse.rate_per_minute", 40, minimum=1),
        rate_burst=_int(table, "abuse.rate_burst", 20, minimum=1),
        links=_choice(table, "abuse.links", LINK_POLICIES, "hold"),
        leave_groups=leave,
    )


def _ratings(table: Mapping[str, Any]) -> RatingsPolicy:
    return RatingsPolicy(
        report_threshold=_int(table, "ratings.report_threshold", 3, minimum=1),
        consensus_refresh_minutes=_int(table, "ratings.consensus_refresh_minutes", 10, minimum=1),
    )


def _privacy(table: Mapping[str, Any]) -> PrivacyPolicy:
    return PrivacyPolicy(
        ends=_optional_date(table, "privacy.ends"),
        retention_days=_int(table, "privacy.retention_days", 90, minimum=0),
        set_aside_days=_int(table, "privacy.set_aside_days", 30, minimum=1),
        notice_version=_str(table, "privacy.notice_version", "1") or "1",
    )


def _optional_date(table: Mapping[str, Any], key: str) -> date | None:
    """An ISO date, as a string ("2027-03-31") or a TOML date (2027-03-31); empty: none."""
    value = table.get(key.rsplit(".", 1)[-1])
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f'{key} must be a date such as "2027-03-31": {value!r}')


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
