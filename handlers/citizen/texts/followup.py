"""Texts of the outcome message on the citizen's side: the offer at
the end of the dialog ("Ergebnis später zuschicken"), taking it back, and the message itself."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _


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
