"""Dates and numbers in the reader's locale (Babel), never a hard-coded German format."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.digest.chart import format_percent
from bot.telegram.i18n import format_moment, format_number, format_share, rendering_in
from tests.harness import Harness
from tests.test_languages import LANGUAGES, choose_language, client_language, i18n, walk

BERLIN = ZoneInfo("Europe/Berlin")
MOMENT = datetime(2026, 12, 3, 9, 36, tzinfo=UTC)  # 10:36 in Berlin


@pytest.mark.parametrize(
    ("locale", "moment", "number", "share"),
    [
        ("de", "03.12.2026, 10:36", "12.345", "4,5 %"),
        ("en", "3 Dec 2026, 10:36", "12,345", "4.5%"),
        ("tr", "3 Ara 2026, 10:36", "12.345", "%4,5"),
        ("de_LS", "3. Dezember 2026 um 10:36 Uhr", "12.345", "4,5 %"),
    ],
)
def test_a_date_and_a_number_in_each_language(
    locale: str, moment: str, number: str, share: str
) -> None:
    assert format_moment(MOMENT, BERLIN, locale) == moment
    assert format_number(12345, locale) == number
    assert format_percent(0.045, locale) == share
    assert format_share(38, locale) == {"en": "38%", "tr": "%38"}.get(locale, "38 %")


def test_without_a_locale_the_text_being_rendered_decides() -> None:
    with rendering_in(i18n(), "en"):
        assert format_moment(MOMENT, BERLIN) == "3 Dec 2026, 10:36"
        assert format_number(Decimal(1234)) == "1,234"
    assert format_number(1234) == "1.234"  # outside any update: German


# What the saved vote's date looks like in /meinvotum, per language.
SAVED_AT = {
    "de": r"\d\d\.\d\d\.\d{4}, \d\d:\d\d",
    "en": r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec) \d{4}, \d\d:\d\d",
    "tr": r"\d{1,2} (Oca|Şub|Mar|Nis|May|Haz|Tem|Ağu|Eyl|Eki|Kas|Ara) \d{4}, \d\d:\d\d",
    "de_LS": r"\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+ \d{4} um \d{1,2}:\d\d Uhr",
}


@pytest.mark.parametrize("locale", LANGUAGES)
async def test_my_vote_shows_its_date_in_the_readers_language(
    harness: Harness, locale: str
) -> None:
    c = harness.citizen(2100, language_code=client_language(locale))
    if locale == "de_LS":
        await choose_language(c, locale)
    await walk(c, locale, ["mobilitaet"])
    await c.send("/meinvotum")
    text = c.user.last_message.raw_text
    assert re.search(SAVED_AT[locale], text), text


RESULT_LINE = {
    "de": "1. {t}: 100 %",
    "en": "1. {t}: 100%",
    "tr": "1. {t}: %100",
    "de_LS": "{t}: 100 Prozent",
}


@pytest.mark.parametrize("locale", LANGUAGES)
async def test_results_write_percent_as_the_reader_does(harness: Harness, locale: str) -> None:
    c = harness.citizen(2200, language_code=client_language(locale))
    if locale == "de_LS":
        await choose_language(c, locale)
    await walk(c, locale, ["mobilitaet"])
    await c.send("/ergebnis")
    title = harness.settings.consultation.title_of("mobilitaet", locale).replace("&", "&amp;")
    assert RESULT_LINE[locale].format(t=title) in c.user.last_message.raw_text
