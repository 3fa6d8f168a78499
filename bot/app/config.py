"""Configuration: a TOML file, overridden by DIALOGBOT_* environment variables.

The file is validated by pydantic models that mirror it, one per section ([bot], [database],
[consultation], [[topics]], ...): each key is declared once, with its default and its check,
and a key the models do not know is refused. The environment variables are laid over the file's
values before validation. Every problem becomes one `ConfigError` whose message names the key
(or the environment variable that set it), so the CLI can stop with a single clear line instead
of a traceback. The checked sections then become the frozen models of bot/domain/settings.py
(re-exported here for the application layer).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, get_args

from babel import Locale, UnknownLocaleError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.domain.digest_schedule import DEFAULT_CRON, DEFAULT_TIMEZONE, DigestSchedule
from bot.domain.settings import (
    LINK_POLICIES,
    MODERATOR_LOCALES,
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
PHASES = ("open", "closed")
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
REDIS_URL_PATTERN = re.compile(r"^(redis|rediss|unix)://")

# The environment overlay: variable -> (section, key), and whether an empty value still counts
# (an empty DIALOGBOT_CHANNEL means "no channel"; an empty DIALOGBOT_SECRET is not a secret).
# DIALOGBOT_TOKEN has no key in the file: the token never belongs there.
ENVIRONMENT: dict[str, tuple[str, str, bool]] = {
    "DIALOGBOT_API_BASE": ("bot", "api_base", False),
    "DIALOGBOT_SECRET": ("bot", "secret", False),
    "DIALOGBOT_WEBHOOK_SECRET": ("bot", "webhook_secret", False),
    "DIALOGBOT_DATABASE_URL": ("database", "url", False),
    "DIALOGBOT_CHANNEL": ("channel", "chat", True),
    "DIALOGBOT_MODERATORS": ("moderation", "moderators", True),
    "DIALOGBOT_REDIS_URL": ("scaling", "redis_url", False),
}


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
    overlaid = _overlay(raw, env)
    try:
        config = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        # One line about one problem, a value written wrong before a key left out; never the
        # value itself (it may be a token).
        errors = exc.errors(include_input=False, include_url=False)
        first = next((e for e in errors if e["type"] != "missing"), errors[0])
        raise ConfigError(_describe(first, overlaid)) from None
    return config.settings(token=env.get("DIALOGBOT_TOKEN") or None, path=path)


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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _overlay(raw: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """Lays the DIALOGBOT_* variables over the file's values; returns which keys they set."""
    overlaid: dict[tuple[str, str], str] = {}
    for name, (section, key, empty_counts) in ENVIRONMENT.items():
        value = env.get(name)
        if value is None or (not value and not empty_counts):
            continue
        table = raw.setdefault(section, {})
        if isinstance(table, dict):  # else the section's own error is reported
            table[key] = value
            overlaid[(section, key)] = name
    return overlaid


# -- errors -----------------------------------------------------------------------------------


def _fail(phrase: str, *at: str | int) -> NoReturn:
    """A problem with the value being checked (or, with `at`, with this key inside it).
    A phrase starting with ":" follows the key directly, any other after a space."""
    raise PydanticCustomError("config", "{phrase}", {"phrase": phrase, "at": at})


_GENERIC = {
    "missing": "is missing",
    "extra_forbidden": "is not a known key",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be a list",
}


_VARIABLES = {(section, key): name for name, (section, key, _) in ENVIRONMENT.items()}


def _known_keys(loc: list[str | int]) -> list[str]:
    """The keys the model at `loc` declares (list indexes and dict keys are stepped over)."""
    model: type[BaseModel] = ConfigFile
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is not None:
            model = _model_in(field.annotation) or model
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, get_args(annotation))), None)


def _describe(error: ErrorDetails, overlaid: Mapping[tuple[str, str], str]) -> str:
    context = error.get("ctx") or {}
    loc = [part for part in error["loc"] if part != "[key]"]
    loc += list(context.get("at", ()))
    if error["type"] == "config":
        phrase = str(context["phrase"])
    else:
        phrase = _GENERIC.get(error["type"], "is not valid")
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if len(loc) == 2 and (str(loc[0]), str(loc[1])) in overlaid:
        key = overlaid[(str(loc[0]), str(loc[1]))]  # the environment set it, not the file
    elif len(loc) == 2 and (variable := _VARIABLES.get((str(loc[0]), str(loc[1])))):
        key = f"{key} / {variable}"
    if error["type"] == "extra_forbidden":
        known = ", ".join(_known_keys(loc[:-1]))
        kind = "section" if len(loc) == 1 else "key"
        return f"{key} is not a known {kind} ({known})"
    if len(loc) == 1 and error["type"] in ("missing", "model_type", "model_attributes_type"):
        return f"[{key}] {phrase}"  # a section
    return f"{key}{phrase}" if phrase.startswith(":") else f"{key} {phrase}"


# -- value types: each a check and the phrase that names what was expected ---------------------


def _check(test: Callable[[Any], bool], phrase: str) -> PlainValidator:
    def validate(value: Any) -> Any:
        if not test(value):
            _fail(phrase)
        return value

    return PlainValidator(validate)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(minimum: int, maximum: int | None = None, beyond: str = "") -> PlainValidator:
    def validate(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            _fail(f"must be a whole number >= {minimum}")
        if maximum is not None and value > maximum:
            _fail(f"must be at most {maximum}{beyond}")
        return int(value)

    return PlainValidator(validate)


def _seconds(minimum: float = 0.01) -> PlainValidator:
    def validate(value: Any) -> float:
        if not (_is_int(value) or isinstance(value, float)) or value < minimum:
            _fail(f"must be a number of seconds >= {minimum:g}")
        return float(value)

    return PlainValidator(validate)


def _one_of(options: tuple[str, ...]) -> PlainValidator:
    def validate(value: Any) -> str:
        if not isinstance(value, str):
            _fail("must be a string")
        if value not in options:
            _fail(f"must be one of {', '.join(options)}: {value!r}")
        return value

    return PlainValidator(validate)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        _fail("must be a string")
    return value


def _required_text(value: Any) -> str:
    if not _text(value).strip():
        _fail("is missing")
    return str(value).strip()


def _title(value: Any) -> str:
    title = _required_text(value)
    if len(title) > TOPIC_TITLE_MAX:
        _fail(f"must be at most {TOPIC_TITLE_MAX} characters")
    return title


def _locale_name(value: Any) -> str:
    if not isinstance(value, str) or not LOCALE_PATTERN.match(value):
        _fail(f": {value!r} is not a locale name such as en, tr or de_LS")
    return value


def _api_base(value: Any) -> str:
    scheme, _, rest = _text(value).partition("://")
    if scheme not in ("http", "https") or not _API_HOST.match(rest.split("/", 1)[0]):
        # Not the value itself: a token pasted into the wrong variable must not be printed.
        _fail("must be an http(s) URL with a host name, such as https://api.telegram.org")
    return str(value).rstrip("/")


def _pattern(pattern: re.Pattern[str], phrase: str) -> PlainValidator:
    """A string matching `pattern`, or empty (not set); the phrase never repeats the value."""

    def validate(value: Any) -> str:
        if _text(value) and not pattern.match(value):
            _fail(phrase)
        return str(value)

    return PlainValidator(validate)


def _moderators(value: Any) -> frozenset[int]:
    if isinstance(value, str):  # DIALOGBOT_MODERATORS="1,2,3"
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if all(p.isdigit() for p in parts):
            return frozenset(int(p) for p in parts)
    elif isinstance(value, list) and all(_is_int(v) for v in value):
        return frozenset(value)
    _fail("must be Telegram user ids (a list in the file, comma-separated in the environment)")


def _chat_id(value: Any) -> int | None:
    if not _is_int(value):
        _fail("must be a Telegram chat id (a whole number)")
    return int(value) or None


def _schedule(part: str) -> PlainValidator:
    """A cron expression or a time zone, as `DigestSchedule` understands it."""

    def validate(value: Any) -> str:
        try:
            DigestSchedule(**{part: _text(value)})
        except ValueError as exc:
            _fail(f": {exc}")
        return str(value)

    return PlainValidator(validate)


def _digest_locale(value: Any) -> str:
    locale = _locale_name(_text(value))
    try:  # dates and numbers in the digest are formatted by Babel for this locale
        Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        _fail(f"must be a language with standard formats (de, en, tr): {locale!r}")
    return locale


def _date(value: Any) -> date | None:
    """An ISO date, as a string ("2027-03-31") or a TOML date (2027-03-31); empty: none."""
    if value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    _fail(f'must be a date such as "2027-03-31": {value!r}')


def _listen(value: Any) -> str:
    host, _, port = _text(value).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        _fail("must be host:port, such as 127.0.0.1:8081")
    return str(value)


def _networks(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        _fail("must be a list of addresses or networks")
    for proxy in value:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            _fail(f": {proxy!r} is no address or network")
    return tuple(value)


def _public_url(value: Any) -> str:
    if _text(value) and not value.startswith(("http://", "https://")):
        _fail("must be an http(s) URL")
    return str(value).rstrip("/")


Text = Annotated[str, PlainValidator(_text)]
RequiredText = Annotated[str, PlainValidator(_required_text)]
Title = Annotated[str, PlainValidator(_title)]
LocaleName = Annotated[str, PlainValidator(_locale_name)]
Flag = Annotated[bool, _check(lambda v: isinstance(v, bool), "must be true or false")]
Seconds = Annotated[float, _seconds()]
SecondsOrNone = Annotated[float, _seconds(minimum=0)]


# -- the sections of the file -----------------------------------------------------------------


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSection(Section):
    api_base: Annotated[str, PlainValidator(_api_base)] = DEFAULT_API_BASE
    # The pseudonyms' key: required (`dialogbot run` asks for more, check_launch_secret).
    secret: Annotated[
        str, _check(lambda v: isinstance(v, str) and len(v) >= 8, "must be at least 8 characters")
    ] = Field(default="", validate_default=True)
    default_locale: Text = "de"
    webhook_secret: Annotated[
        str,
        _pattern(
            WEBHOOK_SECRET_PATTERN,
            "must be 1-256 characters A-Z, a-z, 0-9, _ or - (Telegram's rule)",
        ),
    ] = ""
    request_timeout: Seconds = 60.0
    poll_seconds: Annotated[int, _whole(0, 50, " (Telegram's longest long poll)")] = 25
    updates_in_flight: Annotated[int, _whole(1)] = 200


class DatabaseSection(Section):
    url: Text = DEFAULT_DATABASE_URL
    connect_timeout: Seconds = DatabasePolicy.connect_timeout
    command_timeout: Seconds = DatabasePolicy.command_timeout
    startup_wait: SecondsOrNone = DatabasePolicy.startup_wait
    retry_max_pause: Seconds = DatabasePolicy.retry_max_pause
    takeover_grace: SecondsOrNone = DatabasePolicy.takeover_grace


class TranslationSection(Section):
    """[consultation.translations.<locale>]: the consultation's words in that language."""

    title: RequiredText
    question: RequiredText
    purpose: Text = ""


class ConsultationSection(Section):
    title: RequiredText
    question: RequiredText
    purpose: Text = ""
    privacy_url: RequiredText
    max_topics: Annotated[int, _whole(1)] = 3
    impulse_min_length: Annotated[int, _whole(1)] = 10
    # The review screen repeats the impulse inside one Telegram message (4096 characters).
    impulse_max_length: Annotated[int, _whole(1, 3000)] = 1000
    phase: Annotated[str, _one_of(PHASES)] = "open"
    translations: dict[LocaleName, TranslationSection] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ConsultationSection:
        if self.impulse_max_length < self.impulse_min_length:
            minimum = self.impulse_min_length
            _fail(f"must be a whole number >= {minimum}", "impulse_max_length")
        for locale, text in self.translations.items():
            if self.purpose and not text.purpose.strip():
                _fail("is missing", "translations", locale, "purpose")
        return self


class TopicEntry(Section):
    """One [[topics]] entry: the stable id stored with every vote, the German button text, and
    the button text in each language of [consultation.translations]."""

    id: Annotated[
        str,
        _check(
            lambda v: isinstance(v, str) and bool(TOPIC_ID_PATTERN.match(v)),
            "must be 1-24 characters a-z, 0-9 or _",
        ),
    ]
    title: Title
    titles: dict[LocaleName, Title] = Field(default_factory=dict)


class ChannelSection(Section):
    chat: Text = ""
    link: Text = ""


class ModerationSection(Section):
    moderators: Annotated[frozenset[int], PlainValidator(_moderators)] = frozenset()
    mode: Annotated[str, _one_of(("pre", "post"))] = "pre"
    group_chat: Annotated[int | None, PlainValidator(_chat_id)] = None
    language: Annotated[str, _one_of(MODERATOR_LOCALES)] = MODERATOR_LOCALES[0]
    answer_minutes: Annotated[int, _whole(1)] = 15


class AbuseSection(Section):
    rate_per_minute: Annotated[int, _whole(1)] = AbusePolicy.rate_per_minute
    rate_burst: Annotated[int, _whole(1)] = AbusePolicy.rate_burst
    links: Annotated[str, _one_of(LINK_POLICIES)] = AbusePolicy.links
    leave_groups: Flag = AbusePolicy.leave_groups


class ScalingSection(Section):
    redis_url: Annotated[
        str,
        # Not repeated in the message: the URL may carry a password.
        _pattern(REDIS_URL_PATTERN, "must be a redis://, rediss:// or unix:// URL"),
    ] = ""


class PrivacySection(Section):
    ends: Annotated[date | None, PlainValidator(_date)] = None
    retention_days: Annotated[int, _whole(0)] = PrivacyPolicy.retention_days
    set_aside_days: Annotated[int, _whole(1)] = PrivacyPolicy.set_aside_days
    notice_version: Annotated[str, PlainValidator(lambda v: _text(v) or "1")] = "1"


class DigestSection(Section):
    schedule: Annotated[str, _schedule("cron")] = DEFAULT_CRON
    timezone: Annotated[str, _schedule("timezone")] = DEFAULT_TIMEZONE
    locale: Annotated[str, PlainValidator(_digest_locale)] = "de"
    when_unchanged: Annotated[str, _one_of(("skip", "short"))] = "skip"


class RatingsSection(Section):
    report_threshold: Annotated[int, _whole(1)] = RatingsPolicy.report_threshold
    consensus_refresh_minutes: Annotated[int, _whole(1)] = RatingsPolicy.consensus_refresh_minutes


class TuningSection(Section):
    lean_aiogram: Flag = True
    dispatcher: Flag = True
    sqlite_writer: Flag = True
    group_commit: Flag = True
    lean_session: Flag = True


class WebSection(Section):
    listen: Annotated[str, PlainValidator(_listen)] = WebPolicy.listen
    trusted_proxies: Annotated[tuple[str, ...], PlainValidator(_networks)] = ()
    invite_codes: Flag = WebPolicy.invite_codes
    public_url: Annotated[str, PlainValidator(_public_url)] = ""


class ConfigFile(Section):
    """The whole file: its sections, and the checks that span two of them."""

    bot: BotSection = Field(default_factory=dict, validate_default=True)
    database: DatabaseSection = DatabaseSection()
    consultation: ConsultationSection
    topics: list[TopicEntry] = Field(default_factory=list)
    channel: ChannelSection = ChannelSection()
    moderation: ModerationSection = ModerationSection()
    abuse: AbuseSection = AbuseSection()
    scaling: ScalingSection = ScalingSection()
    privacy: PrivacySection = PrivacySection()
    digest: DigestSection = DigestSection()
    ratings: RatingsSection = RatingsSection()
    tuning: TuningSection = TuningSection()
    web: WebSection = WebSection()

    @model_validator(mode="after")
    def _topics(self) -> ConfigFile:
        if not self.topics:
            _fail(": at least one [[topics]] entry with id and title is required", "topics")
        ids = [t.id for t in self.topics]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            _fail(f": id {duplicate!r} is used twice", "topics")
        # Each translated consultation has every topic title in that language, and vice versa.
        languages = set(self.consultation.translations)
        for index, topic in enumerate(self.topics):
            missing = sorted(languages - set(topic.titles))
            if missing:
                _fail(f"is missing ({topic.id})", "topics", index, "titles", missing[0])
            extra = sorted(set(topic.titles) - languages)
            if extra:
                _fail(
                    f": there is no [consultation.translations.{extra[0]}] for this language",
                    *("topics", index, "titles", extra[0]),
                )
        return self

    def settings(self, *, token: str | None, path: Path) -> Settings:
        c, moderation, digest, web = self.consultation, self.moderation, self.digest, self.web
        return Settings(
            bot_token=SecretStr(token) if token else None,
            api_base=self.bot.api_base,
            pseudonym_secret=SecretStr(self.bot.secret),
            default_locale=self.bot.default_locale,
            database_url=self.database.url,
            channel_chat=self.channel.chat or None,
            channel_link=self.channel.link or None,
            moderators=moderation.moderators,
            moderation_mode=moderation.mode,
            moderators_chat=moderation.group_chat,
            digest_schedule=digest.schedule,
            digest_timezone=digest.timezone,
            consultation=Consultation(
                **c.model_dump(exclude={"max_topics", "translations"}),
                max_topics=min(c.max_topics, len(self.topics)),
                topics=tuple(Topic(**t.model_dump()) for t in self.topics),
                translations={
                    k: ConsultationText(**t.model_dump()) for k, t in c.translations.items()
                },
            ),
            source_path=path,
            abuse=AbusePolicy(**self.abuse.model_dump()),
            digest_locale=digest.locale,
            digest_when_unchanged=digest.when_unchanged,
            privacy=PrivacyPolicy(**self.privacy.model_dump()),
            ratings=RatingsPolicy(**self.ratings.model_dump()),
            webhook_secret=self.bot.webhook_secret or None,
            redis_url=self.scaling.redis_url or None,
            request_timeout=self.bot.request_timeout,
            poll_seconds=self.bot.poll_seconds,
            updates_in_flight=self.bot.updates_in_flight,
            moderation_language=moderation.language,
            answer_minutes=moderation.answer_minutes,
            database=DatabasePolicy(**self.database.model_dump(exclude={"url"})),
            tuning=TuningPolicy(**self.tuning.model_dump()),
            web=WebPolicy(**web.model_dump()),
        )
