"""Waves of new accounts: /welle (/wave) proposes to set one start-link source within a window
of consent times aside, with a preview; /wellen (/waves) lists the waves, each restorable.
Every change is audited in its own transaction (storage/waves.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.settings import Settings
from bot.domain.waves import WaveProblem, parse_wave
from handlers.moderation import keyboards, texts
from handlers.moderation.callbacks import WaveAction, WaveCallback
from storage.waves import SqlWaveRepository

LISTED = 10


async def propose(
    message: Message,
    command: CommandObject,
    settings: Settings,
    waves: SqlWaveRepository,
    clock: Clock,
) -> None:
    window = parse_wave(command.args, clock(), ZoneInfo(settings.digest_timezone))
    if isinstance(window, WaveProblem):
        await message.answer(texts.wave_problem(window))
        return
    wave = await waves.propose(window, clock())
    await message.answer(
        texts.wave_preview(settings, wave), reply_markup=keyboards.wave_proposal(wave.id)
    )


async def decide(
    callback: CallbackQuery,
    callback_data: WaveCallback,
    waves: SqlWaveRepository,
    consensus: ConsensusCache,
    moderator_id: int,
    clock: Clock,
) -> None:
    wave_id, now = callback_data.wave, clock()
    if callback_data.action is WaveAction.CANCEL:
        note = texts.wave_cancelled() if await waves.cancel(wave_id, now) else None
    elif callback_data.action is WaveAction.SET_ASIDE:
        done = await waves.set_aside(wave_id, moderator_id, now)
        note = texts.wave_set_aside(done) if done else None
    else:
        done = await waves.restore(wave_id, moderator_id, now)
        note = texts.wave_restored(done) if done else None
    if note is None:
        await callback.answer(texts.wave_gone(), show_alert=True)
        return
    if callback_data.action is not WaveAction.CANCEL:
        consensus.outdated()  # the opinion groups are computed again at the next look
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(f"{callback.message.html_text}\n\n<i>{note}</i>")


async def listing(message: Message, settings: Settings, waves: SqlWaveRepository) -> None:
    listed = await waves.recent(LISTED)
    await message.answer(
        texts.waves(settings, listed), reply_markup=keyboards.waves_to_restore(listed)
    )


def router() -> Router:
    router = Router(name="moderation_waves")
    # As /stats: only in the private chat with a moderator.
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(propose, Command("welle", "wave"), private)
    router.message.register(listing, Command("wellen", "waves"), private)
    router.callback_query.register(decide, WaveCallback.filter())
    return router
