"""Twenty citizens walk the whole dialog while the Bot API misbehaves at random.

A seeded random schedule (bot/emulator/server.py, `FaultPlan.at_random`) answers at least one in ten
Bot API calls of every method, getUpdates included, with a transient fault (a proxy's HTML
error page, a cut-off answer, an answer slower than the client waits, a connection dropped
before or after the call was executed, a JSON 5xx, 429), a harmless one ("message is not
modified" after the edit was applied) or a recoverable one (the message to edit is gone or can
no longer be edited, the button press is too old to answer). Every citizen finishes; the
export holds each confirmed answer exactly once; the bot is still running at the end. The seed
is in every failure message: `CHAOS_SEED=<seed>` repeats that run.

`make test` runs it in polling mode on each database; with CI=true it runs in webhook mode too.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.app.config import Settings
from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator, EmulatedUser, Fault
from bot.ops.export import snapshot
from bot.telegram.webhook import WebhookOptions, serve_webhook
from tests.dialog_steps import TOPICS
from tests.harness import RunningBot, make_settings
from tests.test_scaling import SECRET, free_port

pytestmark = pytest.mark.slow

CITIZENS = 20
RATE = 0.15  # each call's chance of a fault; at least every tenth call of a method gets one
EVERY = 10
REQUEST_TIMEOUT = 1.0  # seconds; a "slow" answer comes later than that
POLL_SECONDS = 1
MODES = (
    ["polling", "webhook"]
    if os.environ.get("CI", "").lower() in ("1", "true", "yes")
    else ["polling"]
)


def fault_pool() -> dict[str, list[Fault]]:
    """What each method may get: transient faults for all, and the harmless and recoverable
    answers of the methods Telegram gives them for."""
    transient = [
        Fault.html_page(502),
        Fault.html_page(504),
        Fault.cut_off(),
        Fault.cut_off(execute=False),
        Fault.dropped(),  # after the call went through: the bot may send it twice
        Fault.dropped(execute=False),
        Fault.error(500),
        Fault.error(502),
        Fault.error(429, retry_after=1),
        Fault.slow(REQUEST_TIMEOUT + 0.5),
    ]
    late_poll = Fault.slow(POLL_SECONDS + REQUEST_TIMEOUT + 0.5)
    edits = [Fault.not_modified(), Fault.edit_gone(), Fault.cannot_edit()]
    return {
        "*": transient,
        # getUpdates waits up to POLL_SECONDS itself: a slow answer must come later still.
        "getUpdates": [late_poll],
        "editMessageText": edits,
        "editMessageReplyMarkup": edits,
        "answerCallbackQuery": [Fault.query_too_old()],
    }


@dataclass
class Running:
    app: Callable[[], Application]
    alive: Callable[[], bool]


@asynccontextmanager
async def running_bot(
    mode: str, emulator: BotApiEmulator, settings: Settings
) -> AsyncIterator[Running]:
    if mode == "polling":
        bot = RunningBot(settings)
        await bot.start()

        def polling_app() -> Application:
            assert bot.app is not None
            return bot.app

        try:
            yield Running(polling_app, lambda: bot._task is not None and not bot._task.done())
        finally:
            await bot.stop()
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    app = Application.build(settings.with_overrides(webhook_secret=SECRET))
    stop = asyncio.Event()
    options = WebhookOptions.parse(url, f"127.0.0.1:{port}", SECRET)
    serving = asyncio.create_task(serve_webhook(app, options, stop))
    try:
        await emulator.wait_for(lambda: emulator.webhook_url == url or serving.done(), 20)
        if serving.done():
            serving.result()
        yield Running(lambda: app, lambda: not serving.done())
    finally:
        stop.set()
        await serving
        await app.close()


async def walk(emulator: BotApiEmulator, user: EmulatedUser, n: int, seed: int) -> None:
    """Consent, a topic, an idea, submit: each step waits for its answer in any message (a
    message may come twice, and an edit of a gone message comes as a new one). Steps are
    edited in place, so a copy sent twice (a second welcome) can be newer than the step
    itself: each press goes to the newest message showing the step, as a person presses the
    buttons of the step they read."""

    def shows(text: str) -> Callable[[], bool]:
        return lambda: any(text in m.text for m in user.messages)

    steps: list[tuple[Callable[[int], object], str]] = [
        (lambda _: user.send_text("/start"), "Datenschutz"),
        (lambda at: user.press("Mitmachen", message_id=at), "Gewählt: 0 von 3"),
        (lambda at: user.press(TOPICS[n % len(TOPICS)], message_id=at), "Gewählt: 1 von 3"),
        (lambda at: user.press("Weiter", message_id=at), "Schritt 2 von 3"),
        (lambda _: user.send_text(idea(user)), "Schritt 3"),
        (lambda at: user.press("Absenden", message_id=at), "Danke!"),
    ]
    shown = 0
    for action, expected in steps:
        action(shown)
        try:
            await emulator.wait_for(shows(expected), timeout=45)
        except TimeoutError as exc:
            seen = [m.text[-50:] for m in user.messages[-3:]]
            raise AssertionError(
                f"seed {seed}: citizen {user.id} waits for {expected!r}; last seen: {seen}"
            ) from exc
        shown = [m.message_id for m in user.messages if expected in m.text][-1]


def idea(user: EmulatedUser) -> str:
    return f"Idee von Person {user.id}: mehr Trinkbrunnen in der Innenstadt"


@pytest.mark.parametrize("mode", MODES)
async def test_twenty_citizens_finish_while_the_bot_api_misbehaves(
    mode: str, emulator: BotApiEmulator, database_url: str
) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1_000_000))
    settings = make_settings(
        emulator.base_url,
        database_url,
        request_timeout=REQUEST_TIMEOUT,
        poll_seconds=POLL_SECONDS,
    )
    citizens = [emulator.user(70_000 + i) for i in range(CITIZENS)]
    # From the start on: the command menus and setWebhook get their faults too.
    # One of each transient, harmless and recoverable kind for sure (a dialog of few calls
    # may not draw each at random), then the random schedule.
    emulator.faults.schedule(
        "sendMessage",
        Fault.html_page(502),
        Fault.cut_off(),
        Fault.dropped(),
        Fault.slow(REQUEST_TIMEOUT + 0.5),
    )
    emulator.faults.schedule("editMessageText", Fault.not_modified(), Fault.edit_gone())
    emulator.faults.schedule("editMessageReplyMarkup", Fault.cannot_edit())
    emulator.faults.schedule("answerCallbackQuery", Fault.query_too_old())
    emulator.faults.at_random(seed, rate=RATE, pool=fault_pool(), at_least_every=EVERY)
    async with running_bot(mode, emulator, settings) as bot:
        walking = asyncio.gather(*(walk(emulator, u, n, seed) for n, u in enumerate(citizens)))
        try:
            await asyncio.wait_for(walking, timeout=55)
        except TimeoutError:
            raise AssertionError(f"seed {seed}: the citizens did not finish in time") from None
        emulator.faults.calm()
        assert bot.alive(), f"seed {seed}: the bot stopped"
        calls = list(emulator.api_calls)
        data = await snapshot(settings, bot.app().database, datetime.now(UTC))

    # Every method the walk used got its share of faults, at least one call in ten.
    made = Counter(c.method for c in calls if c.source == "http")
    hit = Counter(c.method for c in calls if c.source == "http" and c.fault is not None)
    if mode == "polling":
        assert made["getUpdates"] > 0, f"seed {seed}"
    for method, count in made.items():
        assert hit[method] >= count // EVERY, f"seed {seed}: {method} {hit[method]}/{count}"
    kinds = {label for _, label in emulator.faults.injected}
    transient = {"html 502", "cut off", "dropped after", "slow"}
    harmless_and_recoverable = {"not modified", "edit gone", "cannot edit", "query too old"}
    assert transient | harmless_and_recoverable <= kinds, f"seed {seed}: {sorted(kinds)}"

    # Each confirmed answer exactly once, nothing else.
    ideas = sorted(i["text"] for i in data["impulses"])
    assert ideas == sorted(idea(u) for u in citizens), f"seed {seed}"
    assert data["participants"] == CITIZENS, f"seed {seed}"
    votes = {t["title"]: t["votes"] for t in data["topics"] if t["votes"]}
    expected = Counter(TOPICS[n % len(TOPICS)] for n in range(CITIZENS))
    assert votes == dict(expected), f"seed {seed}"
    for user in citizens:
        assert not [m for m in user.messages if "schiefgegangen" in m.text], (
            f"seed {seed}: {user.id} got an apology"
        )
