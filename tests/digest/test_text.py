import html as htmllib
import re

import pytest

from bot.digest.text import split_html, truncate_html, visible_length

TELEGRAM_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}
TAG = re.compile(r"<(/?)([a-z-]+)((?:\s[^>]*)?)>")
ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#[0-9]+|#x[0-9a-fA-F]+);")


def assert_valid(chunk: str) -> None:
    """Independent checker: Telegram tags balanced and properly nested, entities whole."""
    stack: list[str] = []
    for match in TAG.finditer(chunk):
        closing, name, attrs = match.groups()
        assert name in TELEGRAM_TAGS, chunk
        if closing:
            assert stack and stack[-1] == name, f"unbalanced </{name}> in {chunk!r}"
            stack.pop()
        else:
            assert name == "a" or not attrs.strip(), chunk
            stack.append(name)
    assert not stack, f"unclosed {stack} in {chunk!r}"
    text = TAG.sub("", chunk)
    assert "<" not in text and ">" not in text, chunk
    assert "&" not in ENTITY.sub("", text), f"broken entity in {chunk!r}"


def visible(chunk: str) -> str:
    return htmllib.unescape(TAG.sub("", chunk))


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def words(text: str) -> list[str]:
    return text.split()


TOPICS = [
    "Mobilität & ÖPNV: Busse und Bahnen im ganzen Ruhrgebiet zuverlässig vertakten",
    "Talentschulen & Bildung – gleiche Chancen für alle Kinder, unabhängig vom Stadtteil",
    "Lehrkräfte gewinnen und halten: Entlastung, Weiterbildung und faire Bezahlung",
    "Heimat Ruhr: Wohnen & Leben in lebendigen Quartieren mit guter Nachbarschaft",
]


SENTENCES = [
    'Ich wünsche mir mehr <b>Tempo &amp; Verlässlichkeit</b> beim <a href="https://example.org/'
    '?a=1&amp;b=2">Ausbau</a> der Radwege &amp; Busspuren, damit "alle" sicher ankommen.',
    "Gerade abends fehlen <i>sichere Verbindungen</i> zwischen den Stadtteilen &amp; Nachbarorten.",
    "Schulen brauchen <u>mehr Personal</u>, gute Ausstattung &amp; verlässliche Ganztagsangebote.",
    "Wir sollten Bürgerinnen und Bürger früh beteiligen &#8211; nicht erst, wenn alles fest steht.",
]


def impulse(number: int) -> str:
    """Up to 1000 visible characters of whole sentences."""
    text = f"<i>Impuls {number}:</i>"
    sentence = number
    while True:
        longer = text + " " + SENTENCES[sentence % len(SENTENCES)]
        if visible_length(longer) > 1000:
            return text
        text, sentence = longer, sentence + 1


def digest_html() -> str:
    lines = [f"{n}. <b>{htmllib.escape(TOPICS[n % 4])}</b> – {40 - n} %" for n in range(1, 21)]
    return (
        "<b>Ergebnisse der Woche</b>\n\n"
        + "\n".join(lines)
        + "\n\n<blockquote>"
        + "\n\n".join(impulse(n) for n in range(1, 7))
        + "</blockquote>"
    )


@pytest.fixture(scope="module")
def document() -> str:
    doc = digest_html()
    assert_valid(doc)
    assert visible_length(doc) > 5000
    return doc


# visible_length


@pytest.mark.parametrize(
    ("source", "length"),
    [
        ("plain text", 10),
        ("<b>bold</b> <i>it</i>", 7),
        ('<a href="https://x.org/?a=1&amp;b=2">link</a>', 4),
        ("a &amp; b &lt;c&gt; &quot;d&quot;", 13),
        ("&#65;&#x42;", 2),
        ("😀", 2),  # outside the BMP: a surrogate pair in UTF-16
        ("&#128512;", 2),
        ("&amp", 1),  # Telegram accepts entities without the semicolon
        ("&nbsp;", 6),  # unsupported named entity stays literal
        ("Fish & Chips", 12),
        ("<tg-spoiler>x</tg-spoiler><blockquote>y</blockquote>", 2),
        ("", 0),
    ],
)
def test_visible_length(source: str, length: int) -> None:
    assert visible_length(source) == length


def test_visible_length_matches_independent_count(document: str) -> None:
    assert visible_length(document) == utf16(visible(document))


# split_html


@pytest.mark.parametrize("limit", [1024, 4096, 300])
def test_split_chunks_fit_are_valid_and_lose_nothing(document: str, limit: int) -> None:
    chunks = split_html(document, limit)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert visible_length(chunk) <= limit
        assert_valid(chunk)
        assert chunk == chunk.strip() and visible(chunk).strip()
        assert visible(chunk) == visible(chunk).strip()
    # Same words in the same order: nothing lost, duplicated or cut mid-word.
    assert words(" ".join(visible(c) for c in chunks)) == words(visible(document))


def test_split_prefers_paragraphs(document: str) -> None:
    chunks = [visible(c) for c in split_html(document, 1024)]
    impulses = [p for p in visible(document).split("\n\n") if p.startswith("Impuls")]
    assert len(impulses) == 6
    for impulse in impulses:  # 900..1000 characters: every one fits whole into a chunk
        assert 900 < utf16(impulse) <= 1000
        assert any(impulse in chunk for chunk in chunks), impulse[:40]


def test_split_prefers_lines_over_spaces(document: str) -> None:
    lines = set(visible(document).split("\n"))
    chunks = split_html(document, 1024)
    list_chunks = [visible(c) for c in chunks if "1. " in visible(c) or " %\n" in visible(c)]
    assert list_chunks
    for chunk in list_chunks:
        assert all(line in lines for line in chunk.split("\n") if line), chunk


def test_split_4096_packs_several_paragraphs(document: str) -> None:
    chunks = split_html(document, 4096)
    assert len(chunks) == 2
    assert visible_length(chunks[0]) > 3000


def test_split_reopens_tags_across_cut() -> None:
    text = "<b>" + " ".join(["fett"] * 30) + "</b> danach"
    chunks = split_html(text, 50)
    assert len(chunks) >= 3
    for chunk in chunks[:-1]:
        assert chunk.startswith("<b>") and chunk.endswith("</b>")
        assert_valid(chunk)
    assert chunks[-1].endswith("danach")


def test_split_reopens_link_with_same_href() -> None:
    text = 'Start <a href="https://example.org/?x=1&amp;y=2">' + "Wort " * 40 + "</a> Ende"
    chunks = split_html(text, 60)
    linked = [c for c in chunks if "Wort" in c]
    assert len(linked) >= 2
    for chunk in linked:
        assert '<a href="https://example.org/?x=1&amp;y=2">' in chunk
        assert_valid(chunk)


def test_split_nested_tags_close_in_order() -> None:
    text = "<blockquote><b>eins <i>" + "zwei " * 30 + "</i> drei</b></blockquote>"
    chunks = split_html(text, 40)
    assert chunks[0].endswith("</i></b></blockquote>")
    assert chunks[1].startswith("<blockquote><b><i>")
    for chunk in chunks:
        assert_valid(chunk)


def test_split_never_cuts_entities_or_tags_at_the_limit() -> None:
    word = "a&amp;" * 10  # one 20-character word longer than the limit
    for limit in range(2, 12):
        chunks = split_html(f"<b>{word}</b> ende", limit)
        for chunk in chunks:
            assert visible_length(chunk) <= limit
            assert_valid(chunk)
        assert "".join(visible(c) for c in chunks).replace(" ", "") == "a&" * 10 + "ende"


def test_split_only_cuts_words_longer_than_limit() -> None:
    text = "kurz " + "x" * 25 + " auch kurz"
    chunks = split_html(text, 10)
    assert [visible(c) for c in chunks] == ["kurz", "x" * 10, "x" * 10, "xxxxx auch", "kurz"]


def test_split_does_not_cut_surrogate_pairs() -> None:
    chunks = split_html("😀" * 5, 3)
    assert chunks == ["😀"] * 5


def test_split_short_text_is_one_stripped_chunk() -> None:
    assert split_html("  \n<b>hallo</b> welt\n\n ", 100) == ["<b>hallo</b> welt"]


@pytest.mark.parametrize("source", ["", "   \n\n ", "<b> </b>"])
def test_split_empty_gives_no_chunks(source: str) -> None:
    assert split_html(source, 100) == []


def test_split_drops_elements_left_empty_by_cut() -> None:
    assert split_html("xxxxx<b>yyyyy</b>", 5) == ["xxxxx", "<b>yyyyy</b>"]
    assert split_html("erste Zeile\n\n<b>\n\nzweite</b>", 12) == ["erste Zeile", "<b>zweite</b>"]


def test_split_skips_paragraph_break_that_leaves_chunk_nearly_empty() -> None:
    lines = "\n".join(f"Zeile {n} mit etwas Text" for n in range(40))
    chunks = split_html(f"<b>Titel</b>\n\n{lines}", 200)
    assert chunks[0].startswith("<b>Titel</b>\n\nZeile 0")
    assert visible_length(chunks[0]) > 150


def test_split_rejects_tiny_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_html("abc", 1)


# truncate_html


def test_truncate_keeps_short_text() -> None:
    assert truncate_html("<b>kurz</b> &amp; gut ", 1024) == "<b>kurz</b> &amp; gut"


def test_truncate_cuts_at_word_boundary_with_ellipsis(document: str) -> None:
    caption = truncate_html(document, 1024)
    assert visible_length(caption) <= 1024
    assert visible_length(caption) > 900
    assert_valid(caption)
    assert caption.endswith("…")
    shown = visible(caption)[:-1]
    full = visible(document)
    assert full.startswith(shown)
    assert full[len(shown)].isspace()


def test_truncate_closes_open_tags_before_ellipsis() -> None:
    caption = truncate_html("<b>" + "wort " * 20 + "</b>", 23)
    assert caption == "<b>wort wort wort wort</b>…"


def test_truncate_single_long_word_is_cut() -> None:
    caption = truncate_html("&amp;" * 50, 10, ellipsis="...")
    assert caption == "&amp;" * 7 + "..."


def test_truncate_rejects_limit_below_ellipsis() -> None:
    with pytest.raises(ValueError, match="ellipsis"):
        truncate_html("lang " * 10, 2, ellipsis="…")
