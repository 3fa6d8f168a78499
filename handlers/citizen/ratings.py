"""/stoebern: rating cards, one approved impulse at a time, edited in place to the next one."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.domain.clock import Clock
from bot.domain.data_rights import Moderators
from bot.domain.impulse import ImpulseStatus
from bot.domain.moderation import ModerationService
from bot.domain.participation import Citizen, ParticipationService
from bot.domain.ratings import RatingService
from bot.domain.settings import Settings
from handlers.citizen import callbacks, commands, flow, keyboards
from handlers.citizen.texts import ratings as rating_texts


async def browse(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    ratings: RatingService,
    moderation: ModerationService,
    citizen: Citizen,
    clock: Clock,
) -> None:
    if not await participation.is_registered(citizen.pseudonym):
        await message.answer(rating_texts.register_first())
        return
    if await flow.ask_consent_again(message, state, settings, participation, citizen):
        return
    card = await ratings.next_card(citizen.pseudonym)
    if card is None:
        published = (await moderation.stats(clock())).impulses_by_status.get(
            ImpulseStatus.APPROVED, 0
        )
        await message.answer(
            rating_texts.all_seen() if published else rating_texts.none_published()
        )
        return
    await message.answer(
        rating_texts.card(settings.consultation, card),
        reply_markup=keyboards.card_keyboard(card.impulse_id),
    )


async def browse_offer(
    callback: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    ratings: RatingService,
    moderation: ModerationService,
    citizen: Citizen,
    clock: Clock,
) -> None:
    """The button on the thanks screen: the thanks stay (with their other buttons, such as
    "Ergebnis später zuschicken"), the first card follows."""
    await callback.answer()
    if isinstance(callback.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await callback.message.edit_reply_markup(
                reply_markup=keyboards.without_browse(callback.message.reply_markup)
            )
        await browse(
            callback.message, state, settings, participation, ratings, moderation, citizen, clock
        )


async def show_next(
    callback: CallbackQuery,
    settings: Settings,
    ratings: RatingService,
    citizen: Citizen,
    *,
    undo: int | None = None,
) -> None:
    """Edit the card in place to the next one (or to the end); `undo`: the impulse just rated,
    whose rating the next card can take back."""
    if not isinstance(callback.message, Message):
        return
    card = await ratings.next_card(citizen.pseudonym)
    if card is None:
        await callback.message.edit_text(rating_texts.all_seen())
        return
    await callback.message.edit_text(
        rating_texts.card(settings.consultation, card),
        reply_markup=keyboards.card_keyboard(card.impulse_id, undo=undo),
    )


async def rate(
    callback: CallbackQuery,
    callback_data: callbacks.RateCallback,
    settings: Settings,
    participation: ParticipationService,
    ratings: RatingService,
    citizen: Citizen,
    clock: Clock,
) -> None:
    if not await participation.is_registered(citizen.pseudonym):
        await callback.answer(rating_texts.register_first(), show_alert=True)
        return
    opinion = callbacks.OPINIONS[callback_data.opinion]
    if not await ratings.rate(citizen.pseudonym, callback_data.impulse, opinion, clock()):
        await callback.answer(rating_texts.rating_gone())
        await show_next(callback, settings, ratings, citizen)
        return
    await callback.answer()
    await show_next(callback, settings, ratings, citizen, undo=callback_data.impulse)


async def undo(
    callback: CallbackQuery,
    callback_data: callbacks.UndoCallback,
    settings: Settings,
    ratings: RatingService,
    citizen: Citizen,
) -> None:
    """One step back: the last rating is removed and its card is shown again (without a
    further "Rückgängig": one step only)."""
    if not await ratings.undo(citizen.pseudonym, callback_data.impulse):
        await callback.answer(rating_texts.nothing_to_undo())
        await show_next(callback, settings, ratings, citizen)
        return
    await callback.answer()
    card = await ratings.card(citizen.pseudonym, callback_data.impulse)
    if card is None or not isinstance(callback.message, Message):  # no longer published
        await show_next(callback, settings, ratings, citizen)
        return
    await callback.message.edit_text(
        rating_texts.card(settings.consultation, card, undone=True),
        reply_markup=keyboards.card_keyboard(card.impulse_id),
    )


async def pause(callback: CallbackQuery) -> None:
    """The card gives way to a short note; /stoebern starts where the person stopped."""
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(rating_texts.paused())


async def ask_report(callback: CallbackQuery, callback_data: callbacks.ReportAskCallback) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    if callback_data.back:
        question, markup = (
            rating_texts.card_question(),
            keyboards.card_keyboard(callback_data.impulse),
        )
    else:
        question, markup = (
            rating_texts.report_question(),
            keyboards.report_keyboard(callback_data.impulse),
        )
    text = rating_texts.with_question(callback.message.html_text, question)
    with contextlib.suppress(TelegramBadRequest):
        await callback.message.edit_text(text, reply_markup=markup)


async def report(
    callback: CallbackQuery,
    callback_data: callbacks.ReportCallback,
    settings: Settings,
    participation: ParticipationService,
    ratings: RatingService,
    moderators: Moderators,
    citizen: Citizen,
    clock: Clock,
) -> None:
    if not await participation.is_registered(citizen.pseudonym):
        await callback.answer(rating_texts.register_first(), show_alert=True)
        return
    outcome = await ratings.report(
        citizen.pseudonym, callback_data.impulse, callback_data.reason, clock()
    )
    await callback.answer(
        rating_texts.report_thanks() if outcome.recorded else rating_texts.rating_gone()
    )
    await show_next(callback, settings, ratings, citizen)
    if outcome.held:
        await moderators.new_impulse(callback_data.impulse)


def router() -> Router:
    router = Router(name="ratings")
    router.message.register(browse, Command(*commands.BROWSE.aliases))
    router.callback_query.register(browse_offer, callbacks.BrowseCallback.filter())
    router.callback_query.register(rate, callbacks.RateCallback.filter())
    router.callback_query.register(undo, callbacks.UndoCallback.filter())
    router.callback_query.register(pause, callbacks.PauseCallback.filter())
    router.callback_query.register(ask_report, callbacks.ReportAskCallback.filter())
    router.callback_query.register(report, callbacks.ReportCallback.filter(F.reason))
    return router
