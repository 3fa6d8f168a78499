"""Every moderator button's typed callback data, and `MODERATOR_BUTTONS`, their prefixes: the
moderator gate (bot.telegram.middlewares.ModeratorGate) knows a moderator's button by them. The
prefixes start with "m"; no citizen button's prefix (handlers/citizen/callbacks.py) does."""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.domain.moderation import AnswerStatus, RejectReason
from handlers.citizen.callbacks import RowId


class CardAction(StrEnum):
    APPROVE = "ok"
    REJECT = "no"
    TAKE_DOWN = "td"
    BLOCK = "bl"
    UNBLOCK = "ub"
    ANSWER = "an"
    BACK = "bk"
    # The second tap of an action that cannot be undone (the first one asks).
    BLOCK_SURE = "bx"


class CardCallback(CallbackData, prefix="mc"):
    impulse: RowId
    action: CardAction


class RejectCallback(CallbackData, prefix="mx"):
    impulse: RowId
    reason: RejectReason
    sure: bool = False  # False: the reason was picked, the card asks; True: "Ja, ablehnen"


class Confirmable(StrEnum):
    """Commands whose effect is asked for first (card buttons use `CardAction`)."""

    BLOCK = "bl"
    CLOSE = "cl"
    MERGE = "mg"


class ConfirmCallback(CallbackData, prefix="mk"):
    what: Confirmable
    target: RowId  # the impulse for BLOCK, 0 for CLOSE
    yes: bool


class TakeDownCallback(CallbackData, prefix="mt"):
    """Withdraw a published impulse, with the reason its author is told."""

    impulse: RowId
    reason: RejectReason
    sure: bool = False  # False: the reason was picked, the card asks; True: "Ja, zurückziehen"


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
    sure: bool = False  # False: ask first ("Ja, zusammenführen" sends True)
    on_card: bool = True  # False: the preview of /merge (edited, not a card copy)


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


class FollowUpDraftCallback(CallbackData, prefix="mf"):
    """The preview of the outcome message (/rueckmeldung): send it, or drop it."""

    message: RowId
    action: DraftAction


class DigestPostCallback(CallbackData, prefix="md"):
    """The preview of the next digest (/digest): post it to the channel now."""

    digest: RowId


MODERATOR_BUTTONS: frozenset[str] = frozenset(
    cls.__prefix__
    for cls in (
        CardCallback,
        RejectCallback,
        ConfirmCallback,
        TakeDownCallback,
        AnswerCallback,
        AnswerDraftCallback,
        MergeCallback,
        AnnounceCallback,
        WaveCallback,
        FollowUpDraftCallback,
        DigestPostCallback,
    )
)
