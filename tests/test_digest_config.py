"""The [digest] settings: defaults, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.config import ConfigError, load_settings
from tests.harness import ROOT

EXAMPLE = ROOT / "config.example.toml"


DIGEST_KEYS = ("schedule = ", "timezone = ", "locale = ", "when_unchanged = ")


def test_defaults_post_daily_at_six_in_berlin_in_german_and_skip_quiet_days(
    tmp_path: Path,
) -> None:
    """The defaults in the code, with no [digest] key set (the example writes the same values,
    so it alone would not show them)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("[digest]\n")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("["))
    kept = [line for line in lines[start:end] if not line.startswith(DIGEST_KEYS)]
    assert len(kept) == end - start - len(DIGEST_KEYS)  # all four were there, and are gone
    bare = tmp_path / "no-digest-keys.toml"
    bare.write_text("".join(lines[:start] + kept + lines[end:]), encoding="utf-8")
    settings = load_settings(bare, env={})
    assert (settings.digest_schedule, settings.digest_timezone) == ("0 18 * * *", "Europe/Berlin")
    assert (settings.digest_locale, settings.digest_when_unchanged) == ("de", "skip")
    # The example writes the defaults out, so that an operator sees them.
    example = load_settings(EXAMPLE, env={})
    assert (example.digest_schedule, example.digest_timezone) == ("0 18 * * *", "Europe/Berlin")


@pytest.mark.parametrize(
    ("line", "new", "key"),
    [
        ('schedule = "0 18 * * *"', 'schedule = "every day"', "digest.schedule"),
        ('schedule = "0 18 * * *"', 'schedule = "0 0 30 2 *"', "digest.schedule"),
        ('timezone = "Europe/Berlin"', 'timezone = "Europe/Ruhrpott"', "digest.timezone"),
        ('when_unchanged = "skip"', 'when_unchanged = "never"', "digest.when_unchanged"),
        ('\nlocale = "de"', '\nlocale = "Deutsch!"', "digest.locale"),
    ],
)
def test_a_bad_digest_setting_names_its_key(tmp_path: Path, line: str, new: str, key: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(line) == 1
    bad = tmp_path / "c.toml"
    bad.write_text(text.replace(line, new), encoding="utf-8")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(bad, env={})
