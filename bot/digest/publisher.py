"""The channel as the digest service sees it: aiogram calls, Telegram errors as PublishError.

No retries here: the outbox retries, so a retry survives a restart and another process can
take it over.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, LinkPreviewOptions
from aiogram.utils.deep_linking import create_deep_link

from bot.domain.digests import PublishError
from bot.telegram import outcomes

CHART_FILENAME = "digest.png"
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def chat_ref(chat: str) -> int | str:
    """A numeric chat id as int, a @username as it is."""
    return int(chat) if chat.lstrip("-").isdigit() else chat


def deep_link(username: str | None, payload: str = "digest") -> str:
    """The bot's start link with `payload` (aiogram checks it is a valid start parameter)."""
    return create_deep_link(username or "BOT_USERNAME", "start", payload)


class TelegramPublisher:
    def __init__(self, bot: Bot, chat: str) -> None:
        self._bot = bot
        self._chat = chat_ref(chat)

    async def send_photo(self, png: bytes, caption: str) -> int:
        photo = BufferedInputFile(png, filename=CHART_FILENAME)
        try:
            message = await self._bot.send_photo(self._chat, photo, caption=caption)
        except (TelegramAPIError, ClientDecodeError) as exc:
            raise _publish_error(exc) from exc
        return message.message_id

    async def send_text(self, html: str) -> int:
        try:
            message = await self._bot.send_message(
                self._chat, html, link_preview_options=_NO_PREVIEW
            )
        except (TelegramAPIError, ClientDecodeError) as exc:
            raise _publish_error(exc) from exc
        return message.message_id


async def bot_link(bot: Bot) -> str:
    """The invitation deep link; getMe is asked once (aiogram caches it)."""
    try:
        me = await bot.me()
    except (TelegramAPIError, ClientDecodeError) as exc:
        raise _publish_error(exc) from exc
    return deep_link(me.username)


def _publish_error(exc: TelegramAPIError | ClientDecodeError) -> PublishError:
    if isinstance(exc, TelegramRetryAfter):
        reason = f"TelegramRetryAfter: retry after {exc.retry_after} s"
        return PublishError(reason, retry_after=float(exc.retry_after))
    return PublishError(
        outcomes.describe(exc),
        transient=outcomes.is_transient(exc),
        operator=outcomes.operator_problem(exc),
    )
