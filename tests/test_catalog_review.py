"""What a native reviewer asked of the catalogs, kept: nothing untranslated or fuzzy in any
translated catalog, the same entries in all four, and Turkish buttons in one form."""

from __future__ import annotations

import re
from functools import cache

import pytest
from babel.messages.extract import extract_from_dir

from bot.telegram.i18n import SOURCE_LOCALE
from tests.harness import ROOT
from tests.test_locales import KEYWORDS, SHIPPED, SOURCE_DIRS, TRANSLATED, catalog, is_translated

# A label is a button when the call that builds it names one on its line or the line before.
BUTTON_CALL = re.compile(r"(?:button|Button)\(")
# Turkish buttons use the short command form of the verb ("Katıl", "Gönder", "Değiştir"), the
# usual form on Turkish buttons. Not allowed: the siz imperative ("Katılın", "seçin") mixed in,
# and the first person ("Katılıyorum", "fikrimi gönder"). The verb is the label's last word.
SIZ_IMPERATIVE = re.compile(r"(?:[ıiuü]n|[ıiuü]n[ıiuü]z)$")
FIRST_PERSON = re.compile(r"(?:yorum|[ıiuü]m[ıiuü])$")
# Answers to "What do you think of this idea?" speak for the reader, as the German ones do
# ("Stimme zu"): they are not commands. They are built from a table, not a button( call.
ANSWERS = frozenset({"👍 Stimme zu", "👎 Stimme nicht zu", "🤷 Weiß nicht"})


@cache
def button_labels() -> frozenset[str]:
    labels = set()
    for folder in SOURCE_DIRS:
        for filename, line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            source = (ROOT / folder / filename).read_text(encoding="utf-8").splitlines()
            msgid = message if isinstance(message, str) else message[0]
            near_a_button = BUTTON_CALL.search(" ".join(source[max(0, line - 2) : line]))
            if near_a_button and not msgid.endswith("."):  # a sentence is no label
                labels.add(msgid)
    return frozenset(labels)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_no_catalog_has_an_untranslated_or_fuzzy_entry(locale: str) -> None:
    """Every entry, also those a locale may leave to German (moderators', digests)."""
    open_entries = [
        str(m.id)[:70] for m in catalog(locale) if m.id and (not is_translated(m) or m.fuzzy)
    ]
    assert not open_entries, f"{len(open_entries)} open in {locale}:\n" + "\n".join(open_entries)


def test_every_catalog_has_the_same_entries() -> None:
    def ids(locale: str) -> set[str]:
        return {str(m.id) for m in catalog(locale) if m.id}

    source = ids(SOURCE_LOCALE)
    for locale in SHIPPED:
        assert ids(locale) == source, (locale, ids(locale) ^ source)


def test_buttons_are_found() -> None:
    """The check below looks at real buttons (else it would pass on nothing)."""
    assert {"Mitmachen", "Absenden", "Datenschutz lesen", "🔎 Ideen anderer bewerten"} <= (
        button_labels()
    )


def test_turkish_buttons_use_one_form() -> None:
    wrong = []
    for msgid in sorted(button_labels() - ANSWERS):
        message = catalog("tr").get(msgid)
        assert message is not None and isinstance(message.string, str), msgid
        words = re.findall(r"\w+", message.string.replace("’", ""))
        verb = words[-1].lower() if words else ""
        if SIZ_IMPERATIVE.search(verb) or FIRST_PERSON.search(verb):
            wrong.append(f"{msgid!r} -> {message.string!r}")
    assert not wrong, "Turkish buttons out of form:\n" + "\n".join(wrong)


def test_taking_part_and_agreeing_are_different_words_in_turkish() -> None:
    take_part = catalog("tr").get("Mitmachen")
    agree = catalog("tr").get("👍 Stimme zu")
    assert take_part is not None and agree is not None
    assert take_part.string.split()[-1] != agree.string.split()[-1]
