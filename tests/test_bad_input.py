"""Bad input at every step of the dialog: each gets a short answer and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.domain.clock import system_clock
from bot.emulator.server import EmulatedUser
from bot.ops.export import snapshot
from tests.harness import Citizen, Harness

Poke = Callable[[EmulatedUser], object]

NOT_TEXT: dict[str, Poke] = {
    "sticker": lambda u: u.send_sticker(),
    "photo": lambda u: u.send_photo(caption="Mein Vorschlag <b>"),
    "voice": lambda u: u.send_voice(),
    "video note": lambda u: u.send_video_note(),
    "document": lambda u: u.send_document("idee.pdf"),
    "location": lambda u: u.send_location(51.51, 7.46),
    "contact": lambda u: u.send_contact("+49 201 1234567"),
    "poll": lambda u: u.send_poll("Was meint ihr?"),
    "dice": lambda u: u.send_dice(),
    "forwarded text": lambda u: u.forward_text("Ein weitergeleiteter Text mit Idee"),
}
ODD_TEXT: dict[str, Poke] = {
    "whitespace only": lambda u: u.send_text("   \n\t  "),
    "zero-width only": lambda u: u.send_text("\u200b\u200c\u200d"),
    "right-to-left override": lambda u: u.send_text("\u202e\u202e"),
    "unknown command": lambda u: u.send_text("/gibtsnicht"),
    "command with junk": lambda u: u.send_text("/hilfe ;;; <b> '; DROP TABLE votes; --"),
}
TEXT_AT_BUTTON_STEPS: dict[str, Poke] = {
    "markup": lambda u: u.send_text("<b>fett</b> *fett* _kursiv_ [link](http://x)"),
    "sql": lambda u: u.send_text("'; DROP TABLE votes; --"),
    "emoji only": lambda u: u.send_text("🚌🚌🚌🚌🚌🚌🚌🚌🚌🚌"),
    "10,000 characters": lambda u: u.send_text("lang " * 2000),
}


async def answered(h: Harness, c: Citizen, name: str, poke: Poke) -> None:
    """The bot reacts visibly to every input (a message, an edit or an alert)."""
    before = (len(c.user.messages), sum(m.edit_count for m in c.user.messages))
    await c.do(lambda: poke(c.user))
    after = (len(c.user.messages), sum(m.edit_count for m in c.user.messages))
    assert after != before, f"no answer to {name}"


async def poke_all(h: Harness, c: Citizen, pokes: dict[str, Poke]) -> None:
    for name, poke in pokes.items():
        await answered(h, c, name, poke)


Step = Callable[[Citizen], Awaitable[None]]


async def at_consent(c: Citizen) -> None:
    await c.send("/start")


async def at_topics(c: Citizen) -> None:
    await at_consent(c)
    await c.press("Mitmachen")
    await c.press("Mobilität & ÖPNV")


async def at_impulse(c: Citizen) -> None:
    await at_topics(c)
    await c.press("Sport & Events")
    await c.press("Weiter")


async def at_impulse_topic(c: Citizen) -> None:
    await at_impulse(c)
    await c.send("Busse und Bahnen zu Heimspielen öfter fahren lassen")


async def at_review(c: Citizen) -> None:
    await at_impulse_topic(c)
    await c.press("Sport & Events")


async def finish(c: Citizen, step: str) -> None:
    """Complete the dialog from the step the bad input was sent at."""
    order = list(STEPS)
    remaining = order[order.index(step) :]
    if "consent" in remaining:
        await c.press("Mitmachen")
        await c.press("Mobilität & ÖPNV")
    if "topics" in remaining:
        await c.press("Sport & Events")
        await c.press("Weiter")
    if "impulse" in remaining:
        await c.send("Busse und Bahnen zu Heimspielen öfter fahren lassen")
    if "impulse topic" in remaining:
        await c.press("Sport & Events")
    await c.press("Absenden")
    assert any("Danke!" in m.text for m in c.user.messages)


STEPS: dict[str, Step] = {
    "consent": at_consent,
    "topics": at_topics,
    "impulse": at_impulse,
    "impulse topic": at_impulse_topic,
    "review": at_review,
}


@pytest.mark.parametrize("step", list(STEPS))
async def test_bad_input_at_every_step(harness: Harness, step: str) -> None:
    c = harness.citizen(9100 + list(STEPS).index(step))
    await STEPS[step](c)
    screen = c.last_text
    await poke_all(harness, c, NOT_TEXT)
    await poke_all(harness, c, ODD_TEXT)
    if step != "impulse":  # there, text is the expected answer
        await poke_all(harness, c, TEXT_AT_BUTTON_STEPS)
    # Nothing moved: the step's own screen is still the one the buttons act on.
    assert any(screen == m.text for m in c.user.messages)
    await finish(c, step)
    assert harness.bot.app is not None
    data = await snapshot(harness.settings, harness.bot.app.database, system_clock())
    assert data["participants"] == 1
    topics = {t["id"]: t["votes"] for t in data["topics"]}
    assert topics["sport"] == 1 and topics["mobilitaet"] == 1
    ideas = [i["text"] for i in data["impulses"]]
    assert ideas == ["Busse und Bahnen zu Heimspielen öfter fahren lassen"]


@pytest.mark.parametrize(
    "text",
    [
        "🚌🚌🚌🚌🚌🚌🚌🚌🚌🚌",
        "<b>Mehr</b> Busse & <i>Bahnen</i> *bitte* _jetzt_ <script>x</script>",
        "'; DROP TABLE votes; -- und trotzdem eine Idee",
        "\u202eRechts-nach-links\u202c und \u200bunsichtbare Zeichen bleiben erhalten",
        "  Leerzeichen am Rand bleiben, wie gesendet  ",
    ],
)
async def test_odd_but_valid_ideas_are_stored_exactly_and_shown_escaped(
    harness: Harness, text: str
) -> None:
    c = harness.citizen(9200)
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Sport & Events")
    await c.press("Weiter")
    await c.send(text)
    review = c.user.last_message
    assert "Schritt 3 von 3" in review.text
    assert "<script>" not in review.raw_text
    await c.press("Absenden")
    assert harness.bot.app is not None
    data: dict[str, Any] = await snapshot(
        harness.settings, harness.bot.app.database, system_clock()
    )
    assert data["impulses"][0]["text"] == text


async def test_a_junk_start_payload_is_not_stored_as_source(harness: Harness) -> None:
    c = harness.citizen(9400)
    await c.take_part(
        ["Sport & Events"], impulse="Mehr Bolzplätze", source="x'; DROP TABLE votes; --"
    )
    assert harness.bot.app is not None
    data = await snapshot(harness.settings, harness.bot.app.database, system_clock())
    assert data["participants"] == 1 and data["impulses"][0]["source"] is None


async def test_forged_truncated_and_old_buttons(harness: Harness) -> None:
    c = harness.citizen(9300)
    await c.send("/start")
    await c.press("Mitmachen")
    keyboard = c.user.last_message.message_id
    forged = ["t:", "t", "s:zz", "s:sb", "it:sport", "mc:1:ok", "x" * 64, "t:sport:extra"]
    for data in [*forged, "t:nonexistent:1", "t:nonexistent:0"]:  # well-formed, unknown topic
        await c.do(lambda d=data: c.user.press_data(keyboard, d))
        assert c.user.callback_answers[-1].text, data
    assert "Gewählt: 0 von 3" in c.last_text
    await c.press("Sport & Events")
    assert "Gewählt: 1 von 3" in c.last_text


async def test_forged_oversized_numbers_in_buttons_get_an_answer_not_an_apology(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    c = harness.citizen(9310)
    await c.take_part(["Sport & Events"])
    message = c.user.last_message.message_id
    huge = "9" * 30
    forged = [
        f"r:{huge}:a",
        f"r:-{huge}:a",
        f"rq:{huge}:0",
        f"rr:{huge}:spam",
        f"h:{huge}",
        f"r:{2**63}:a",
        f"r:{2**31}:d",
    ]
    with caplog.at_level(logging.ERROR):
        for data in forged:
            await c.do(lambda d=data: c.user.press_data(message, d))
            answer = c.user.callback_answers[-1].text or ""
            assert answer and "schiefgegangen" not in answer, (data, answer)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
