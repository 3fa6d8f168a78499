"""The language moderators read: their own where it is a moderators' language (de, en), else
German; in the moderators' group chat, `moderation.language`.

A moderator's language is known from their own updates (the /sprache choice, else their
Telegram client's), remembered under its own destiny in the FSM storage, so a review card sent
while a citizen's update is handled goes out in the moderator's language, not the author's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.utils.i18n import I18n

from bot.domain.settings import MODERATOR_LOCALES, Settings

MODERATOR_DESTINY = "moderator_locale"
_LOCALE = "locale"
_NAME = "name"
NAME_MAX = 32


def moderator_locale(locale: str | None) -> str:
    """A moderators' language as it is; any other (Turkish, Leichte Sprache) reads German."""
    return locale if locale in MODERATOR_LOCALES else MODERATOR_LOCALES[0]


@dataclass(frozen=True)
class ModeratorLanguages:
    storage: BaseStorage
    bot_id: int
    i18n: I18n
    group_chat: int | None
    group_language: str

    @classmethod
    def build(
        cls, storage: BaseStorage, bot_id: int, i18n: I18n, settings: Settings
    ) -> ModeratorLanguages:
        return cls(storage, bot_id, i18n, settings.moderators_chat, settings.moderation_language)

    def _key(self, chat_id: int) -> StorageKey:
        return StorageKey(
            bot_id=self.bot_id, chat_id=chat_id, user_id=chat_id, destiny=MODERATOR_DESTINY
        )

    async def of_chat(self, chat_id: int) -> str:
        """The language of the moderators' texts in this chat."""
        if chat_id == self.group_chat:
            return self.group_language
        stored = (await self.storage.get_data(self._key(chat_id))).get(_LOCALE)
        return moderator_locale(stored if isinstance(stored, str) else None)

    async def remember(self, user_id: int, locale: str | None, name: str | None = None) -> str:
        """A moderator's update came in this (reader's) locale: theirs from now on (None: in
        the moderators' group, where the chat's language is not theirs); and under this first
        name, which cards show as who decided (never the Telegram id)."""
        key = self._key(user_id)
        data = await self.storage.get_data(key)
        stored = data.get(_LOCALE)
        own = moderator_locale(locale if locale is not None else _str(stored))
        short = (name or "").strip()[:NAME_MAX] or None
        wanted = {**data, _LOCALE: own}
        if short is not None:
            wanted[_NAME] = short
        if wanted != data:
            await self.storage.set_data(key, wanted)
        return own

    async def name_of(self, moderator_id: int) -> str | None:
        """The first name a moderator was last seen with, if any."""
        return _str((await self.storage.get_data(self._key(moderator_id))).get(_NAME))

    @contextmanager
    def rendering_for(self, locale: str) -> Iterator[None]:
        with self.i18n.use_locale(locale):
            yield


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
