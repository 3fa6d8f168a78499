"""Inline keyboards. Topic buttons get one row each: titles stay readable on a phone."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.app.config import Consultation
from bot.telegram.language import language_name
from handlers.callbacks import (
    ImpulseTopicCallback,
    LanguageCallback,
    Step,
    StepCallback,
    TopicCallback,
)
from handlers.views import topic_title

CHECKED = "✅"
UNCHECKED = "▫️"


def consent(consultation: Consultation) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Mitmachen"), callback_data=StepCallback(step=Step.CONSENT))
    builder.button(text=_("📄 Datenschutzerklärung"), url=consultation.privacy_url)
    builder.button(text=_("Nein, danke"), callback_data=StepCallback(step=Step.DECLINE))
    builder.adjust(1)
    return builder.as_markup()


def topics(consultation: Consultation, selected: Sequence[str]) -> InlineKeyboardMarkup:
    """Built row by row: it is sent on every tap, and InlineKeyboardBuilder copies the whole
    keyboard for each button added (several milliseconds for twenty; benchmarks/README.md)."""
    rows = [
        [
            InlineKeyboardButton(
                text=f"{CHECKED if topic.id in selected else UNCHECKED} "
                f"{topic_title(consultation, topic.id)}",
                callback_data=TopicCallback(topic=topic.id, choose=topic.id not in selected).pack(),
            )
        ]
        for topic in consultation.topics
    ]
    done = StepCallback(step=Step.TOPICS_DONE).pack()
    rows.append([InlineKeyboardButton(text=_("Weiter ➡️"), callback_data=done)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def skip_impulse() -> InlineKeyboardMarkup:
    return _single(_("Überspringen ➡️"), Step.SKIP_IMPULSE)


def keep_or_remove_impulse() -> InlineKeyboardMarkup:
    """Instead of "skip" when the draft already has an idea: nothing is dropped unasked."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Idee behalten"), callback_data=StepCallback(step=Step.KEEP_IMPULSE))
    builder.button(text=_("Idee entfernen"), callback_data=StepCallback(step=Step.REMOVE_IMPULSE))
    builder.adjust(2)
    return builder.as_markup()


def impulse_topics(
    consultation: Consultation, selected: Sequence[str], *, every_topic: bool = False
) -> InlineKeyboardMarkup:
    """The chosen topics and "another topic"; after that tap, every topic."""
    builder = InlineKeyboardBuilder()
    shown = consultation.topic_ids if every_topic else selected
    for topic_id in shown:
        builder.button(
            text=topic_title(consultation, topic_id),
            callback_data=ImpulseTopicCallback(topic=topic_id),
        )
    if not every_topic:
        builder.button(text=_("Anderes Thema …"), callback_data=StepCallback(step=Step.OTHER_TOPIC))
    builder.adjust(1)
    return builder.as_markup()


def review() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Absenden"), callback_data=StepCallback(step=Step.SUBMIT))
    builder.button(text=_("Themen ändern"), callback_data=StepCallback(step=Step.EDIT_TOPICS))
    builder.button(text=_("Idee ändern"), callback_data=StepCallback(step=Step.EDIT_IMPULSE))
    builder.adjust(1, 2)
    return builder.as_markup()


def change_vote() -> InlineKeyboardMarkup:
    return _single(_("✏️ Wahl ändern"), Step.CHANGE_VOTE)


def confirm_erase() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Ja, alles löschen"), callback_data=StepCallback(step=Step.ERASE))
    builder.button(text=_("Abbrechen"), callback_data=StepCallback(step=Step.KEEP_DATA))
    builder.adjust(2)
    return builder.as_markup()


def languages(locales: Sequence[str], current: str) -> InlineKeyboardMarkup:
    """Each language in its own words; the current one is ticked."""
    builder = InlineKeyboardBuilder()
    for locale in locales:
        mark = f"{CHECKED} " if locale == current else ""
        builder.button(
            text=mark + language_name(locale), callback_data=LanguageCallback(locale=locale)
        )
    builder.adjust(2)
    return builder.as_markup()


def _single(text: str, step: Step) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=text, callback_data=StepCallback(step=step))
    return builder.as_markup()
