"""Steps shared by several routers: each shows one screen of the dialog and sets the state."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, LinkPreviewOptions, Message

from bot.domain.participation import Citizen, ParticipationService
from bot.domain.settings import Settings
from handlers.citizen import keyboards
from handlers.citizen.states import (
    DRAFT_KEY,
    EARLIER_IDEAS,
    IMPULSE_TEXT,
    IMPULSE_TOPIC,
    PROMPT,
    SELECTED,
    SOURCE,
    TOPICS_MESSAGE,
    Dialog,
)
from handlers.citizen.texts import dialog

# Texts with links (the privacy policy, the channel) show no preview card under them.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def edit_or_send(
    callback: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Edit the pressed message in place; Telegram no longer lets us edit very old ones."""
    if isinstance(callback.message, Message):
        await callback.message.edit_text(text, reply_markup=markup)
    elif callback.message is not None:
        await callback.bot.send_message(callback.message.chat.id, text, reply_markup=markup)  # type: ignore[union-attr]


async def present(
    message: Message,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    edit: bool,
    link_preview_options: LinkPreviewOptions | None = None,
) -> int:
    """Show a step: as a new message, or (`edit`) in place of `message`, the bot's message whose
    button moved the dialog on: shorter on screen, and one Bot API call less. Returns the id of
    the message that shows it (an edit of a message that is gone is sent anew:
    bot.telegram.resilience.SettledCalls)."""
    # None is what aiogram sends when none is given (the bot sets no default for it).
    if not edit:
        sent = await message.answer(
            text, reply_markup=markup, link_preview_options=link_preview_options
        )
        return sent.message_id
    shown = await message.edit_text(
        text, reply_markup=markup, link_preview_options=link_preview_options
    )
    return shown.message_id if isinstance(shown, Message) else message.message_id


async def release(state: FSMContext, message_id: int) -> None:
    """The message is about to show another step: it is no longer the live topic keyboard or
    the question with "skip", so nothing retires its new buttons later."""
    data = await state.get_data()
    stale = {key: None for key in (PROMPT, TOPICS_MESSAGE) if data.get(key) == message_id}
    if stale:
        await state.update_data(stale)


async def start_topics(
    message: Message,
    state: FSMContext,
    settings: Settings,
    selected: list[str],
    *,
    edit: bool = False,
) -> None:
    """Choose topics; a draft keeps its key (and impulse) until it is submitted."""
    await state.set_state(Dialog.topics)
    if edit:
        await release(state, message.message_id)
    data = await state.get_data()
    await retire_keyboard(message, data.get(TOPICS_MESSAGE))  # e.g. in the old language
    await state.update_data({SELECTED: selected, DRAFT_KEY: data.get(DRAFT_KEY) or new_draft_key()})
    consultation = settings.consultation
    shown = await present(
        message,
        dialog.topics_prompt(consultation, selected),
        keyboards.topics(consultation, selected),
        edit=edit,
    )
    await state.update_data({TOPICS_MESSAGE: shown})


async def ask_impulse(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> None:
    """The idea step; with an idea in the draft, it is shown and kept unless removed."""
    await state.set_state(Dialog.impulse_text)
    if edit:
        await release(state, message.message_id)
    await retire_prompt(message, state)
    data = await state.get_data()
    current = data.get(IMPULSE_TEXT)
    if isinstance(current, str) and current:
        text = dialog.impulse_prompt_with_draft(settings.consultation, current)
        markup = keyboards.keep_or_remove_impulse()
    else:
        text = dialog.impulse_prompt(settings.consultation, earlier_ideas(data), draft(data))
        markup = keyboards.skip_impulse()
    prompt = await present(message, text, markup, edit=edit)
    await state.update_data({PROMPT: prompt})


async def retire_prompt(message: Message, state: FSMContext) -> None:
    """Take the "skip" button off the previous question, so only the current one has it."""
    prompt = (await state.get_data()).get(PROMPT)
    if not isinstance(prompt, int) or message.bot is None:
        return
    await state.update_data({PROMPT: None})
    await retire_keyboard(message, prompt)


async def retire_keyboard(message: Message, message_id: object) -> None:
    """Take the buttons off an earlier message of this chat: only one keyboard per step."""
    if not isinstance(message_id, int) or message.bot is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # already gone or too old to edit
        await message.bot.edit_message_reply_markup(
            chat_id=message.chat.id, message_id=message_id, reply_markup=None
        )


async def ask_consent_again(
    message: Message,
    state: FSMContext,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> bool:
    """The privacy notice changed since the person agreed: the welcome and consent screen again
    before their next step (True), with a line saying why."""
    if not await participation.must_agree_again(citizen.pseudonym):
        return False
    await state.set_state(Dialog.consent)
    await state.set_data({SOURCE: None})
    await message.answer(dialog.notice_changed())
    await show_welcome(message, settings)
    return True


async def show_welcome(message: Message, settings: Settings, *, edit: bool = False) -> None:
    """The welcome and consent screen (the caller sets the state); `edit`: back from the full
    privacy notice."""
    await present(
        message,
        dialog.welcome(settings.consultation),
        keyboards.consent(),
        edit=edit,
        link_preview_options=NO_PREVIEW,
    )


def step_after_topics(data: dict[str, Any], settings: Settings) -> str:
    """The name of the step after_topics shows, for the answer to the button that led there."""
    if not data.get(IMPULSE_TEXT):
        return dialog.step_impulse()
    if data.get(IMPULSE_TOPIC) in settings.consultation.topic_ids or len(draft(data)) == 1:
        return dialog.step_review()
    return dialog.impulse_topic_prompt()


async def after_topics(
    message: Message,
    state: FSMContext,
    settings: Settings,
    *,
    edit: bool = False,
    note: str | None = None,
) -> None:
    """Once the topics are chosen: an idea in the draft is kept (under any topic)."""
    data = await state.get_data()
    selected = draft(data)
    if not data.get(IMPULSE_TEXT):
        await ask_impulse(message, state, settings, edit=edit)
    elif data.get(IMPULSE_TOPIC) in settings.consultation.topic_ids:
        await show_review(message, state, settings, edit=edit, note=note)
    elif len(selected) == 1:
        await state.update_data({IMPULSE_TOPIC: selected[0]})
        await show_review(message, state, settings, edit=edit, note=note)
    else:
        await ask_impulse_topic(message, state, settings, selected, edit=edit, note=note)


async def ask_impulse_topic(
    message: Message,
    state: FSMContext,
    settings: Settings,
    selected: list[str],
    *,
    edit: bool = False,
    note: str | None = None,
) -> None:
    await state.set_state(Dialog.impulse_topic)
    if edit:
        await release(state, message.message_id)
    await present(
        message,
        with_note(note, dialog.impulse_topic_prompt()),
        keyboards.impulse_topics(settings.consultation, selected),
        edit=edit,
    )


def with_note(note: str | None, text: str) -> str:
    """A one-line confirmation above a step (e.g. "Gut, dann ohne eigene Idee.")."""
    return f"{note}\n\n{text}" if note else text


async def resume(
    message: Message, state: FSMContext, settings: Settings, *, edit: bool = False
) -> bool:
    """Show the current step again, e.g. in a new language (`edit`: in place of `message`, the
    bot's message whose button was pressed); False outside the dialog."""
    step = await state.get_state()
    selected = draft(await state.get_data())
    if step == Dialog.consent.state:
        await show_welcome(message, settings, edit=edit)
    elif step == Dialog.topics.state:
        await start_topics(message, state, settings, selected, edit=edit)
    elif step == Dialog.impulse_text.state:
        await ask_impulse(message, state, settings, edit=edit)
    elif step in (Dialog.impulse_topic.state, Dialog.similar.state):
        await ask_impulse_topic(message, state, settings, selected, edit=edit)
    elif step == Dialog.review.state:
        await show_review(message, state, settings, edit=edit)
    else:
        return False
    return True


async def show_review(
    message: Message,
    state: FSMContext,
    settings: Settings,
    *,
    edit: bool = False,
    note: str | None = None,
) -> None:
    await state.set_state(Dialog.review)
    if edit:
        await release(state, message.message_id)
    data = await state.get_data()
    text = dialog.review(
        settings.consultation,
        data.get(SELECTED, []),
        data.get(IMPULSE_TEXT),
        data.get(IMPULSE_TOPIC),
        earlier_ideas(data),
    )
    await present(message, with_note(note, text), keyboards.review(), edit=edit)


async def show_my_vote(
    message: Message,
    settings: Settings,
    participation: ParticipationService,
    citizen: Citizen,
) -> bool:
    """Show the stored vote set; False when the person has none yet."""
    vote = await participation.vote_set(citizen.pseudonym)
    if vote is None or not vote.topics:
        return False
    can_change = await participation.is_open()
    await message.answer(
        dialog.my_vote(settings, vote, can_change=can_change),
        reply_markup=keyboards.change_vote() if can_change else None,
    )
    return True


def new_draft_key() -> str:
    return uuid.uuid4().hex


def earlier_ideas(data: dict[str, Any]) -> list[str]:
    """Ideas stored with an earlier vote (changing it keeps them): their texts."""
    earlier = data.get(EARLIER_IDEAS)
    return [text for text in earlier if isinstance(text, str)] if isinstance(earlier, list) else []


def draft(data: dict[str, Any]) -> list[str]:
    selected = data.get(SELECTED, [])
    return list(selected) if isinstance(selected, list) else []
