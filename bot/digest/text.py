"""Length-safe Telegram HTML: count, split and truncate as Telegram does after parsing.

Telegram limits (4096 per message, 1024 per caption) apply to the visible text in UTF-16
code units, so markup is free but every entity counts as the one character it stands for.
Entity rules follow Telegram's parser: numeric entities and &lt; &gt; &amp; &quot; (the
semicolon is optional); any other "&" is a literal character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_MARKUP = re.compile(
    r"<(?P<close>/?)(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?:\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*)?>"
    r"|&(?:#(?P<dec>[0-9]{1,8})|#[xX](?P<hex>[0-9a-fA-F]{1,7})|(?P<named>[a-zA-Z]+));?"
)
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NO_BREAK = frozenset("\u00a0\u2007\u202f")  # spaces that must not become line breaks

# Break kinds, weakest first; a run of whitespace takes the strongest kind it contains.
_SPACE, _LINE, _PARA = 1, 2, 3
# A structural break is only worth taking if the chunk is at least this full.
_MIN_FILL = 0.25
# The widest single character (a surrogate pair) must always fit.
_MIN_LIMIT = 2


@dataclass(frozen=True, slots=True)
class _Atom:
    """An indivisible piece of the source: a tag, an entity or one character."""

    raw: str
    text: str = ""  # visible text; empty for tags
    tag: str = ""  # tag name, for tags only
    closing: bool = False

    @property
    def width(self) -> int:
        return _utf16_len(self.text)

    @property
    def is_space(self) -> bool:
        return self.text.isspace() and self.text not in _NO_BREAK


@dataclass(frozen=True, slots=True)
class _Break:
    index: int  # atom index where the whitespace run starts
    width: int  # visible width of the chunk if cut here
    kind: int


def visible_length(html: str) -> int:
    """Length Telegram counts for `html`: tags removed, entities decoded, UTF-16 units."""
    return sum(atom.width for atom in _parse(html))


def split_html(html: str, limit: int) -> list[str]:
    """Split into self-contained HTML chunks of at most `limit` visible characters each.

    Cuts prefer paragraph breaks, then line breaks, then spaces; only a word longer than
    the limit is cut inside. Tags open at a cut are closed and reopened in the next chunk.
    """
    _check_limit(limit)
    atoms = _parse(html)
    kinds = _break_kinds(atoms)
    chunks: list[str] = []
    stack: list[_Atom] = []
    start = 0
    while start < len(atoms):
        end = _cut(atoms, kinds, start, limit, structured=True)
        chunk, stack = _render(atoms[start:end], stack)
        if chunk:
            chunks.append(chunk)
        start = end
    return chunks


def truncate_html(html: str, limit: int, ellipsis: str = "…") -> str:
    """One self-contained chunk within `limit`, cut at a word boundary plus `ellipsis`."""
    _check_limit(limit)
    atoms = _parse(html)
    if _content_width(atoms) <= limit:
        return _render(atoms, [])[0]
    room = limit - visible_length(ellipsis)
    _check_limit(room, what="limit minus ellipsis")
    end = _cut(atoms, _break_kinds(atoms), 0, room, structured=False)
    return _render(atoms[:end], [])[0] + ellipsis


def _check_limit(limit: int, what: str = "limit") -> None:
    if limit < _MIN_LIMIT:
        raise ValueError(f"{what} must be at least {_MIN_LIMIT}, got {limit}")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _parse(html: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    pos = 0
    while pos < len(html):
        match = _MARKUP.match(html, pos) if html[pos] in "<&" else None
        atom = _markup_atom(match) if match else None
        if match and atom:
            atoms.append(atom)
            pos = match.end()
        else:  # plain character, or "&"/"<" that starts no markup
            atoms.append(_Atom(html[pos], html[pos]))
            pos += 1
    return atoms


def _markup_atom(match: re.Match[str]) -> _Atom | None:
    raw = match.group(0)
    if match["name"]:
        return _Atom(raw, tag=match["name"].lower(), closing=bool(match["close"]))
    if match["named"]:
        char = _NAMED.get(match["named"])
        return _Atom(raw, char) if char else None
    code = int(match["dec"]) if match["dec"] else int(match["hex"], 16)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return _Atom(raw, chr(code))


def _break_kinds(atoms: Sequence[_Atom]) -> dict[int, int]:
    """Kind of every whitespace run, keyed by its first atom; tags do not end a run."""
    kinds: dict[int, int] = {}
    run_start: int | None = None
    for index, atom in enumerate(atoms):
        if atom.tag:
            continue
        if not atom.is_space:
            run_start = None
            continue
        if run_start is None:
            run_start = index
            kinds[index] = _SPACE
        if atom.text == "\n":
            kinds[run_start] = min(kinds[run_start] + 1, _PARA)
    return kinds


def _cut(
    atoms: Sequence[_Atom], kinds: dict[int, int], start: int, limit: int, *, structured: bool
) -> int:
    """End index of the chunk that starts at `start` (whole rest if it fits)."""
    breaks: list[_Break] = []
    width = 0
    for index in range(start, len(atoms)):
        atom = atoms[index]
        if not atom.text or (width == 0 and atom.is_space):
            continue  # tags are free; leading whitespace is stripped
        if index in kinds:
            breaks.append(_Break(index, width, kinds[index]))
        if width + atom.width > limit:
            return _choose(breaks, limit, structured) if breaks else index
        width += atom.width
    return len(atoms)


def _choose(breaks: Sequence[_Break], limit: int, structured: bool) -> int:
    if not structured:
        return breaks[-1].index
    for kind in (_PARA, _LINE, _SPACE):
        fitting = [b for b in breaks if b.kind >= kind and b.width >= limit * _MIN_FILL]
        if fitting:
            return fitting[-1].index
    return max(breaks, key=lambda b: (b.kind, b.index)).index


def _content_width(atoms: Sequence[_Atom]) -> int:
    return sum(atom.width for atom in _strip(atoms))


def _strip(atoms: Sequence[_Atom]) -> list[_Atom]:
    """Drop leading and trailing whitespace, keeping every tag."""
    content = [i for i, atom in enumerate(atoms) if atom.text and not atom.is_space]
    if not content:
        return [atom for atom in atoms if atom.tag]
    first, last = content[0], content[-1]
    return [atom for i, atom in enumerate(atoms) if atom.tag or first <= i <= last]


def _render(atoms: Sequence[_Atom], stack: Sequence[_Atom]) -> tuple[str, list[_Atom]]:
    """HTML of one chunk ("" if it shows nothing) and the tags still open after it."""
    body = _strip(atoms)
    after = _apply_tags(stack, atoms)
    if not any(atom.text for atom in body):
        return "", after
    closers = [_Atom(f"</{atom.tag}>", tag=atom.tag, closing=True) for atom in reversed(after)]
    out: list[_Atom] = []
    for atom in [*stack, *body, *closers]:
        if atom.closing and out and not out[-1].closing and out[-1].tag == atom.tag:
            out.pop()  # an element left empty by the cut
        else:
            out.append(atom)
    return "".join(atom.raw for atom in out), after


def _apply_tags(stack: Sequence[_Atom], atoms: Sequence[_Atom]) -> list[_Atom]:
    result = list(stack)
    for atom in atoms:
        if not atom.tag:
            continue
        if not atom.closing:
            result.append(atom)
            continue
        for index in range(len(result) - 1, -1, -1):
            if result[index].tag == atom.tag:
                del result[index]
                break
    return result
