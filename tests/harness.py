"""Drives the real bot through the Bot API emulator over HTTP, as citizens would."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiogram.utils.backoff import BackoffConfig

from bot.app.config import Settings, load_settings
from bot.app.runtime import Application
from bot.domain.clock import Clock, system_clock
from bot.emulator.server import BotApiEmulator, EmulatedUser
from bot.telegram.resilience import RetryPolicy

TOKEN = "4242:emulated-token-for-tests"
ROOT = Path(__file__).resolve().parent.parent
# The production policy's shape with waits in milliseconds: injected faults cost no time.
FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)
# Likewise for running a step again after the retries ran out (bot.telegram.pipeline).
FAST_RERUN = BackoffConfig(min_delay=0.01, max_delay=0.1, factor=2.0, jitter=0.005)


def fast_config(directory: Path, **database: float) -> Path:
    """config.example.toml with other [database] values (seconds), written to `directory`:
    for `dialogbot run` processes that must take over, time out or give up in seconds."""
    values = {"takeover_grace": 0.0, **database}
    lines = []
    for line in (ROOT / "config.example.toml").read_text().splitlines():
        key = line.split("=")[0].strip()
        if key in values:
            line = f"{key} = {values.pop(key)}"
        lines.append(line)
    assert not values, f"not in config.example.toml: {values}"
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# The Bot API session of the bots built by `make_settings` ([tuning] lean_session): "lean",
# or "stock" in the second run of a test marked `both_sessions` (tests/conftest.py).
SESSION_KINDS = ("lean", "stock")
_session_kind = "lean"


def use_session(kind: str) -> None:
    """From now on `make_settings` builds bots with this Bot API session."""
    global _session_kind
    assert kind in SESSION_KINDS, kind
    _session_kind = kind


def make_settings(base_url: str, database_url: str, **overrides: Any) -> Settings:
    env = {
        "DIALOGBOT_TOKEN": TOKEN,
        "DIALOGBOT_API_BASE": base_url,
        "DIALOGBOT_DATABASE_URL": database_url,
        "DIALOGBOT_SECRET": "test-secret-with-256-bits-0123456789abcdefghijk",
    }
    settings = load_settings(ROOT / "config.example.toml", env=env)
    # Tests tap faster than people; the rate limit has tests of its own (test_abuse.py).
    settings = settings.with_overrides(abuse=replace(settings.abuse, rate_burst=10_000))
    # Long polls of a second: a stop or a fault costs no time.
    settings = settings.with_overrides(poll_seconds=1)
    # A crashed instance's updates are taken over at once (tests/test_outage.py has the grace).
    settings = settings.with_overrides(database=replace(settings.database, takeover_grace=0))
    settings = settings.with_overrides(lean_session=_session_kind == "lean")
    return settings.with_overrides(**overrides) if overrides else settings


@dataclass
class RunningBot:
    """The real application, polling the emulator in this event loop."""

    settings: Settings
    clock: Clock = system_clock
    app: Application | None = None
    retry: RetryPolicy = FAST_RETRY
    rerun: BackoffConfig = FAST_RERUN
    metrics: Any = None  # a bot.telegram.metrics.Metrics (tests/test_metrics.py)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.app = Application.build(
            self.settings,
            clock=self.clock,
            retry=self.retry,
            rerun_backoff=self.rerun,
            metrics=self.metrics,
        )
        await self.app.start()
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        from bot.telegram.polling import poll

        assert self.app is not None
        await poll(
            self.app.bot,
            self.app.pipeline,
            self._stop,
            poll_seconds=self.settings.poll_seconds,
            request_timeout=self.settings.request_timeout,
            first_backoff=self.retry.base_delay,
            max_backoff=max(self.retry.max_delay, self.retry.base_delay * 2),
            db_backoff=self.rerun,
        )

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        if self.app is not None:
            await self.app.close()
        self.app, self._task = None, None

    async def crash(self) -> None:
        """Stop abruptly: polling and in-flight handlers are cancelled, nothing is finished."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.app is not None:
            for task in list(self.app.pipeline._tasks):
                task.cancel()
            await asyncio.gather(*self.app.pipeline._tasks, return_exceptions=True)
            await self.app.followup.abandon()  # an outcome message half sent stays so
            await self.app.pipeline.close()  # a dead process holds no liveness lock either
            await self.app.bot.session.close()
            await self.app.database.dispose()
        self.app, self._task = None, None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@dataclass
class Harness:
    emulator: BotApiEmulator
    bot: RunningBot

    async def settle(self) -> None:
        """Wait until every update sent so far has been fetched and fully handled."""
        await self.emulator.wait_fetched(timeout=10)
        assert self.bot.app is not None
        await asyncio.wait_for(self.bot.app.pipeline.wait_idle(), timeout=10)

    def citizen(self, user_id: int, **profile: Any) -> Citizen:
        return Citizen(self, self.emulator.user(user_id, **profile))

    @property
    def settings(self) -> Settings:
        return self.bot.settings


@dataclass
class Citizen:
    harness: Harness
    user: EmulatedUser

    async def send(self, text: str, *, reply_to: int | None = None) -> None:
        self.user.send_text(text, reply_to=reply_to)
        await self.harness.settle()

    async def press(self, button: str, **kwargs: Any) -> None:
        self.user.press(button, **kwargs)
        await self.harness.settle()

    async def do(self, action: Any) -> None:
        """Any other emulated action (sticker, photo, forged data, ...), then settle."""
        action()
        await self.harness.settle()

    @property
    def last_text(self) -> str:
        return self.user.last_message.text

    def buttons(self) -> list[str]:
        return self.user.last_message.button_texts

    async def take_part(
        self,
        topics: list[str],
        impulse: str | None = None,
        impulse_topic: str | None = None,
        source: str | None = None,
    ) -> None:
        """The whole dialog, the way a citizen taps through it."""
        await self.send(f"/start {source}" if source else "/start")
        await self.press("Mitmachen")
        for title in topics:
            await self.press(title)
        await self.press("Weiter")
        if impulse is None:
            await self.press("Überspringen")
        else:
            await self.send(impulse)
            if len(topics) > 1:
                await self.press(impulse_topic or topics[0])
        await self.press("Absenden")
