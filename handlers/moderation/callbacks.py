"""Moderators' typed callback data. Prefixes start with "m" so the gate can log attempts."""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.domain.moderation import AnswerStatus, RejectReason


class CardAction(StrEnum):
    APPROVE = "ok"
    REJECT = "no"
    TAKE_DOWN = "td"
    BLOCK = "bl"
    UNBLOCK = "ub"
    ANSWER = "an"
    BACK = "bk"


class CardCallback(CallbackData, prefix="mc"):
    impulse: int
    action: CardAction


class RejectCallback(CallbackData, prefix="mx"):
    impulse: int
    reason: RejectReason


class AnswerCallback(CallbackData, prefix="ma"):
    impulse: int
    status: AnswerStatus


class DraftAction(StrEnum):
    SEND = "s"
    EDIT = "e"
    CANCEL = "c"


class AnswerDraftCallback(CallbackData, prefix="mw"):
    """The preview of an official answer: send it, write it again, or drop it."""

    action: DraftAction


class MergeCallback(CallbackData, prefix="mg"):
    impulse: int  # the duplicate
    into: int  # the impulse that is kept


class AnnounceCallback(CallbackData, prefix="mn"):
    entry: int
    publish: bool
