"""Moderators' typed callback data. Prefixes start with "m" so the gate can log attempts."""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.domain.moderation import AnswerStatus, RejectReason
from handlers.callbacks import RowId


class CardAction(StrEnum):
    APPROVE = "ok"
    REJECT = "no"
    TAKE_DOWN = "td"
    BLOCK = "bl"
    UNBLOCK = "ub"
    ANSWER = "an"
    BACK = "bk"


class CardCallback(CallbackData, prefix="mc"):
    impulse: RowId
    action: CardAction


class RejectCallback(CallbackData, prefix="mx"):
    impulse: RowId
    reason: RejectReason


class AnswerCallback(CallbackData, prefix="ma"):
    impulse: RowId
    status: AnswerStatus


class DraftAction(StrEnum):
    SEND = "s"
    EDIT = "e"
    CANCEL = "c"


class AnswerDraftCallback(CallbackData, prefix="mw"):
    """The preview of an official answer: send it, write it again, or drop it."""

    action: DraftAction


class MergeCallback(CallbackData, prefix="mg"):
    impulse: RowId  # the duplicate
    into: RowId  # the impulse that is kept


class AnnounceCallback(CallbackData, prefix="mn"):
    entry: RowId
    publish: bool


class WaveAction(StrEnum):
    SET_ASIDE = "s"
    CANCEL = "c"
    RESTORE = "r"


class WaveCallback(CallbackData, prefix="mv"):
    """A wave of new accounts (storage/waves.py): set the proposed one aside, drop the
    proposal, or restore one set aside."""

    wave: RowId
    action: WaveAction
