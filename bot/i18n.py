"""Message catalogs (gettext, German source). `.po` files are compiled to `.mo` by `make`;
`ensure_compiled` repeats that at start for a checkout that skipped the build step."""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SOURCE_LOCALE = "de"


def ensure_compiled(locales_dir: Path = LOCALES_DIR) -> None:
    for po_path in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)


def build_i18n(default_locale: str = SOURCE_LOCALE) -> I18n:
    ensure_compiled()
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)
