"""Free text outside the dialog: after submitting, or in reply to one of the bot's messages.

A person who took part and writes again most likely has more to say: the text is offered as a
new idea ("Als neue Idee schicken"), which goes through the same checks and review step as any
idea. Ideas already sent cannot be changed (moderators may have read or published them), so a
new idea is what the rules allow. A reply to an official answer is acknowledged as such, and
says honestly that nobody reads replies here.
"""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from handlers.citizen import flow, keyboards
from handlers.citizen.callbacks import Step, on_step
from handlers.citizen.my_vote import KEPT_STATUSES
from handlers.citizen.states import DRAFT_KEY, EARLIER_IDEAS, IMPULSE_TEXT, SELECTED
from handlers.citizen.texts import dialog, notices

OFFERED = "offered_idea"  # FSM data outside the dialog: the text offered as a new idea


def answer_heading(i18n: I18n, locale: str) -> re.Pattern[str]:
    """The first line of an official answer (handlers/citizen/texts/notices.py) as the reader
    sees it."""
    with i18n.use_locale(locale):
        template = notices.answer_heading("\x00")
    visible = re.sub(r"<[^>]+>", "", template)
    before, _marker, after = visible.partition("\x00")
    return re.compile(re.escape(before) + r"\d+" + re.escape(after))


def is_official_answer(message: Message | None, bot: Bot, i18n: I18n) -> bool:
    if message is None or message.from_user is None or message.from_user.id != bot.id:
        return False
    text = message.text or ""
    return any(answer_heading(i18n, locale).match(text) for locale in i18n.available_locales)


async def free_text(
    message: Message,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    participation: ParticipationService,
    citizen: Citizen,
) -> None:
    text = message.text or ""
    to_answer = is_official_answer(message.reply_to_message, bot, i18n)
    vote = await participation.vote_set(citizen.pseudonym)
    if vote is None or not vote.topics or not await participation.is_open():
        if to_answer:
            await message.answer(dialog.reply_to_answer())
        else:
            await message.answer(dialog.unknown_input())
        return
    await state.update_data({OFFERED: text})
    offer = dialog.offer_new_idea(text)
    if to_answer:
        offer = dialog.reply_to_answer() + "\n\n" + offer
    await message.answer(offer, reply_markup=keyboards.offer_new_idea())


async def take_as_new_idea(
    callback: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> None:
    text = (await state.get_data()).get(OFFERED)
    vote = await participation.vote_set(citizen.pseudonym)
    if not isinstance(text, str) or vote is None or not isinstance(callback.message, Message):
        await callback.answer(dialog.stale_button(), show_alert=True)
        return
    problem = await participation.check_new_impulse(citizen.pseudonym, text)
    if problem is not None:
        await callback.answer()
        await flow.edit_or_send(
            callback, dialog.impulse_problem(settings.consultation, problem, text)
        )
        await state.set_data({})
        return
    await callback.answer()
    await callback.message.edit_reply_markup(reply_markup=None)
    kept = [i.text for i in vote.impulses if i.status in KEPT_STATUSES]
    await state.set_data(
        {
            SELECTED: list(participation.clean_selection(vote.topics)),
            IMPULSE_TEXT: text,
            DRAFT_KEY: flow.new_draft_key(),
            **({EARLIER_IDEAS: kept} if kept else {}),
        }
    )
    await flow.after_topics(callback.message, state, settings)


def router() -> Router:
    router = Router(name="after_submit")
    router.message.register(free_text, StateFilter(None), F.text, ~F.text.startswith("/"))
    router.callback_query.register(take_as_new_idea, StateFilter(None), on_step(Step.NEW_IDEA))
    return router
