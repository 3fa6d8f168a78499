"""A citizen who blocked the bot is marked unreachable and not written to; when they write
again, they are reachable again. Handled centrally, for every message the bot sends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.domain.pseudonym import pseudonym_for
from bot.emulator.server import BotApiEmulator
from storage.models import Participant, ReplyAddress
from tests.harness import Citizen, Harness, RunningBot, make_settings

MODERATOR = 900_043
IDEA = "Mehr sichere Radwege entlang der Emscher zwischen Dortmund und Duisburg"


@pytest.fixture
async def mod(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Harness]:
    emulator.user(MODERATOR, first_name="Moderation")
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset({MODERATOR}))
    bot = RunningBot(settings)
    await bot.start()
    try:
        yield Harness(emulator, bot)
    finally:
        await bot.stop()


async def reachable(h: Harness, user_id: int) -> bool | None:
    assert h.bot.app is not None
    async with h.bot.app.database.reading() as session:
        return await session.scalar(
            select(ReplyAddress.reachable)
            .join(Participant, Participant.id == ReplyAddress.participant_id)
            .where(Participant.pseudonym == pseudonym_for(user_id, h.settings.secret))
        )


def sent_to(h: Harness, chat_id: int) -> list[int]:
    """Statuses of every sendMessage the bot tried in this chat."""
    return [c.status for c in h.emulator.calls_to("sendMessage") if c.chat_id == chat_id]


async def decide(h: Harness, button: str) -> None:
    moderator = h.citizen(MODERATOR)
    card = next(m for m in reversed(moderator.user.messages) if "Impuls #1" in m.text)
    await moderator.press(button, message_id=card.message_id)


async def author_with_idea(h: Harness, user_id: int) -> Citizen:
    author = h.citizen(user_id)
    await author.take_part(["Mobilität & ÖPNV"], impulse=IDEA)
    assert await reachable(h, user_id) is True
    return author


async def test_blocking_the_bot_stops_notifications_and_writing_again_restores_them(
    mod: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    author = await author_with_idea(mod, 7101)
    tried = len(sent_to(mod, 7101))
    with caplog.at_level(logging.INFO):
        await author.do(author.user.block_bot)
        assert await reachable(mod, 7101) is False
        await decide(mod, "Freigeben")
    assert len(sent_to(mod, 7101)) == tried  # not even attempted
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    await author.do(author.user.unblock_bot)
    assert await reachable(mod, 7101) is True
    await decide(mod, "Zurückziehen")
    await decide(mod, "passt nicht zum Thema")
    await decide(mod, "Ja, zurückziehen")
    assert "„Mehr sichere Radwege" in author.last_text and sent_to(mod, 7101)[-1] == 200


async def test_a_403_on_a_notification_marks_the_author_and_the_next_is_not_attempted(
    mod: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await author_with_idea(mod, 7102)
    # Telegram refuses without a my_chat_member update first (e.g. a deleted account).
    mod.emulator.inject_fault("sendMessage", status=403)
    with caplog.at_level(logging.INFO):
        await decide(mod, "Freigeben")
        assert sent_to(mod, 7102)[-1] == 403  # the one try: 403 is never retried
        assert await reachable(mod, 7102) is False
        tried = len(sent_to(mod, 7102))
        await decide(mod, "Zurückziehen")
        await decide(mod, "passt nicht zum Thema")
        await decide(mod, "Ja, zurückziehen")
    assert len(sent_to(mod, 7102)) == tried
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_403_on_any_reply_is_handled_centrally_and_a_new_message_undoes_it(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    citizen = await author_with_idea(harness, 7103)
    harness.emulator.inject_fault("sendMessage", status=403)
    with caplog.at_level(logging.INFO):
        await citizen.send("/hilfe")
    assert sent_to(harness, 7103)[-1] == 403
    assert await reachable(harness, 7103) is False
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    await citizen.send("/hilfe")  # they unblocked the bot and just write again
    assert sent_to(harness, 7103)[-1] == 200 and "Hilfe" in citizen.last_text
    assert await reachable(harness, 7103) is True
