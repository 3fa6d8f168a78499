"""Every citizen button's typed callback data. Prefixes are short (Telegram allows 64 bytes per
button) and never one of the moderators' (handlers/moderation/callbacks.py)."""

from enum import StrEnum
from typing import Annotated

from aiogram import F
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from pydantic import Field

from bot.domain.ratings import Opinion, ReportReason

# A row id inside callback data. A forged button may carry any number; beyond this bound no row
# exists (ids are 32-bit integers), and a database driver would fail on a larger one, so such a
# button does not match its filter and gets the answer for an unknown button instead.
RowId = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Step(StrEnum):
    CONSENT = "ok"
    DECLINE = "no"
    PRIVACY = "pv"  # the full privacy notice, in place of the welcome
    WELCOME = "wb"  # from the privacy notice back to the welcome
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
    NEW_IDEA = "ni"  # after submitting: a free text offered as a new idea (after_submit)


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


# -- /stoebern and the similar-impulse hint --


class OpinionCode(StrEnum):
    AGREE = "a"
    DISAGREE = "d"
    NEUTRAL = "p"


OPINIONS = {
    OpinionCode.AGREE: Opinion.AGREE,
    OpinionCode.DISAGREE: Opinion.DISAGREE,
    OpinionCode.NEUTRAL: Opinion.PASS,
}


class RateCallback(CallbackData, prefix="r"):
    impulse: RowId
    opinion: OpinionCode


class ReportAskCallback(CallbackData, prefix="rq"):
    impulse: RowId
    back: bool = False


class ReportCallback(CallbackData, prefix="rr"):
    impulse: RowId
    reason: ReportReason


class BrowseCallback(CallbackData, prefix="rb"):
    pass


class UndoCallback(CallbackData, prefix="ru"):
    """One step back: the rating of this impulse is taken back and its card shown again."""

    impulse: RowId


class PauseCallback(CallbackData, prefix="rp"):
    pass


class HintCallback(CallbackData, prefix="h"):
    impulse: RowId  # 0: send my own idea anyway


# -- the outcome message --

FOLLOWUP_PREFIX = "fu"


class FollowUpCallback(CallbackData, prefix=FOLLOWUP_PREFIX):
    want: bool  # what the tap does: ask for the outcome message, or take that back
