"""Telegram's HTML subset: ``parse_html`` turns ``parse_mode=HTML`` text into plain text and
Bot API entities (offsets in UTF-16 code units) or fails with tdlib's wording.

Imports only the wire format's JSON type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NoReturn

from bot.emulator.wire import JSON


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """HTML that Telegram rejects; messages follow tdlib's wording."""


@dataclass
class ParsedText:
    """Plain text plus Bot API entities (offsets in UTF-16 code units)."""

    text: str
    entities: list[JSON] = field(default_factory=list)


_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{0,31}));")
_SPECIAL_RE = re.compile(r"[<&]")
_TAG_NAME_RE = re.compile(r"[^\s>]*")
_ATTR_NAME_RE = re.compile(r"[^\s=>]+")
_UNQUOTED_RE = re.compile(r"[^\s>]*")
_SPACE_RE = re.compile(r"\s*")
_LANGUAGE_KEY = " language"  # attribute names never contain spaces, so no clash


def _decode_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return None


def _unescape_lenient(value: str) -> str:
    # Attribute values (URLs with bare '&') are accepted by Telegram; only decode.
    return _ENTITY_RE.sub(lambda m: _decode_entity(m) or m.group(), value)


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the output
    attrs: dict[str, str]


class _HtmlParser:
    """Telegram's HTML subset; stricter than Telegram on bare '&' to catch missing escapes."""

    def __init__(self, source: str) -> None:
        self._src = source
        self._pos = 0
        self._out: list[str] = []
        self._out16 = 0
        self._stack: list[_OpenTag] = []
        self._entities: list[JSON] = []

    def parse(self) -> ParsedText:
        src = self._src
        while self._pos < len(src):
            special = _SPECIAL_RE.search(src, self._pos)
            end = special.start() if special else len(src)
            self._emit(src[self._pos : end])
            self._pos = end
            if special is None:
                break
            if special.group() == "&":
                self._entity()
            elif src.startswith("</", end):
                self._end_tag()
            else:
                self._start_tag()
        if self._stack:
            name = self._stack[-1].name
            self._fail(f'Can\'t find end tag corresponding to start tag "{name}"')
        self._entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self._out), self._entities)

    def _offset(self, index: int) -> int:
        return len(self._src[:index].encode("utf-8"))

    def _fail(self, message: str) -> NoReturn:
        raise EntityParseError(message)

    def _match(self, pattern: re.Pattern[str], pos: int) -> re.Match[str]:
        match = pattern.match(self._src, pos)
        assert match is not None  # only used with patterns that match the empty string
        return match

    def _emit(self, chunk: str) -> None:
        if chunk:
            self._out.append(chunk)
            self._out16 += utf16_len(chunk)

    def _entity(self) -> None:
        begin = self._pos
        match = _ENTITY_RE.match(self._src, begin)
        if match is None:
            self._fail(
                f'Character "&" at byte offset {self._offset(begin)} must be escaped as &amp;'
            )
        char = _decode_entity(match)
        if char is None:
            entity = match.group()
            self._fail(f'Unsupported HTML entity "{entity}" at byte offset {self._offset(begin)}')
        self._emit(char)
        self._pos = match.end()

    def _start_tag(self) -> None:
        begin = self._pos
        name_match = self._match(_TAG_NAME_RE, begin + 1)
        name = name_match.group().lower()
        where = f"at byte offset {self._offset(begin)}"
        if name_match.end() >= len(self._src):
            self._fail(f"Unclosed start tag {where}")
        if name not in _TAG_TYPES:
            self._fail(f'Unsupported start tag "{name}" {where}')
        attrs = self._attributes(name, name_match.end(), where)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            self._fail(f'Tag "span" must have class "tg-spoiler" {where}')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            self._fail(f'Tag "tg-emoji" must have attribute "emoji-id" {where}')
        self._stack.append(_OpenTag(name, self._out16, attrs))

    def _attributes(self, tag: str, pos: int, where: str) -> dict[str, str]:
        src = self._src
        attrs: dict[str, str] = {}
        while True:
            pos = self._match(_SPACE_RE, pos).end()
            if pos >= len(src):
                self._fail(f"Unclosed start tag {where}")
            if src[pos] == ">":
                self._pos = pos + 1
                return attrs
            name = _ATTR_NAME_RE.match(src, pos)
            if name is None:
                self._fail(f'Empty attribute name in the tag "{tag}" {where}')
            pos = self._match(_SPACE_RE, name.end()).end()
            value = ""
            if pos < len(src) and src[pos] == "=":
                value, pos = self._attr_value(self._match(_SPACE_RE, pos + 1).end(), where)
            attrs[name.group().lower()] = value

    def _attr_value(self, pos: int, where: str) -> tuple[str, int]:
        src = self._src
        if pos < len(src) and src[pos] in "\"'":
            end = src.find(src[pos], pos + 1)
            if end < 0:
                self._fail(f"Unclosed start tag {where}")
            return _unescape_lenient(src[pos + 1 : end]), end + 1
        match = self._match(_UNQUOTED_RE, pos)
        return _unescape_lenient(match.group()), match.end()

    def _end_tag(self) -> None:
        begin = self._pos
        end = self._src.find(">", begin + 2)
        where = f"at byte offset {self._offset(begin)}"
        if end < 0:
            self._fail(f"Unclosed end tag {where}")
        name = self._src[begin + 2 : end].strip().lower()
        if not self._stack:
            self._fail(f"Unexpected end tag {where}")
        tag = self._stack.pop()
        if name != tag.name:
            self._fail(f'Unmatched end tag {where}, expected "</{tag.name}>", found "</{name}>"')
        self._pos = end + 1
        self._close(tag)

    def _close(self, tag: _OpenTag) -> None:
        language = tag.attrs.get("class", "")
        in_pre = tag.name == "code" and self._stack and self._stack[-1].name == "pre"
        if in_pre and language.startswith("language-"):
            # Telegram folds <pre><code class="language-x"> into one pre entity.
            self._stack[-1].attrs[_LANGUAGE_KEY] = language.removeprefix("language-")
            return
        length = self._out16 - tag.start
        if length == 0:
            return  # Telegram drops empty entities
        entity: JSON = {"type": _TAG_TYPES[tag.name], "offset": tag.start, "length": length}
        if tag.name == "a":
            if not tag.attrs.get("href"):
                return
            entity["url"] = tag.attrs["href"]
        elif tag.name == "pre" and tag.attrs.get(_LANGUAGE_KEY):
            entity["language"] = tag.attrs[_LANGUAGE_KEY]
        elif tag.name == "blockquote" and "expandable" in tag.attrs:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        self._entities.append(entity)


def parse_html(source: str) -> ParsedText:
    """Parse ``parse_mode=HTML`` text; raises EntityParseError where Telegram answers 400."""
    return _HtmlParser(source).parse()
