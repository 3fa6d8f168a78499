"""The message catalogs: complete in every shipped locale, with placeholders and markup intact.

Which locales a text needs follows from where it is used (bot.telegram.i18n.PARTIAL_AUDIENCES,
docs/languages.md). The texts are extracted from the source here, so a text added without
`make extract-messages` fails as well.
"""

from __future__ import annotations

import ast
import re
import string
from collections import Counter
from collections.abc import Iterator
from functools import cache

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.app.config import load_settings
from bot.telegram.i18n import LOCALES_DIR, SOURCE_LOCALE, required_locales
from bot.telegram.language import PLAIN_GERMAN
from tests.harness import ROOT

SOURCE_DIRS = ("bot", "handlers")
KEYWORDS = {**DEFAULT_KEYWORDS, "__": None}
GETTEXT_NAMES = frozenset({"_", "__", "gettext", "lazy_gettext"})
SHIPPED = sorted(p.name for p in LOCALES_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())
TRANSLATED = [locale for locale in SHIPPED if locale != SOURCE_LOCALE]
TAG = re.compile(r"</?([a-zA-Z]+)[^>]*>")
COMMAND = re.compile(r"(?<![\w/])/[a-z_]{2,}")
# Leichte Sprache: short sentences, no semicolons, no abbreviations.
PLAIN_MAX_WORDS = 12
ABBREVIATIONS = re.compile(r"\b(?:z\.\s?B|bzw|usw|d\.\s?h|ca|ggf|NRW|ÖPNV|evtl|inkl|max|min)\b\.?")


@cache
def source_texts() -> dict[str, frozenset[str]]:
    """Every msgid in the source, with the files that use it."""
    found: dict[str, set[str]] = {}
    for folder in SOURCE_DIRS:
        for filename, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, set()).add(f"{folder}/{filename}")
    return {msgid: frozenset(paths) for msgid, paths in found.items()}


@cache
def catalog(locale: str) -> Catalog:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def is_translated(message: Message) -> bool:
    """Every form translated: a plural message has one string per plural form."""
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(strings) and all(strings) and not message.fuzzy


def translated(locale: str) -> Iterator[Message]:
    for message in catalog(locale):
        if message.id and is_translated(message):
            yield message


def forms(message: Message) -> Iterator[tuple[str, str]]:
    """(source, translation) pairs; each plural form is checked against the plural source."""
    if isinstance(message.id, str):
        assert isinstance(message.string, str)
        yield message.id, message.string
        return
    singular, plural = message.id
    for index, text in enumerate(message.string):
        yield (singular if index == 0 else plural), text


def fields(text: str) -> set[str] | None:
    """Names of the {placeholders}; None when the text is no valid format string."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return None
    return {re.split(r"[.\[]", name)[0] for _lit, name, _spec, _conv in parsed if name is not None}


def test_the_shipped_locales() -> None:
    assert set(SHIPPED) >= {"de", "en", "tr", PLAIN_GERMAN}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_text_is_translated(locale: str) -> None:
    missing = []
    for msgid, paths in sorted(source_texts().items()):
        if locale not in required_locales(paths, SHIPPED):
            continue
        message = catalog(locale).get(msgid)
        if message is None or not is_translated(message):
            missing.append(f"{sorted(paths)[0]}: {msgid[:70]!r}")
    assert not missing, (
        f"{len(missing)} texts lack a {locale} translation (run `make extract-messages`, "
        "translate, `make locales`):\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("locale", SHIPPED)
def test_placeholders_are_the_same(locale: str) -> None:
    wrong = [
        f"{source[:60]!r}: {fields(source)} != {fields(text)}"
        for m in translated(locale)
        for source, text in forms(m)
        if fields(source) is not None and fields(source) != fields(text)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("locale", SHIPPED)
def test_markup_and_commands_are_kept(locale: str) -> None:
    """Telegram rejects broken HTML; commands such as /loeschen are never translated."""
    wrong = []
    for m in translated(locale):
        for source, text in forms(m):
            if Counter(TAG.findall(source)) != Counter(TAG.findall(text)):
                wrong.append(f"tags differ: {source[:60]!r}")
            if set(COMMAND.findall(source)) != set(COMMAND.findall(text)):
                wrong.append(f"commands differ: {source[:60]!r}")
    assert not wrong, "\n".join(wrong)


def test_catalog_headers_name_their_locale() -> None:
    for locale in SHIPPED:
        header = catalog(locale).mime_headers
        assert ("Language", locale) in header, locale


def test_gettext_is_never_called_inside_an_f_string() -> None:
    """pybabel cannot see such a call on Python 3.11: its text would never be translated."""
    hidden = []
    for folder in (*SOURCE_DIRS, "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.JoinedStr) and _calls_gettext(node):
                    hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not hidden, "gettext inside an f-string (move the _() call out):\n" + "\n".join(hidden)


def _calls_gettext(node: ast.AST) -> bool:
    return any(
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Name)
        and inner.func.id in GETTEXT_NAMES
        for inner in ast.walk(node)
    )


def plain_language_problems(text: str) -> list[str]:
    problems = []
    visible = re.sub(r"<[^>]+>|\{[a-z_]+\}|https?://\S+", "X", text)
    for sentence in re.split(r"(?<=[.!?:])\s+|\n", visible):
        if len(sentence.split()) > PLAIN_MAX_WORDS:
            problems.append(f"long sentence: {sentence!r}")
    if ";" in visible:
        problems.append(f"semicolon: {visible[:60]!r}")
    problems += [f"abbreviation {a!r}: {visible[:60]!r}" for a in ABBREVIATIONS.findall(visible)]
    return problems


def test_leichte_sprache_keeps_its_rules() -> None:
    texts = [text for m in translated(PLAIN_GERMAN) for _source, text in forms(m)]
    consultation = load_settings(ROOT / "config.example.toml", env={}).consultation
    plain = consultation.text_for(PLAIN_GERMAN)
    texts += [plain.title, plain.question, plain.purpose]
    texts += [topic.title_for(PLAIN_GERMAN) for topic in consultation.topics]
    problems = [problem for text in texts for problem in plain_language_problems(text)]
    assert not problems, "\n".join(problems)


def test_example_config_speaks_every_language() -> None:
    consultation = load_settings(ROOT / "config.example.toml", env={}).consultation
    for locale in TRANSLATED:
        assert locale in consultation.translations, locale
        assert all(locale in topic.titles for topic in consultation.topics), locale
