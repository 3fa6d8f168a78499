"""Message catalogs (gettext, German source). `.po` files are compiled to `.mo` by `make`;
`ensure_compiled` repeats that at start for a checkout that skipped the build step."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

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
