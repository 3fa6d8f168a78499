"""The dialog in German, English, Turkish and Leichte Sprache, through the emulator.

Buttons are pressed by their translated labels, taken from the catalogs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import func, select

from bot.app.config import ConfigError, load_settings
from bot.telegram.i18n import build_i18n, rendering_in, required_locales
from bot.telegram.language import (
    PLAIN_GERMAN,
    language_name,
    locale_from_client,
    menu_language_codes,
    ordered_locales,
)
from storage.models import ConversationState, Participant
from tests.harness import ROOT, Citizen, Harness

LANGUAGES = ["de", "en", "tr", PLAIN_GERMAN]
# Words that give German away in a text that should be English or Turkish.
GERMAN_WORDS = ("Ihre ", " Sie ", "Schritt", "Themen", "gespeichert", "Datenschutz")


@cache
def i18n() -> I18n:
    return build_i18n()


def t(locale: str, msgid: str) -> str:
    return i18n().gettext(msgid, locale=locale)


def title(h: Harness, topic_id: str, locale: str) -> str:
    return h.settings.consultation.title_of(topic_id, locale)


async def choose_language(c: Citizen, locale: str) -> None:
    await c.send("/sprache")
    await c.press(language_name(locale))


def next_button(locale: str) -> str:
    """The topic step's "Weiter" in `locale`, without the counter after it."""
    return t(locale, "Weiter · {chosen} von {limit} gewählt").split(" · ")[0]


async def walk(c: Citizen, locale: str, topics: list[str], impulse: str | None = None) -> None:
    """The whole dialog, tapping the labels of `locale`."""
    h = c.harness
    await c.send("/start")
    await c.press(t(locale, "Mitmachen"))
    for topic_id in topics:
        await c.press(title(h, topic_id, locale))
    await c.press(next_button(locale))
    if impulse is None:
        await c.press(t(locale, "Überspringen ➡️"))
    else:
        await c.send(impulse)
        if len(topics) > 1:
            await c.press(title(h, topics[0], locale))
    await c.press(t(locale, "Absenden"))


async def participant_locale(h: Harness) -> str:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        return str(await session.scalar(select(Participant.locale)))


async def count_rows(h: Harness, model: Any) -> int:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def client_language(locale: str) -> str:
    """What a Telegram client would send; nobody's client speaks Leichte Sprache."""
    return "de" if locale == PLAIN_GERMAN else locale


@pytest.mark.parametrize("locale", LANGUAGES)
async def test_the_whole_dialog_in_each_language(harness: Harness, locale: str) -> None:
    c = harness.citizen(2000, language_code=client_language(locale))
    if locale == PLAIN_GERMAN:
        await choose_language(c, locale)
    consultation = harness.settings.consultation
    await c.send("/start")
    welcome = c.user.last_message.raw_text
    assert consultation.text_for(locale).question in welcome
    assert t(locale, "Sprache wählen · Language · Dil") in welcome
    assert c.buttons() == [t(locale, m) for m in ("Mitmachen", "Datenschutz lesen", "Nein, danke")]

    await walk(c, locale, ["mobilitaet", "sport"], impulse="Ein Ticket für Bus und Bahn im Revier")
    thanks = c.user.last_message.raw_text
    assert t(locale, "<b>Danke! Ihre Stimme ist gespeichert.</b>") in thanks
    assert title(harness, "mobilitaet", locale).replace("&", "&amp;") in thanks
    assert await participant_locale(harness) == locale
    if locale in ("en", "tr"):
        for message in c.user.messages:
            leaks = [w for w in GERMAN_WORDS if w in message.text]
            assert not leaks, f"German in a {locale} message: {leaks}: {message.text[:80]!r}"


# Characters of the welcome before its first button (its visible text; README: Languages).
WELCOME_LIMIT = {"de": 400, "en": 400, "tr": 400, PLAIN_GERMAN: 400}
# Rows of the topic keyboard, "Weiter" included: on a phone the counter above it and "Weiter"
# below it are on screen together.
TOPIC_ROWS = 11


@pytest.mark.parametrize("locale", LANGUAGES)
async def test_the_welcome_and_the_topic_keyboard_fit_a_phone(
    harness: Harness, locale: str
) -> None:
    c = harness.citizen(2050, language_code=client_language(locale))
    if locale == PLAIN_GERMAN:
        await choose_language(c, locale)
    await c.send("/start")
    welcome = c.user.last_message.text
    assert len(welcome) <= WELCOME_LIMIT[locale], (len(welcome), welcome)
    await c.press(t(locale, "Mitmachen"))
    keyboard = c.user.last_message.reply_markup
    assert len(keyboard) <= TOPIC_ROWS, [[b.text for b in row] for row in keyboard]
    assert len(c.buttons()) == len(harness.settings.consultation.topics) + 1  # all on screen
    next_step = t(locale, "Weiter · {chosen} von {limit} gewählt")
    assert [b.text for b in keyboard[-1]] == [next_step.format(chosen=0, limit=3)]
    await c.press(title(harness, "sport", locale))
    assert c.buttons()[-1] == next_step.format(chosen=1, limit=3)
    assert c.user.callback_answers[-1].text == t(
        locale, "{topic} gewählt – {chosen} von {limit}"
    ).format(topic=title(harness, "sport", locale), chosen=1, limit=3)


async def test_switching_language_mid_dialog_keeps_the_draft(harness: Harness) -> None:
    c = harness.citizen(2001, language_code="de")
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Mobilität & ÖPNV")
    await c.press("Sport & Events")
    old_keyboard = c.user.last_message.message_id
    await c.send("/sprache")
    assert c.buttons() == ["✅ Deutsch", "Leichte Sprache", "English", "Türkçe"]
    await c.press("Türkçe")
    assert "Dil: Türkçe" in c.user.messages[-2].text
    assert "Seçilen: 2/3" in c.last_text
    # One live topic keyboard: the German one above lost its buttons (and its counter).
    [old] = [m for m in c.user.messages if m.message_id == old_keyboard]
    assert old.button_texts == []
    assert "✅ Ulaşım ve toplu taşıma" in c.buttons()
    assert "✅ Spor ve etkinlikler" in c.buttons()

    await c.press("Devam")
    assert "Adım 2/3" in c.last_text
    await c.send("Revirde tek bir toplu taşıma bileti olsun.")
    await c.press("Spor ve etkinlikler")
    assert "Adım 3/3" in c.last_text
    await c.send("/sprache")
    await c.press("English")
    review = c.last_text
    assert "Step 3 of 3" in review
    assert "• Mobility & public transport" in review and "• Sport & events" in review
    assert "tek bir toplu taşıma bileti" in review
    await c.press("Submit")
    assert "Thank you! Your vote has been saved." in c.last_text
    assert await participant_locale(harness) == "en"


async def test_the_language_is_kept_before_consent_without_personal_data(
    harness: Harness,
) -> None:
    c = harness.citizen(2002, language_code="de")
    await choose_language(c, "en")
    assert await count_rows(harness, Participant) == 0
    assert await count_rows(harness, ConversationState) == 1
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        row = await session.scalar(select(ConversationState))
    assert row is not None and "2002" not in row.key + row.data
    await c.send("/start")
    assert "Choose up to 3 topics" in c.last_text
    await c.press("No, thanks")
    await c.send("/hilfe")
    assert "/language – " in c.last_text and "/myvote – " in c.last_text


async def test_choosing_the_current_language_changes_nothing(harness: Harness) -> None:
    c = harness.citizen(2003, language_code="tr")
    await c.send("/sprache")
    picker = c.user.last_message
    assert "✅ Türkçe" in c.buttons()
    await c.press("Türkçe")
    assert c.user.callback_answers[-1].text.startswith("Dil: Türkçe")
    assert c.user.last_message.message_id == picker.message_id
    assert c.user.last_message.edit_count == 0


async def test_erasing_forgets_the_language_too(harness: Harness) -> None:
    c = harness.citizen(2004, language_code="de")
    await choose_language(c, "tr")
    await walk(c, "tr", ["gruen"])
    await c.send("/meinedaten")
    document = c.user.last_message.document
    assert document is not None
    assert json.loads(document)["Botla yazışmanız"]["Seçilen dil"] == "Türkçe"
    await c.send("/loeschen")
    await c.press("Evet, hepsini sil")
    assert "Verileriniz silindi" in c.last_text
    assert await count_rows(harness, Participant) == 0
    assert await count_rows(harness, ConversationState) == 0
    await c.send("/start")
    assert "Wählen Sie bis zu 3 Themen" in c.last_text  # the client's language again


async def test_a_command_menu_for_each_client_language(harness: Harness) -> None:
    default = harness.emulator.commands()
    assert "sprache" in [c["command"] for c in default]
    for code, start in (("en", "Take part"), ("tr", "Katılın")):
        menu = harness.emulator.commands(language_code=code)
        assert len(menu) == len(default)  # the same commands, by their names in the language
        assert {"en": "language", "tr": "dil"}[code] in [c["command"] for c in menu]
        assert menu[0]["description"].startswith(start)


def test_client_languages_map_to_shipped_locales() -> None:
    shipped = ("de", "en", "tr", PLAIN_GERMAN)
    assert locale_from_client("en-GB", shipped, "de") == "en"
    assert locale_from_client("tr", shipped, "de") == "tr"
    assert locale_from_client("de-AT", shipped, "de") == "de"
    assert locale_from_client("pt-br", shipped, "de") == "de"
    assert locale_from_client(None, shipped, "de") == "de"
    assert locale_from_client("de_LS", shipped, "de") == "de"
    assert ordered_locales(["tr", "de", PLAIN_GERMAN, "en"]) == ["de", PLAIN_GERMAN, "en", "tr"]
    assert menu_language_codes(shipped, "de") == ["en", "tr"]
    assert language_name("fr") == "Français"


def test_who_needs_which_translation() -> None:
    shipped = ("de", "en", "tr", PLAIN_GERMAN)
    assert required_locales(["handlers/citizen/flow.py"], shipped) == {"en", "tr", PLAIN_GERMAN}
    assert required_locales(["handlers/moderation/texts.py"], shipped) == {"en"}
    assert required_locales(["bot/digest/compose.py"], shipped) == {"en", "tr"}
    both = ["handlers/moderation/texts.py", "handlers/citizen/flow.py"]
    assert required_locales(both, shipped) == {"en", "tr", PLAIN_GERMAN}


def test_texts_render_in_a_given_locale_outside_an_update() -> None:
    """How digests and other scheduled texts are rendered."""
    with rendering_in(i18n(), "tr"):
        assert _("Noch hat niemand ein Thema gewählt.") == "Henüz kimse bir konu seçmedi."
    with rendering_in(i18n(), "en"):
        assert _("Noch hat niemand ein Thema gewählt.") == "Nobody has chosen a topic yet."


def _config(tmp_path: Path, change: tuple[str, str]) -> Path:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "c.toml"
    path.write_text(text.replace(*change, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("[consultation.translations.tr]", '[consultation.translations."tr-TR"]'), "'tr-TR'"),
        (('title = "Ruhr Konferansı Diyaloğu"\n', ""), r"translations\.tr\.title"),
        (('question = "Ruhr metropol', 'frage = "x"\nquestion = "Ruhr metropol'), r"tr\.frage"),
        ((', de_LS = "Gegen Banden-Verbrechen"', ""), r"topics\[2\]\.titles\.de_LS is missing"),
        (('tr = "Dijital turizm"', 'tr = "Dijital turizm", fr = "x"'), r"topics\[5\]\.titles\.fr"),
        (('en = "Health & care"', 'en = "' + "x" * 31 + '"'), r"titles\.en must be at most"),
    ],
)
def test_bad_translations_name_the_key(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(_config(tmp_path, change), env={})


@pytest.mark.slow
def test_the_terminal_chat_speaks_the_language_asked_for() -> None:
    """`dialogbot chat --lang tr`, driven through a pipe: tap "take part", then quit."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "chat", "--lang", "tr"],
        input="1\n/quit\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "DIALOGBOT_CONFIG": str(ROOT / "config.example.toml")},
        timeout=60,
        check=True,
    )
    assert "Ruhr metropol bölgesi nasıl daha başarılı olabilir?" in result.stdout
    assert "[1] Katıl" in result.stdout
    assert "Adım 1/3: Öncelikleriniz" in result.stdout
    assert "Ulaşım ve toplu taşıma" in result.stdout
    # The conversation is all a chat shows: no log lines (its fresh database's migrations).
    assert "alembic" not in result.stderr and " INFO " not in result.stderr


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_idea_status_has_words_in_every_language(locale: str) -> None:
    """/meinvotum shows an idea's status: each of the five, never its stored code."""
    from bot.domain.impulse import ImpulseStatus
    from handlers.citizen.texts.dialog import impulse_status

    labels = {}
    with rendering_in(i18n(), locale):
        for status in ImpulseStatus:
            labels[status] = impulse_status(status.value)
    assert all(label and label != status.value for status, label in labels.items()), labels
    assert len(set(labels.values())) == len(ImpulseStatus), labels  # no two statuses read alike
    if locale not in ("de", PLAIN_GERMAN):
        assert not any(word in label for label in labels.values() for word in GERMAN_WORDS)
        assert all(t(locale, msgid) != msgid for msgid in _status_msgids())


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_participant_status_has_words_in_every_language(locale: str) -> None:
    """/meinedaten shows the person's own status (taking part, blocked, set aside with a wave):
    each in words, never its stored code."""
    from bot.domain.participation import ParticipantStatus
    from handlers.citizen.texts.my_data import participant_status_label

    with rendering_in(i18n(), locale):
        labels = {status: participant_status_label(status) for status in ParticipantStatus}
    assert all(label and label != status.value for status, label in labels.items()), labels
    assert len(set(labels.values())) == len(ParticipantStatus), labels


def _status_msgids() -> list[str]:
    """The German labels, so a missing translation (falling back to German) is caught."""
    from bot.domain.impulse import ImpulseStatus
    from handlers.citizen.texts.dialog import impulse_status

    with rendering_in(i18n(), "de"):
        return [impulse_status(status.value) for status in ImpulseStatus]


async def test_erasure_answers_in_the_old_language_then_telegrams(harness: Harness) -> None:
    c = harness.citizen(2101, language_code="de")
    await choose_language(c, PLAIN_GERMAN)
    await walk(c, PLAIN_GERMAN, ["mobilitaet"])
    await c.send("/loeschen")
    await c.press(t(PLAIN_GERMAN, "Ja, alles löschen"))
    erased = "Erledigt: Ihre Daten sind gelöscht. Mit /start können Sie neu beginnen."
    assert c.last_text == t(PLAIN_GERMAN, erased) != erased
    await c.send("/hilfe")  # the choice is forgotten: Telegram's language again
    assert "/stoebern – Ideen anderer bewerten" in c.last_text
