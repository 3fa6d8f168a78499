"""Configuration: the example is a working config, and every mistake names its key."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.app.config import ConfigError, check_launch_secret, load_settings
from bot.domain.settings import AbusePolicy, DatabasePolicy, TuningPolicy, WebPolicy
from tests.harness import ROOT

EXAMPLE = ROOT / "config.example.toml"


def test_example_config_holds_the_19_confirmed_forums() -> None:
    settings = load_settings(EXAMPLE, env={})
    topics = settings.consultation.topics
    assert len(topics) == 19
    assert "Mobilität & ÖPNV" in [t.title for t in topics]
    assert all(len(t.title) <= 30 for t in topics)
    assert settings.consultation.max_topics == 3
    assert settings.token is None
    assert settings.api_base == "https://api.telegram.org"


def test_environment_overrides_the_file() -> None:
    env = {
        "DIALOGBOT_TOKEN": "1:x",
        "DIALOGBOT_API_BASE": "http://127.0.0.1:9/",
        "DIALOGBOT_DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "DIALOGBOT_CHANNEL": "@elsewhere",
        "DIALOGBOT_MODERATORS": "1, 8000000000",
        "DIALOGBOT_SECRET": "another-secret",
    }
    s = load_settings(EXAMPLE, env=env)
    assert (s.token, s.api_base, s.database_url) == (
        "1:x",
        "http://127.0.0.1:9",
        "sqlite+aiosqlite:///x.db",
    )
    assert s.channel_chat == "@elsewhere"
    assert s.moderators == frozenset({1, 8_000_000_000})
    assert s.secret == "another-secret"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"DIALOGBOT_MODERATORS": "12,abc"}, "DIALOGBOT_MODERATORS"),
        ({"DIALOGBOT_API_BASE": "ftp://x"}, "DIALOGBOT_API_BASE"),
        ({"DIALOGBOT_SECRET": "short"}, "DIALOGBOT_SECRET"),
    ],
)
def test_bad_environment_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(EXAMPLE, env=env)


def test_bad_file_values_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("max_topics = 3", "max_topics = 0"))
    with pytest.raises(ConfigError, match=r"consultation\.max_topics"):
        load_settings(bad, env={})
    dup = _write(tmp_path, '[[topics]]\nid = "sport"\ntitle = "Noch einmal Sport"\n')
    with pytest.raises(ConfigError, match="'sport' is used twice"):
        load_settings(dup, env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[bot\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})


def test_require_token_explains_where_to_get_one() -> None:
    with pytest.raises(ConfigError, match=r"DIALOGBOT_TOKEN.*BotFather"):
        load_settings(EXAMPLE, env={}).require_token()


def test_digest_locale_must_have_standard_formats(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('\nlocale = "de"', '\nlocale = "de_LS"')
    assert 'locale = "de_LS"' in text
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"digest\.locale"):
        load_settings(config, env={})


@pytest.mark.parametrize(
    ("lines", "timeout", "poll"),
    [("request_timeout = 1.5\npoll_seconds = 1", 1.5, 1), ("request_timeout = 2", 2.0, 25)],
)
def test_the_request_timeout_and_the_long_poll_are_read(
    tmp_path: Path, lines: str, timeout: float, poll: int
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("request_timeout = 60\npoll_seconds = 25\n", lines + "\n")
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config, env={})
    assert (settings.request_timeout, settings.poll_seconds) == (timeout, poll)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("request_timeout = 0", r"bot\.request_timeout"),
        ('request_timeout = "60"', r"bot\.request_timeout"),
        ("poll_seconds = 51", r"bot\.poll_seconds"),
        ("poll_seconds = -1", r"bot\.poll_seconds"),
    ],
)
def test_a_wrong_timeout_names_its_key(tmp_path: Path, line: str, key: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "request_timeout = 60\npoll_seconds = 25\n" in text
    name = line.split(" ")[0]
    kept = [
        row for row in ("request_timeout = 60", "poll_seconds = 25") if row.split(" ")[0] != name
    ]
    text = text.replace(
        "request_timeout = 60\npoll_seconds = 25\n", "\n".join([*kept, line]) + "\n"
    )
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_settings(config, env={})


def test_moderation_language_and_answer_minutes(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE, env={})
    assert (settings.moderation_language, settings.answer_minutes) == ("de", 15)
    example = EXAMPLE.read_text(encoding="utf-8")
    for old, new, key in [
        ('\nlanguage = "de"\n# After', '\nlanguage = "tr"\n# After', "language"),
        ("answer_minutes = 15", "answer_minutes = 0", "answer_minutes"),
    ]:
        assert old in example
        config = tmp_path / f"{key}.toml"
        config.write_text(example.replace(old, new), encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"moderation\.{key}"):
            load_settings(config, env={})
    english = tmp_path / "en.toml"
    english.write_text(example.replace('\nlanguage = "de"\n# After', '\nlanguage = "en"\n# After'))
    assert load_settings(english, env={}).moderation_language == "en"


@pytest.mark.parametrize(
    "secret",
    ["change-me-before-launch", "x" * 42, "test-secret-0123456789"],
)
def test_run_refuses_the_example_secret_and_short_ones(secret: str) -> None:
    with pytest.raises(ConfigError, match="DIALOGBOT_SECRET"):
        check_launch_secret(secret)


def test_run_accepts_a_generated_secret() -> None:
    check_launch_secret(secrets.token_urlsafe(32))  # 43 characters


def test_dialogbot_run_stops_on_the_shipped_secret_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGBOT_")}
    env |= {
        "DIALOGBOT_TOKEN": "4242:emulated-token-for-tests",
        "DIALOGBOT_API_BASE": "http://127.0.0.1:9",
    }
    env["DIALOGBOT_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    out = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "run", "--config", str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "example value" in out.stderr
    assert not (tmp_path / "x.sqlite3").exists()  # nothing was started


@pytest.mark.parametrize("base", ["http://", "http:///", "https://@", "http://a b/"])
def test_an_api_base_without_a_host_is_refused_without_echoing_it(base: str) -> None:
    token = "123456789:" + "A" * 35
    with pytest.raises(ConfigError, match="DIALOGBOT_API_BASE") as raised:
        load_settings(EXAMPLE, env={"DIALOGBOT_API_BASE": base + token, "DIALOGBOT_TOKEN": token})
    assert token not in str(raised.value)


@pytest.mark.parametrize(
    "base",
    ["http://localhost:8081", "http://127.0.0.1:9/", "http://[::1]:8081", "http://bot_api:8081"],
)
def test_local_api_servers_are_accepted(base: str) -> None:
    assert load_settings(EXAMPLE, env={"DIALOGBOT_API_BASE": base}).api_base == base.rstrip("/")


def test_a_cli_error_line_never_shows_the_token(tmp_path: Path) -> None:
    token = "123456789:" + "B" * 35
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGBOT_")}
    env |= {"DIALOGBOT_TOKEN": token, "DIALOGBOT_API_BASE": f"http://{token}"}
    out = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "run", "--config", str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "dialogbot:" in out.stderr
    assert token not in out.stderr and token.split(":")[1] not in out.stderr


def test_tuning_switches_default_on_and_are_checked(tmp_path: Path) -> None:
    example = EXAMPLE.read_text(encoding="utf-8")
    assert "lean_session = true" in example
    assert load_settings(EXAMPLE, env={}).tuning == TuningPolicy()
    assert all(vars(TuningPolicy()).values())
    config = tmp_path / "off.toml"
    config.write_text(example.replace("group_commit = true", "group_commit = false"))
    tuning = load_settings(config, env={}).tuning
    assert (tuning.group_commit, tuning.lean_aiogram) == (False, True)
    config.write_text(example.replace("lean_session = true", 'lean_session = "no"'))
    with pytest.raises(ConfigError, match=r"^tuning\.lean_session must be true or false$"):
        load_settings(config, env={})


def test_settings_models_refuse_a_value_of_the_wrong_type() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.with_overrides(answer_minutes=20).answer_minutes == 20
    with pytest.raises(ValidationError, match="answer_minutes"):
        settings.with_overrides(answer_minutes="soon")
    with pytest.raises(ValidationError, match="rate_burst"):
        replace(settings.abuse, rate_burst="many")


def test_a_printed_settings_shows_neither_the_token_nor_the_secret() -> None:
    token = "4242:" + secrets.token_urlsafe(30)
    secret = secrets.token_urlsafe(32)
    settings = load_settings(EXAMPLE, env={"DIALOGBOT_TOKEN": token, "DIALOGBOT_SECRET": secret})
    assert (settings.token, settings.secret) == (token, secret)
    assert token not in repr(settings) and secret not in repr(settings)
    assert token not in str(settings) and secret not in str(settings)
    hooked = settings.with_overrides(webhook_secret="hook-secret", token=None)
    assert hooked.token is None
    assert hooked.secret_values() == (secret, "hook-secret")
    assert settings.secret_values() == (token, secret)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "[digest]\n",
            '[digest]\ncron = "0 18 * * *"\n',
            "digest.cron is not a known key (schedule, timezone, locale, when_unchanged)",
        ),
        ("[ratings]\n", "[rating]\n", "rating is not a known section (bot, database, "),
        ("max_topics = 3\n", "max_topics = 3\nmax_topic = 3\n", "consultation.max_topic is not"),
    ],
)
def test_a_misspelt_key_or_section_is_refused_with_the_known_ones(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    """A typo would otherwise leave the default in force without a word."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(old) == 1
    config = tmp_path / "c.toml"
    config.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError, match="^" + re.escape(message)) as raised:
        load_settings(config, env={})
    assert "\n" not in str(raised.value)


def test_an_error_names_the_variable_that_set_the_value_or_the_key_and_its_variable(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"^DIALOGBOT_SECRET must be at least 8 characters$"):
        load_settings(EXAMPLE, env={"DIALOGBOT_SECRET": "short"})
    config = tmp_path / "c.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    config.write_text(text.replace('secret = "change-me-before-launch"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^bot\.secret / DIALOGBOT_SECRET must be at least 8"):
        load_settings(config, env={})
    assert load_settings(config, env={"DIALOGBOT_SECRET": "12345678"}).secret == "12345678"
    config.write_text(text.replace("moderators = []", "moderators = [true]"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^moderation\.moderators / DIALOGBOT_MODERATORS must"):
        load_settings(config, env={})
    # An empty DIALOGBOT_CHANNEL turns the channel off; an empty DIALOGBOT_SECRET is no secret.
    settings = load_settings(EXAMPLE, env={"DIALOGBOT_CHANNEL": "", "DIALOGBOT_SECRET": ""})
    assert settings.channel_chat is None and settings.secret == "change-me-before-launch"


def test_the_defaults_of_the_code_hold_for_a_file_of_only_the_required_keys(
    tmp_path: Path,
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\nsecret = "12345678"\n[consultation]\ntitle = "T"\nquestion = "Q?"\n'
        'privacy_url = "https://example.org/p"\n[[topics]]\nid = "a"\ntitle = "A"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={})
    assert settings.consultation.max_topics == 1  # no more than there are topics
    assert (settings.channel_chat, settings.moderators_chat, settings.redis_url) == (None,) * 3
    assert (settings.abuse, settings.privacy.notice_version) == (AbusePolicy(), "1")
    assert (settings.database, settings.web, settings.tuning) == (
        DatabasePolicy(),
        WebPolicy(),
        TuningPolicy(),
    )


def test_a_value_written_wrong_is_named_before_a_section_left_out(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[bot]\nsecret = "12345678"\n[digest]\nschedule = "not cron"\n')
    with pytest.raises(ConfigError, match=r"^digest\.schedule: "):
        load_settings(config, env={})
    config.write_text('[bot]\nsecret = "12345678"\n')
    with pytest.raises(ConfigError, match=r"^\[consultation\] is missing$"):
        load_settings(config, env={})
