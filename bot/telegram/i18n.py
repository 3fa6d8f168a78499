"""Message catalogs (gettext, German source). `.po` files are compiled to `.mo` by `make`;
`ensure_compiled` repeats that at start for a checkout that skipped the build step."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path

from aiogram.utils.i18n import I18n, get_i18n
from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALES_DIR = Path(__file__).parent.parent / "locales"
DOMAIN = "messages"
SOURCE_LOCALE = "de"
# Who reads a text decides which catalogs must translate it (docs/languages.md). A text is
# matched by where it is used: channel digests need the channel languages (en, tr), moderators'
# texts need English only; every other text (the citizens' dialog) needs every shipped locale.
# A text used in several places needs what its most widely read place needs.
PARTIAL_AUDIENCES: tuple[tuple[str, frozenset[str]], ...] = (
    ("bot/digest/", frozenset({"en", "tr"})),
    ("handlers/moderation/", frozenset({"en"})),
)


# Dates and numbers follow the reader's locale (Babel/CLDR), never a hard-coded German format.
# Leichte Sprache reads German numbers and writes dates out in words; English is British English.
_FORMAT_LOCALES = {"de_LS": "de", "en": "en_GB"}
PLAIN_LANGUAGE = "de_LS"


def formatting_locale(locale: str) -> str:
    """The CLDR locale whose date and number formats `locale` uses."""
    return _FORMAT_LOCALES.get(locale, locale)


def reader_locale() -> str:
    """The locale of the text being rendered (the update's or `rendering_in`'s), else German."""
    try:
        return get_i18n().current_locale
    except LookupError:
        return SOURCE_LOCALE


def format_moment(moment: datetime, zone: tzinfo, locale: str | None = None) -> str:
    """A date and time for readers: "03.12.2026, 10:36" (de), "3 Dec 2026, 10:36" (en),
    "3 Ara 2026 10:36" (tr), "3. Dezember 2026 um 10:36 Uhr" (Leichte Sprache, after "am")."""
    locale = locale or reader_locale()
    local = moment.astimezone(zone)
    if locale == PLAIN_LANGUAGE:
        day = format_date(local, "d. MMMM y", locale="de")
        return f"{day} um {format_time(local, 'H:mm', locale='de')} Uhr"
    cldr = formatting_locale(locale)
    date = format_date(local, "medium", locale=cldr)
    return f"{date}, {format_time(local, 'short', locale=cldr)}"


def format_number(value: int | float | Decimal, locale: str | None = None) -> str:
    """A count or amount: "12.345" (de, tr), "12,345" (en)."""
    return format_decimal(value, locale=formatting_locale(locale or reader_locale()))


def format_share(percent: int | Decimal, locale: str | None = None, *, decimals: int = 0) -> str:
    """An already rounded percentage with the sign where the locale puts it: "38 %" (de),
    "38%" (en), "%38" (tr); `decimals=1` keeps one decimal ("4,5 %", "4.5%", "%4,5")."""
    cldr = Locale.parse(formatting_locale(locale or reader_locale()))
    pattern = cldr.percent_formats[None].pattern
    if decimals:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * decimals)
    # CLDR puts a no-break space before "%" in German; texts and tests use a plain one.
    text = format_percent(Decimal(percent) / 100, format=pattern, locale=cldr)
    return text.replace("\u00a0", " ")


def ensure_compiled(locales_dir: Path = LOCALES_DIR) -> None:
    for po_path in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)


def required_locales(source_paths: Iterable[str], shipped: Collection[str]) -> frozenset[str]:
    """The locales that must translate a text used at these source paths."""
    needed: set[str] = set()
    for path in source_paths:
        audience = next((loc for prefix, loc in PARTIAL_AUDIENCES if path.startswith(prefix)), None)
        needed |= set(shipped) if audience is None else audience & set(shipped)
    return frozenset(needed - {SOURCE_LOCALE})


@contextmanager
def rendering_in(i18n: I18n, locale: str) -> Iterator[None]:
    """gettext in `locale` outside an update (a digest, a scheduled job):

    with rendering_in(i18n, settings.digest_locale):
        text = digest_text(...)
    """
    with i18n.context(), i18n.use_locale(locale):
        yield


def build_i18n(default_locale: str = SOURCE_LOCALE) -> I18n:
    ensure_compiled()
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)
