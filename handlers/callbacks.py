"""Typed callback data. Prefixes are short: Telegram allows 64 bytes per button."""

from enum import StrEnum

from aiogram import F
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter


class Step(StrEnum):
    CONSENT = "ok"
    DECLINE = "no"
    TOPICS_DONE = "td"
    SKIP_IMPULSE = "sk"
    SUBMIT = "sb"
    EDIT_TOPICS = "et"
    EDIT_IMPULSE = "ei"
    CHANGE_VOTE = "cv"
    KEEP_IMPULSE = "ki"
    REMOVE_IMPULSE = "ri"
    OTHER_TOPIC = "ot"  # the idea's topic: show every topic, not only the chosen ones
    ERASE = "er"
    KEEP_DATA = "kd"


class StepCallback(CallbackData, prefix="s"):
    step: Step


class TopicCallback(CallbackData, prefix="t"):
    topic: str
    choose: bool  # what the tap does: choose the topic, or unchoose it (bot.domain.selection)


class ImpulseTopicCallback(CallbackData, prefix="it"):
    topic: str


class LanguageCallback(CallbackData, prefix="l"):
    locale: str


def on_step(step: Step) -> CallbackQueryFilter:
    """Filter for one step's button."""
    return StepCallback.filter(F.step == step)
