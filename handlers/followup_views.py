"""Texts, buttons and callback data of the outcome message on the citizen's side: the offer at
the end of the dialog ("Ergebnis später zuschicken"), taking it back, and the message itself."""

from __future__ import annotations

from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

PREFIX = "fu"


class FollowUpCallback(CallbackData, prefix=PREFIX):
    want: bool  # what the tap does: ask for the outcome message, or take that back


def button(subscribed: bool) -> InlineKeyboardButton:
    if subscribed:
        text, want = _("🔕 Doch keine Ergebnis-Nachricht"), False
    else:
        text, want = _("🔔 Ergebnis später zuschicken"), True
    return InlineKeyboardButton(text=text, callback_data=FollowUpCallback(want=want).pack())


def keyboard(subscribed: bool) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(subscribed)]])


def with_button(markup: InlineKeyboardMarkup | None, subscribed: bool) -> InlineKeyboardMarkup:
    """The message's keyboard with the offer's button in its new state; other buttons stay."""
    rows = [list(row) for row in (markup.inline_keyboard if markup else [])]
    for row in rows:
        for index, old in enumerate(row):
            if (old.callback_data or "").startswith(f"{PREFIX}:"):
                row[index] = button(subscribed)
                return InlineKeyboardMarkup(inline_keyboard=rows)
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [button(subscribed)]])


def subscribed_notice() -> str:
    return _("Gut: Wir schicken Ihnen, was aus der Beteiligung geworden ist.")


def unsubscribed_notice() -> str:
    return _("Sie bekommen keine Ergebnis-Nachricht.")


def register_first() -> str:
    return _("Machen Sie bitte zuerst mit: Tippen Sie auf /start.")


def in_my_data() -> str:
    return _(
        "Sie haben darum gebeten, dass wir Ihnen das Ergebnis der Beteiligung schicken. "
        "Sie können das hier zurücknehmen."
    )


def outcome_message(text: str) -> str:
    """What a person who asked for it reads: a frame in their language, the moderators' text."""
    return "\n\n".join(
        [
            _("<b>Was aus der Beteiligung geworden ist</b>"),
            escape(text),
            _("Sie bekommen diese Nachricht, weil Sie am Ende darum gebeten haben."),
        ]
    )
