"""The settings as typed, frozen models: one per section of the TOML file (config.example.toml).

bot/app/config.py validates the file and the DIALOGBOT_* environment overlay against its own
models of the file's sections (each problem one `ConfigError` naming the key) and builds these.
Pure: no I/O, so every layer may import the settings it reads. The models are pydantic
dataclasses, so a value of the wrong type set in code (`with_overrides`, a test) is refused as
well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.dataclasses import dataclass

# The languages moderators' texts are written in; German is the source.
MODERATOR_LOCALES = ("de", "en")


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
class ConsultationText:
    """The consultation's own words, in one language."""

    title: str
    question: str
    purpose: str


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
    # [consultation.translations.<locale>]; the German text above is the fallback.
    translations: Mapping[str, ConsultationText] = field(default_factory=dict)

    def text_for(self, locale: str) -> ConsultationText:
        own = ConsultationText(title=self.title, question=self.question, purpose=self.purpose)
        return self.translations.get(locale, own)

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def title_of(self, topic_id: str, locale: str = "de") -> str:
        """The topic's title; an id no longer configured is shown as it is."""
        topic = self.topic(topic_id)
        return topic.title_for(locale) if topic else topic_id

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)


LINK_POLICIES = ("allow", "hold", "refuse")


@dataclass(frozen=True)
class AbusePolicy:
    """Limits against flooding and unwanted content ([abuse] in the config)."""

    # Messages and button presses per person: a burst, refilled at a steady rate.
    rate_per_minute: int = 40
    rate_burst: int = 20
    # Links, e-mail addresses and phone numbers in ideas: allow, hold for review, refuse.
    links: str = "hold"
    # Leave groups the bot was added to (except the moderators' group).
    leave_groups: bool = True


@dataclass(frozen=True)
class PrivacyPolicy:
    """How long the raw Telegram ids needed for replies are kept ([privacy] in the config)."""

    # The consultation's last day; None: not decided yet, so nothing is purged without --force.
    ends: date | None = None
    retention_days: int = 90
    # How long the records of updates set aside as unreadable are kept (ids, kinds, error
    # locations; no content): `dialogbot inbox` shows them.
    set_aside_days: int = 30
    # The version of the privacy notice people agree to; a new value asks everyone again.
    notice_version: str = "1"

    @property
    def purge_from(self) -> date | None:
        """The first day `dialogbot purge` drops them: after `ends` plus `retention_days`."""
        if self.ends is None:
            return None
        return self.ends + timedelta(days=self.retention_days + 1)


@dataclass(frozen=True)
class DatabasePolicy:
    """Waiting for the database ([database] in the config, storage/outage.py), in seconds."""

    # A new connection (and a free pooled one), and one statement's answer (PostgreSQL).
    connect_timeout: float = 10.0
    command_timeout: float = 30.0
    # At start, how long to wait for the database to answer before giving up (exit 1).
    startup_wait: float = 120.0
    # The longest pause between two attempts while the database is unreachable.
    retry_max_pause: float = 10.0
    # Several instances: how long another instance's liveness lock must stay free before its
    # pending updates are taken over (an outage frees every lock for a moment).
    takeover_grace: float = 30.0


@dataclass(frozen=True)
class RatingsPolicy:
    """Citizens rating each other's impulses ([ratings] in the config, docs/ratings.md)."""

    # Open reports that send an approved impulse back to the moderators.
    report_threshold: int = 3
    # Minutes between two computations of the opinion groups (background, cached).
    consensus_refresh_minutes: int = 10


@dataclass(frozen=True)
class TuningPolicy:
    """Switches for the performance work that reaches into libraries ([tuning] in the config).

    All on by default. Each turned off takes the library's stock path (tests/test_tuning.py);
    the code each one switches names it.
    """

    # aiogram's Bot API models built on first use, not at import (bot/telegram/lean_aiogram.py,
    # called by `dialogbot` once the settings are read).
    lean_aiogram: bool = True
    # aiogram's synchronous filters run on the event loop, not on worker threads
    # (bot/telegram/dispatching.py).
    dispatcher: bool = True
    # SQLite's writer and point reads on the event loop's own thread (storage/sqlite_writer.py).
    sqlite_writer: bool = True
    # Commits of one turn of the event loop written together (storage/group_commit.py).
    group_commit: bool = True
    # Bot API calls as orjson bodies, answers read only as far as the bot reads them
    # (bot/telegram/session.py).
    lean_session: bool = True


@dataclass(frozen=True)
class WebPolicy:
    """The web chat ([web] in the config, `dialogbot web`; bot/web/)."""

    # host:port the web chat listens on.
    listen: str = "127.0.0.1:8081"
    # Addresses of reverse proxies whose X-Forwarded-For is believed; from anyone else the
    # connection's own address counts.
    trusted_proxies: tuple[str, ...] = ()
    # True: taking part on the web needs a one-use code (`dialogbot web invites N`).
    invite_codes: bool = False
    # The address people open (QR codes, links); empty: http://<listen>/.
    public_url: str = ""


TUNING_SWITCHES = ("lean_aiogram", "dispatcher", "sqlite_writer", "group_commit", "lean_session")


@dataclass(frozen=True)
class Settings:
    # The bot token (DIALOGBOT_TOKEN) and the pseudonyms' key ([bot] secret): SecretStr, so a
    # printed or logged Settings shows "**********"; read them through `token` and `secret`.
    bot_token: SecretStr | None
    api_base: str
    pseudonym_secret: SecretStr
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
    # The config file it was read from (`dialogbot doctor` checks its t.me links).
    source_path: Path | None = None
    abuse: AbusePolicy = field(default_factory=AbusePolicy)
    # Language of the channel's digests, and what a period without news posts (skip | short).
    digest_locale: str = "de"
    digest_when_unchanged: str = "skip"
    privacy: PrivacyPolicy = field(default_factory=PrivacyPolicy)
    ratings: RatingsPolicy = field(default_factory=RatingsPolicy)
    # Webhook mode: Telegram sends it in X-Telegram-Bot-Api-Secret-Token (bot/telegram/webhook.py).
    webhook_secret: str | None = None
    # Several instances: the rate limits' shared store (bot/telegram/throttling.py); None: in
    # memory.
    redis_url: str | None = None
    # Seconds a Bot API call may take before it counts as failed (and is tried again), and
    # how long one getUpdates long poll waits for news (its own timeout is both added up).
    request_timeout: float = 60.0
    poll_seconds: int = 25
    # Updates received but not yet handled, at most: polling fetches no more and a webhook call
    # waits (then 503) while this many are in flight (bot/telegram/pipeline.py).
    updates_in_flight: int = 200
    # What moderators read where their own language is not a moderator language, and in the
    # moderators' group chat (de or en).
    moderation_language: str = "de"
    # After "Antworten", how long the bot takes the next text as the answer (then it expires).
    answer_minutes: int = 15
    database: DatabasePolicy = field(default_factory=DatabasePolicy)
    tuning: TuningPolicy = field(default_factory=TuningPolicy)
    web: WebPolicy = field(default_factory=WebPolicy)

    @property
    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token is not None else None

    @property
    def secret(self) -> str:
        return self.pseudonym_secret.get_secret_value()

    def secret_values(self) -> tuple[str, ...]:
        """What the log mask hides besides anything shaped like a token (bot/app/logs.py)."""
        return tuple(v for v in (self.token, self.secret, self.webhook_secret) if v)

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError("DIALOGBOT_TOKEN is not set (get a token from @BotFather)")
        return self.token

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with these fields changed; `token` and `secret` are accepted as plain text,
        and a [tuning] switch by its name (`lean_session=False`)."""
        switches = {name: changes.pop(name) for name in TUNING_SWITCHES if name in changes}
        if switches:
            changes["tuning"] = replace(changes.get("tuning", self.tuning), **switches)
        if "token" in changes:
            token = changes.pop("token")
            changes["bot_token"] = SecretStr(token) if token is not None else None
        if "secret" in changes:
            changes["pseudonym_secret"] = SecretStr(changes.pop("secret"))
        return replace(self, **changes)
