"""/meinedaten and /loeschen: a citizen's own data, as a file, and its erasure."""

from __future__ import annotations

import json

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.domain.moderation import ModerationService
from bot.domain.participation import Citizen, Erasure, ParticipationService
from bot.domain.settings import Settings
from bot.telegram.language import LanguageChoice
from bot.telegram.moderator_language import ModeratorLanguages
from bot.telegram.throttling import FloodGate, RateLimiter
from handlers.citizen import commands, flow, followup, keyboards
from handlers.citizen.callbacks import Step, on_step
from handlers.citizen.texts import dialog
from handlers.citizen.texts import my_data as data_texts
from handlers.moderation.cards import erase_cards
from storage.followup import SqlFollowUps


async def my_data(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
    language: LanguageChoice,
    followups: SqlFollowUps,
) -> None:
    stored = await participation.personal_data(citizen.pseudonym)
    conversation = {
        "step": await state.get_state(),
        "draft": await state.get_data(),
        "language": await language.get(),
    }
    if stored is None and not any(conversation.values()):
        await message.answer(dialog.nothing_stored())
        return
    readable = data_texts.document(settings, stored, conversation)
    payload = json.dumps(readable, ensure_ascii=False, indent=2).encode()
    # One message: the summary in words as the caption (a few lines, far below 1,024 characters).
    await message.answer_document(
        BufferedInputFile(payload, filename="meine-daten.json"),
        caption=data_texts.summary(settings, stored),
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
    settings: Settings,
    moderation: ModerationService,
    moderator_languages: ModeratorLanguages,
) -> None:
    # The copies in moderators' chats first: their records go with the erasure.
    plan = await participation.erasure_plan(citizen.pseudonym)
    if plan is not None and callback.bot is not None:
        await erase_cards(callback.bot, settings, moderation, moderator_languages, plan)
    erasure = await participation.erase(citizen.pseudonym)
    await state.clear()
    await language.forget()
    rate_limiter.forget(callback.from_user.id)
    flood_gate.forget(callback.from_user.id)
    await callback.answer()
    await flow.edit_or_send(callback, dialog.erased())
    if erasure is not None and plan is not None and callback.bot is not None:
        # A moderator decided in between: whatever changed since the plan.
        await erase_cards(
            callback.bot,
            settings,
            moderation,
            moderator_languages,
            Erasure(
                removed_cards=tuple(
                    c for c in erasure.removed_cards if c not in plan.removed_cards
                ),
                kept_impulses=tuple(
                    i for i in erasure.kept_impulses if i not in plan.kept_impulses
                ),
            ),
        )


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
