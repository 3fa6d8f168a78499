"""/meinedaten and /loeschen: a citizen's own data, as a file, and its erasure."""

from __future__ import annotations

import json

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.domain.data_rights import DataRights, Moderators
from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from bot.telegram.conversation import ChatConversation
from bot.telegram.language import LanguageChoice
from bot.telegram.throttling import FloodGate, RateLimiter
from handlers.citizen import commands, flow, followup, keyboards
from handlers.citizen.callbacks import Step, on_step
from handlers.citizen.texts import dialog
from handlers.citizen.texts import my_data as data_texts
from storage.followup import SqlFollowUps


def conversation(
    user_id: int,
    state: FSMContext,
    language: LanguageChoice,
    rate_limiter: RateLimiter,
    flood_gate: FloodGate,
) -> ChatConversation:
    return ChatConversation(state, language, rate_limiter, flood_gate, user_id)


async def my_data(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
    language: LanguageChoice,
    rate_limiter: RateLimiter,
    flood_gate: FloodGate,
    followups: SqlFollowUps,
) -> None:
    user_id = message.from_user.id if message.from_user else message.chat.id
    found = await DataRights(participation).personal_data(
        citizen.pseudonym, conversation(user_id, state, language, rate_limiter, flood_gate)
    )
    if found is None:
        await message.answer(dialog.nothing_stored())
        return
    readable = data_texts.document(settings, found.stored, found.conversation)
    payload = json.dumps(readable, ensure_ascii=False, indent=2).encode()
    # One message: the summary in words as the caption (a few lines, far below 1,024 characters).
    await message.answer_document(
        BufferedInputFile(payload, filename="meine-daten.json"),
        caption=data_texts.summary(settings, found.stored),
    )
    await followup.offer_in_my_data(message, followups, citizen)


async def ask_erase(message: Message) -> None:
    await message.answer(dialog.erase_question(), reply_markup=keyboards.confirm_erase())


async def erase(
    callback: CallbackQuery,
    state: FSMContext,
    participation: ParticipationService,
    citizen: Citizen,
    language: LanguageChoice,
    rate_limiter: RateLimiter,
    flood_gate: FloodGate,
    moderators: Moderators,
) -> None:
    chat = conversation(callback.from_user.id, state, language, rate_limiter, flood_gate)
    late = await DataRights(participation).erase(citizen.pseudonym, chat, moderators)
    await callback.answer()
    await flow.edit_or_send(callback, dialog.erased())
    if late is not None:
        await moderators.erased(late)


async def keep(callback: CallbackQuery) -> None:
    await callback.answer()
    await flow.edit_or_send(callback, dialog.kept_data())


def router() -> Router:
    router = Router(name="my_data")
    router.message.register(my_data, Command(*commands.MY_DATA.aliases))
    router.message.register(ask_erase, Command(*commands.ERASE.aliases))
    router.callback_query.register(erase, on_step(Step.ERASE))
    router.callback_query.register(keep, on_step(Step.KEEP_DATA))
    return router
