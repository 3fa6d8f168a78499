"""A person's language: the stored choice, the guess from the Telegram client, the middleware.

The choice lives in the FSM storage under its own destiny, so it is kept like the dialog state
(under a keyed hash, before consent too) but `state.clear()` of the dialog never drops it. It is
keyed like the private chat with the person, so it is the same in every chat.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel import Locale, UnknownLocaleError

LOCALE_DESTINY = "locale"
PLAIN_GERMAN = "de_LS"
# Button labels of /sprache: each language in its own words, in this order.
LANGUAGE_NAMES = {
    "de": "Deutsch",
    PLAIN_GERMAN: "Leichte Sprache",
    "en": "English",
    "tr": "Türkçe",
}
_CHOICE = "locale"


def language_name(locale: str) -> str:
    """How the language calls itself; Babel knows the ones not listed above."""
    if locale in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[locale]
    try:
        name = Locale.parse(locale).get_display_name()
    except (ValueError, UnknownLocaleError):
        return locale
    return name.capitalize() if name else locale


def ordered_locales(available: Collection[str]) -> list[str]:
    """Shipped locales, the named ones first in their fixed order."""
    named = [locale for locale in LANGUAGE_NAMES if locale in available]
    return named + sorted(set(available) - set(named))


def locale_from_client(language_code: str | None, available: Collection[str], default: str) -> str:
    """Map a Telegram client language ("de", "en-GB", "tr", "pt-br") to a shipped locale."""
    if not language_code:
        return default
    primary = language_code.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in available else default


def menu_language_codes(available: Collection[str], default: str) -> list[str]:
    """Locales that get their own command menu: Telegram knows only two-letter client codes."""
    return [
        locale
        for locale in ordered_locales(available)
        if locale != default and len(locale) == 2 and locale.isalpha()
    ]


@dataclass(frozen=True)
class LanguageChoice:
    """One person's stored language choice."""

    storage: BaseStorage
    key: StorageKey

    @classmethod
    def of(cls, storage: BaseStorage, bot_id: int, user_id: int) -> LanguageChoice:
        key = StorageKey(bot_id=bot_id, chat_id=user_id, user_id=user_id, destiny=LOCALE_DESTINY)
        return cls(storage, key)

    async def get(self) -> str | None:
        value = (await self.storage.get_data(self.key)).get(_CHOICE)
        return value if isinstance(value, str) else None

    async def choose(self, locale: str) -> None:
        await self.storage.set_data(self.key, {_CHOICE: locale})

    async def forget(self) -> None:
        await self.storage.set_data(self.key, {})


class LanguageMiddleware(I18nMiddleware):
    """The stored choice, else the Telegram client's language, else the default.

    One read by primary key per update; handlers get the choice as `language`.
    """

    def __init__(self, i18n: I18n, storage: BaseStorage) -> None:
        super().__init__(i18n)
        self._storage = storage

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        bot: Bot | None = data.get("bot")
        available = self.i18n.available_locales
        if user is None or bot is None:
            return self.i18n.default_locale
        choice = LanguageChoice.of(self._storage, bot.id, user.id)
        data["language"] = choice
        chosen = await choice.get()
        if chosen in available:
            return chosen
        return locale_from_client(user.language_code, available, self.i18n.default_locale)
