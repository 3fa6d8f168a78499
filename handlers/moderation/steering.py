"""Steering the consultation: /stats, /export, /phase, /announce, /audit."""

from __future__ import annotations

import asyncio
import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.app.config import Settings
from bot.digest.opinion_chart import opinion_chart_spec, render_opinion_chart
from bot.domain.clock import Clock
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.moderation import ModerationService
from bot.domain.participation import ParticipationService
from bot.ops.export import full_export, to_csv, to_json, votes_csv
from bot.telegram import outcomes
from handlers.moderation import texts
from handlers.moderation.callbacks import AnnounceCallback
from storage.db import Database

log = logging.getLogger(__name__)

ANNOUNCE_MAX = 3500  # leaves room below Telegram's 4096 once escaped


async def show_stats(
    message: Message,
    settings: Settings,
    moderation: ModerationService,
    participation: ParticipationService,
    consensus: ConsensusCache,
    clock: Clock,
) -> None:
    stats = await moderation.stats(clock())
    standings = await participation.standings()
    view = consensus.latest()  # never waits: the groups are computed in the background
    section = texts.opinion_groups(settings, view, consensus.computed)
    await message.answer(f"{texts.stats(settings, stats, standings)}\n\n{section}")
    spec = opinion_chart_spec(view, settings.consultation.title_of) if view else None
    if spec is not None:
        png = await asyncio.to_thread(render_opinion_chart, spec)
        await message.answer_photo(
            BufferedInputFile(png, filename="meinungsgruppen.png"),
            caption=texts.opinion_chart_caption(),
        )


async def send_export(
    message: Message,
    settings: Settings,
    database: Database,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    now = clock()
    await moderation.log(moderator_id, "export", None, None, now)
    data = await full_export(settings, database, now, await moderation.recent_audit(10_000))
    stamp = now.strftime("%Y%m%d-%H%M")
    files = {
        f"dialogbot-{stamp}.json": to_json(data),
        f"stimmen-{stamp}.csv": votes_csv(data),
        f"impulse-{stamp}.csv": to_csv(data, "impulses"),
        f"themen-{stamp}.csv": to_csv(data, "topics"),
    }
    for name, content in files.items():
        await message.answer_document(
            BufferedInputFile(content.encode(), filename=name), caption=texts.export_caption()
        )


async def set_phase(
    message: Message,
    command: CommandObject,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    wanted = (command.args or "").strip().lower()
    if wanted not in ("open", "close", "closed"):
        await message.answer(texts.usage("phase"))
        return
    is_open = wanted == "open"
    await moderation.set_phase(is_open, moderator_id=moderator_id, now=clock())
    await message.answer(texts.phase_set(is_open))


async def preview_announcement(
    message: Message,
    command: CommandObject,
    settings: Settings,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    text = (command.args or "").strip()
    if not text or len(text) > ANNOUNCE_MAX:
        await message.answer(texts.usage("announce"))
        return
    if settings.channel_chat is None:
        await message.answer(texts.no_channel())
        return
    # The draft lives in the audit log; the button carries only its entry id.
    entry = await moderation.log(moderator_id, "announce_preview", None, text, clock())
    keyboard = InlineKeyboardBuilder()
    keyboard.button(
        text=_("📣 Im Kanal veröffentlichen"),
        callback_data=AnnounceCallback(entry=entry, publish=True),
    )
    keyboard.button(text=_("Abbrechen"), callback_data=AnnounceCallback(entry=entry, publish=False))
    await message.answer(texts.announce_preview(text), reply_markup=keyboard.as_markup())


async def confirm_announcement(
    callback: CallbackQuery,
    callback_data: AnnounceCallback,
    bot: Bot,
    settings: Settings,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    entry = await moderation.audit_entry(callback_data.entry)
    if entry is None or entry["action"] != "announce_preview" or settings.channel_chat is None:
        await callback.answer(texts.impulse_gone(), show_alert=True)
        return
    await callback.answer()
    if not callback_data.publish:
        await _close_preview(callback, texts.announce_cancelled())
        return
    try:
        await bot.send_message(settings.channel_chat, escape(entry["detail"] or ""))
    except TelegramAPIError as exc:
        problem = outcomes.operator_problem(exc)
        if problem is None:
            raise  # passing: the step runs again (bot.telegram.pipeline); else the errors handler
        log.error("announcement not posted: the operator must act (%s: %s)", problem, exc.message)
        await _close_preview(callback, texts.channel_problem(settings.channel_chat, problem))
        return
    await moderation.log(moderator_id, "announce", None, entry["detail"], clock())
    await _close_preview(callback, texts.announced())


async def _close_preview(callback: CallbackQuery, note: str) -> None:
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"{callback.message.html_text}\n\n<i>{note}</i>")


async def show_audit(message: Message, moderation: ModerationService) -> None:
    await message.answer(texts.audit(await moderation.recent_audit(20)))


def router() -> Router:
    router = Router(name="moderation_steering")
    # Statistics, exports and the audit log only in the private chat with the moderator (as
    # /digest): a group, even the moderators' own, may have members who are not moderators.
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(show_stats, Command("stats"), private)
    router.message.register(send_export, Command("export"), private)
    router.message.register(set_phase, Command("phase"))
    router.message.register(preview_announcement, Command("announce"))
    router.callback_query.register(confirm_announcement, AnnounceCallback.filter())
    router.message.register(show_audit, Command("audit"), private)
    return router
