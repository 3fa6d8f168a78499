"""What the chat keeps about one person, as the `Conversation` port of the data rights
(bot.domain.data_rights): the dialog's step and draft (aiogram's FSM, stored in the database by
storage/fsm.py), the language choice, and the rate limiter's and flood gate's buckets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram.fsm.context import FSMContext

from bot.telegram.language import LanguageChoice
from bot.telegram.throttling import FloodGate, RateLimiter


@dataclass(frozen=True)
class ChatConversation:
    state: FSMContext
    language: LanguageChoice
    rate_limiter: RateLimiter
    flood_gate: FloodGate
    user_id: int

    async def snapshot(self) -> dict[str, Any]:
        return {
            "step": await self.state.get_state(),
            "draft": await self.state.get_data(),
            "language": await self.language.get(),
        }

    async def forget(self) -> None:
        await self.state.clear()
        await self.language.forget()
        self.rate_limiter.forget(self.user_id)
        self.flood_gate.forget(self.user_id)
