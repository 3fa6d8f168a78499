"""Steering the consultation: /stats, /export, /phase, /announce, /audit."""

from __future__ import annotations

import asyncio
import logging
from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.digest.opinion_chart import opinion_chart_spec, render_opinion_chart
from bot.domain.clock import Clock
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.moderation import ModerationService
from bot.domain.participation import ParticipationService
from bot.domain.settings import Settings
from bot.domain.waves import stats_since
from bot.ops.export import export_stamp, export_zip, full_export
from bot.telegram import outcomes
from bot.telegram.moderator_language import ModeratorLanguages
from handlers.moderation import texts
from handlers.moderation.callbacks import AnnounceCallback, Confirmable, ConfirmCallback
from handlers.moderation.cards import names
from handlers.moderation.keyboards import announce_preview, sure_keyboard
from storage.db import Database
from storage.waves import SqlWaveRepository

log = logging.getLogger(__name__)

TOP_SOURCES = 8  # the /stats lines of new participants per source
ANNOUNCE_MAX = 3500  # leaves room below Telegram's 4096 once escaped


async def show_stats(
    message: Message,
    settings: Settings,
    moderation: ModerationService,
    participation: ParticipationService,
    consensus: ConsensusCache,
    waves: SqlWaveRepository,
    clock: Clock,
) -> None:
    now = clock()
    # First, on its own: new participants by hour and source, where a wave of new accounts
    # shows (handlers/moderation/waves.py); then the figures, then the chart.
    since = stats_since(now, ZoneInfo(settings.digest_timezone))
    await message.answer(texts.arrivals(settings, await waves.arrivals(since, TOP_SOURCES)))
    stats = await moderation.stats(now)
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
    name, archive = export_zip(data, export_stamp(now, settings.digest_timezone))
    await message.answer_document(
        BufferedInputFile(archive, filename=name), caption=texts.export_caption()
    )


async def set_phase(
    message: Message,
    command: CommandObject,
    moderation: ModerationService,
    participation: ParticipationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    """`/phase`: which phase, and how to change it; `/phase open` at once (it undoes a
    close); `/phase close` asks first."""
    wanted = (command.args or "").strip().lower()
    if not wanted:
        await message.answer(texts.phase_now(await participation.is_open()))
        return
    if wanted not in ("open", "close", "closed"):
        await message.answer(texts.usage("phase"))
        return
    if wanted == "open":
        await moderation.set_phase(True, moderator_id=moderator_id, now=clock())
        await message.answer(texts.phase_set(True))
        return
    yes = ConfirmCallback(what=Confirmable.CLOSE, target=0, yes=True)
    no = ConfirmCallback(what=Confirmable.CLOSE, target=0, yes=False)
    await message.answer(
        texts.confirm_close(), reply_markup=sure_keyboard(texts.yes_close(), yes, no)
    )


async def confirmed_close(
    callback: CallbackQuery,
    callback_data: ConfirmCallback,
    moderation: ModerationService,
    moderator_id: int,
    clock: Clock,
) -> None:
    await callback.answer()
    if not callback_data.yes:
        await _close_preview(callback, texts.phase_unchanged())
        return
    await moderation.set_phase(False, moderator_id=moderator_id, now=clock())
    await _close_preview(callback, texts.phase_set(False))


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
    await message.answer(texts.announce_preview(text), reply_markup=announce_preview(entry))


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


async def show_audit(
    message: Message,
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
    moderator_id: int,
) -> None:
    entries = await moderation.recent_audit(20)
    known = await names(moderator_languages, *(e["moderator_id"] for e in entries))
    await message.answer(texts.audit(settings, entries, known, moderator_id))


def router() -> Router:
    router = Router(name="moderation_steering")
    # Statistics, exports and the audit log only in the private chat with the moderator (as
    # /digest): a group, even the moderators' own, may have members who are not moderators.
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(show_stats, Command("stats"), private)
    router.message.register(send_export, Command("export"), private)
    router.message.register(set_phase, Command("phase"))
    router.callback_query.register(
        confirmed_close, ConfirmCallback.filter(F.what == Confirmable.CLOSE)
    )
    router.message.register(preview_announcement, Command("announce"))
    router.callback_query.register(confirm_announcement, AnnounceCallback.filter())
    router.message.register(show_audit, Command("audit"), private)
    return router
