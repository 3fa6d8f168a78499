"""Inline keyboards. Topic buttons get one row each: titles stay readable on a phone."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Consultation
from handlers.callbacks import ImpulseTopicCallback, Step, StepCallback, TopicCallback
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
    builder = InlineKeyboardBuilder()
    for topic in consultation.topics:
        mark = CHECKED if topic.id in selected else UNCHECKED
        builder.button(
            text=f"{mark} {topic_title(consultation, topic.id)}",
            callback_data=TopicCallback(topic=topic.id),
        )
    builder.button(text=_("Weiter ➡️"), callback_data=StepCallback(step=Step.TOPICS_DONE))
    builder.adjust(1)
    return builder.as_markup()


def skip_impulse() -> InlineKeyboardMarkup:
    return _single(_("Überspringen ➡️"), Step.SKIP_IMPULSE)


def impulse_topics(consultation: Consultation, selected: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for topic_id in selected:
        builder.button(
            text=topic_title(consultation, topic_id),
            callback_data=ImpulseTopicCallback(topic=topic_id),
        )
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


def _single(text: str, step: Step) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=text, callback_data=StepCallback(step=step))
    return builder.as_markup()
