"""Beyond one machine: webhook mode, and several instances on one PostgreSQL database.

The several-instances tests start real `dialogbot run --webhook` processes behind a small
round-robin proxy, so consecutive updates of one citizen land on different instances; with
Redis they share one rate limit per citizen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientError, ClientSession, web
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator, EmulatedUser
from bot.telegram.shared_limits import bucket_key
from bot.telegram.webhook import SECRET_HEADER, WebhookOptions, serve_webhook, webhook_routes
from storage.db import Database
from storage.models import InboxUpdate, Participant, Vote
from tests.digest_support import CHANNEL, MAY_18_1800, FakeClock, seed
from tests.harness import ROOT, TOKEN, make_settings

SECRET = "webhook-test-secret_0123"
TOPICS = ["Mobilität & ÖPNV", "Sport & Events", "Kunst & Kreativität"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shows(user: EmulatedUser, text: str) -> Callable[[], bool]:
    return lambda: bool(user.messages) and text in user.last_message.text


def needs_postgres(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several instances share a PostgreSQL database, not a SQLite file")


@asynccontextmanager
async def webhook_bot(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[str]:
    """The application in webhook mode in this process; yields the webhook URL."""
    settings = make_settings(emulator.base_url, database_url, webhook_secret=SECRET)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    app = Application.build(settings)
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve_webhook(app, WebhookOptions.parse(url, f"127.0.0.1:{port}", SECRET), stop)
    )
    try:
        await emulator.wait_for(lambda: emulator.webhook_url == url or serving.done(), 20)
        if serving.done():
            serving.result()
        yield url
    finally:
        stop.set()
        await serving
        await app.close()


async def inbox_size(database_url: str) -> int:
    database = Database(database_url)
    try:
        async with database.reading() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxUpdate)) or 0)
    finally:
        await database.dispose()


async def test_the_webhook_refuses_calls_without_the_secret(
    emulator: BotApiEmulator, database_url: str
) -> None:
    async with webhook_bot(emulator, database_url) as url:
        assert emulator.calls_to("setWebhook")[-1].params["secret_token"] == SECRET
        body = {
            "update_id": 777,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 4321, "type": "private", "first_name": "Eve"},
                "from": {"id": 4321, "is_bot": False, "first_name": "Eve"},
                "text": "/start",
            },
        }
        sent_before = len(emulator.api_calls)
        async with ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}):
                async with http.post(url, json=body, headers=headers) as response:
                    assert response.status == 401
            assert await inbox_size(database_url) == 0
            assert len(emulator.api_calls) == sent_before  # nothing was answered
            async with http.post(url, json=body, headers={SECRET_HEADER: SECRET}) as response:
                assert response.status == 200
        # Answered 200 only once recorded: the inbox holds it already.
        assert await inbox_size(database_url) == 1


async def test_a_whole_dialog_over_the_webhook(emulator: BotApiEmulator, database_url: str) -> None:
    anna = emulator.user(8_000_000_001)
    async with webhook_bot(emulator, database_url):
        anna.send_text("/start")
        await emulator.wait_for(shows(anna, "Datenschutz"), 10)
        anna.press("Mitmachen")
        await emulator.wait_for(shows(anna, "Gewählt: 0 von 3"), 10)
        for title in TOPICS[:2]:
            anna.press(title)
        await emulator.wait_for(shows(anna, "Gewählt: 2 von 3"), 10)
        anna.press("Weiter")
        await emulator.wait_for(shows(anna, "Schritt 2 von 3"), 10)
        anna.press("Überspringen")
        await emulator.wait_for(shows(anna, "Schritt 3 von 3"), 10)
        anna.press("Absenden")
        await emulator.wait_for(shows(anna, "Danke!"), 10)
    assert emulator.pending_updates == 0


# --------------------------------------------------------------------------- several instances


Delivered = dict[int, Counter[str]]  # user id -> how many of their updates each target took


def sender(body: bytes) -> int | None:
    update = json.loads(body)
    event = next((v for v in update.values() if isinstance(v, dict) and "from" in v), None)
    return None if event is None else int(event["from"]["id"])


@asynccontextmanager
async def round_robin(targets: list[str], delivered: Delivered | None = None) -> AsyncIterator[str]:
    """A load balancer in miniature: each call goes to the next target, its answer back."""
    turn = 0

    async def forward(request: web.Request) -> web.Response:
        nonlocal turn
        target = targets[turn % len(targets)]
        turn += 1
        headers = {SECRET_HEADER: request.headers.get(SECRET_HEADER, "")}
        body = await request.read()
        try:
            async with http.post(target, data=body, headers=headers) as answer:
                if answer.status == 200 and delivered is not None:
                    delivered.setdefault(sender(body) or 0, Counter())[target] += 1
                return web.Response(status=answer.status, body=await answer.read())
        except (ClientError, OSError):
            return web.Response(status=502)  # that instance is not up (yet): Telegram retries

    port = free_port()
    server = web.Application()
    server.router.add_post("/hook", forward)
    runner = web.AppRunner(server, access_log=None)
    async with ClientSession() as http:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            await runner.cleanup()


@asynccontextmanager
async def instances(
    emulator: BotApiEmulator,
    database_url: str,
    count: int,
    log: Path,
    *,
    config: Path = ROOT / "config.example.toml",
    env: dict[str, str] | None = None,
    delivered: Delivered | None = None,
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    ports = [free_port() for _ in range(count)]
    async with round_robin([f"http://127.0.0.1:{p}/hook" for p in ports], delivered) as public:
        env = {
            **os.environ,
            "DIALOGBOT_TOKEN": TOKEN,
            "DIALOGBOT_API_BASE": emulator.base_url,
            "DIALOGBOT_DATABASE_URL": database_url,
            "DIALOGBOT_SECRET": "process-test-secret-with-256-bits-0123456789ab",
            "DIALOGBOT_WEBHOOK_SECRET": SECRET,
            **(env or {}),
        }
        processes = []
        with log.open("ab") as sink:
            for port in ports:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot.app.cli",
                        "run",
                        "--config",
                        str(config),
                        "--webhook",
                        public,
                        "--listen",
                        f"127.0.0.1:{port}",
                        env=env,
                        cwd=ROOT,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=sink,
                    )
                )
        try:
            yield processes
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
            for process in processes:
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@pytest.mark.slow
async def test_three_instances_keep_each_citizens_order_and_answer_once(
    emulator: BotApiEmulator, database_url: str, tmp_path: Path
) -> None:
    """Six citizens tap three topics in quick succession (no waiting in between), so their
    taps land on three different instances. Each instance must wait for the earlier tap of
    the same citizen, or a selection would be lost or a keyboard edited out of order."""
    needs_postgres(database_url)
    citizens = [emulator.user(8_100_000_000 + n) for n in range(6)]
    log = tmp_path / "instances.log"

    async def walk(user: EmulatedUser) -> None:
        wait = 60
        user.send_text("/start")
        await emulator.wait_for(shows(user, "Datenschutz"), wait)
        user.press("Mitmachen")
        await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), wait)
        keyboard = user.last_message.message_id
        for title in TOPICS:  # all three at once, on the same keyboard
            user.press(title, message_id=keyboard)
        await emulator.wait_for(shows(user, "Gewählt: 3 von 3"), wait)
        user.press("Weiter")
        await emulator.wait_for(shows(user, "Schritt 2 von 3"), wait)
        user.press("Überspringen")
        await emulator.wait_for(shows(user, "Schritt 3 von 3"), wait)
        user.press("Absenden")
        await emulator.wait_for(shows(user, "Danke!"), wait)

    async with instances(emulator, database_url, 3, log):
        try:
            await asyncio.wait_for(asyncio.gather(*(walk(u) for u in citizens)), 120)
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- log:\n{log.read_text()[-4000:]}") from exc

    for user in citizens:
        calls = [c for c in emulator.api_calls if c.chat_id == user.id]
        edits = [
            c.params["text"].split("Gewählt: ")[1][:1]
            for c in calls
            if c.method == "editMessageText" and "Gewählt: " in c.params.get("text", "")
        ]
        assert edits == ["1", "2", "3"], f"{user.id}: keyboard edits out of order: {edits}"
        sent = Counter(c.method for c in calls)
        assert sent["sendMessage"] == 4, f"{user.id}: {sent}"  # welcome, topics, impulse, review
        answered = [a.query_id for a in user.callback_answers]
        assert len(answered) == len(set(answered)) == 7, f"{user.id}: {answered}"
        assert all(c.status == 200 for c in calls), f"{user.id}: {[c.status for c in calls]}"

    database = Database(database_url)
    try:
        async with database.reading() as session:
            people = await session.scalar(select(func.count()).select_from(Participant))
            votes = await session.scalar(select(func.count()).select_from(Vote))
            pending = await session.scalar(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status != "done")
            )
    finally:
        await database.dispose()
    assert (people, votes, pending) == (6, 18, 0)


async def test_two_instances_post_a_due_digest_once(
    emulator: BotApiEmulator, database_url: str
) -> None:
    needs_postgres(database_url)
    emulator.add_channel(CHANNEL)
    settings = make_settings(emulator.base_url, database_url)
    clock = FakeClock(MAY_18_1800 + timedelta(minutes=1))
    apps = [Application.build(settings, clock=clock) for _ in range(2)]
    try:
        for app in apps:
            await app.start()
        await seed(apps[0].database, ["bildung", "mobilitaet"], at=MAY_18_1800 - timedelta(hours=2))
        await asyncio.gather(*(app.scheduler.tick(clock.now) for app in apps))
        await asyncio.gather(*(app.scheduler.tick(clock.now) for app in apps))  # and again
    finally:
        for app in apps:
            await app.close()
    posts = emulator.chat_messages(CHANNEL)
    assert len([p for p in posts if p.photo is not None]) == 1, [p.text[:40] for p in posts]


@pytest.mark.slow
async def test_three_instances_share_one_rate_limit_per_citizen(
    emulator: BotApiEmulator, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """One citizen floods; the balancer spreads the flood over three instances. With Redis the
    instances share the citizen's bucket: the flood gets the configured burst (plus what refills
    meanwhile) and one notice in total, not a burst and a notice per instance. Two other
    citizens go through the dialog at the same time, unhindered."""
    needs_postgres(database_url)
    burst, per_minute, flood = 8, 2, 30
    config = tmp_path / "config.toml"
    example = (ROOT / "config.example.toml").read_text()
    abuse = "rate_per_minute = 40\nrate_burst = 20\n"
    assert abuse in example
    config.write_text(
        example.replace(abuse, f"rate_per_minute = {per_minute}\nrate_burst = {burst}\n")
    )
    secret = f"process-test-{uuid.uuid4().hex}"  # bucket keys of this test's own
    env = {"DIALOGBOT_REDIS_URL": redis_url, "DIALOGBOT_SECRET": secret}
    flooder = emulator.user(8_200_000_001)
    others = [emulator.user(8_200_000_002 + n) for n in range(2)]
    delivered: Delivered = {}
    log = tmp_path / "instances.log"

    async def walk(user: EmulatedUser) -> None:
        user.send_text("/start")
        await emulator.wait_for(shows(user, "Datenschutz"), 60)
        user.press("Mitmachen")
        await emulator.wait_for(shows(user, "Gewählt: 0 von 3"), 60)
        for title in TOPICS[:2]:
            user.press(title)
            await asyncio.sleep(0.05)
        await emulator.wait_for(shows(user, "Gewählt: 2 von 3"), 60)

    async def handled_everything() -> bool:
        if emulator.pending_updates:
            return False
        database = Database(database_url)
        try:
            async with database.reading() as session:
                open_updates = await session.scalar(
                    select(func.count())
                    .select_from(InboxUpdate)
                    .where(InboxUpdate.status == "pending")
                )
        finally:
            await database.dispose()
        return open_updates == 0

    async with instances(
        emulator, database_url, 3, log, config=config, env=env, delivered=delivered
    ):
        try:
            # All three listen (each registers the webhook once it does): the flood is spread.
            await emulator.wait_for(lambda: len(emulator.calls_to("setWebhook")) >= 3, 60)
            started = time.monotonic()
            for _ in range(flood):
                flooder.send_text("/hilfe")
            await asyncio.wait_for(asyncio.gather(*(walk(u) for u in others)), 90)
            async with asyncio.timeout(90):
                while not await handled_everything():
                    await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- log:\n{log.read_text()[-4000:]}") from exc

    spread = delivered.get(flooder.id, Counter())
    assert sum(spread.values()) == flood
    assert len(spread) == 3 and min(spread.values()) >= flood // 3 - 2, spread
    texts = [m.text for m in flooder.messages]
    notices = [t for t in texts if "langsamer" in t]
    answered = [t for t in texts if "langsamer" not in t]
    assert all("Hilfe" in t for t in answered), answered[:3]
    # The configured rate in total: the burst, plus a token per 30 s of the test at most.
    # Each instance on its own would have answered up to `burst` each: all thirty.
    refilled = int(elapsed * per_minute / 60)
    assert burst <= len(answered) <= burst + refilled, (len(answered), elapsed, spread)
    # One notice for the flood; another only after a refilled token started a new one.
    assert 1 <= len(notices) <= 1 + len(answered) - burst, (len(notices), len(answered))
    for user in others:
        assert "Gewählt: 2 von 3" in user.last_message.text
        assert not any("langsamer" in m.text for m in user.messages)
        assert not any("langsamer" in (a.text or "") for a in user.callback_answers)

    # The buckets are in Redis, under keyed hashes; the test removes them (they would expire).
    keys = [bucket_key(user.id, secret) for user in (flooder, *others)]
    client = Redis.from_url(redis_url)
    try:
        assert await client.exists(*keys) == 3
        await client.delete(*keys)
    finally:
        await client.aclose()


async def test_the_webhook_survives_deep_json_and_warns_once_about_many_wrong_secrets(
    emulator: BotApiEmulator, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with webhook_bot(emulator, database_url) as url:
        deep = b"[" * 100_000 + b"]" * 100_000
        with caplog.at_level(logging.WARNING, logger="bot.telegram.webhook"):
            async with ClientSession() as http:
                for _ in range(2):
                    async with http.post(
                        url, data=deep, headers={SECRET_HEADER: SECRET}
                    ) as response:
                        assert response.status == 400  # no update; not a 500
                for _ in range(50):
                    async with http.post(url, json={}, headers={SECRET_HEADER: "x"}) as response:
                        assert response.status == 401
        warnings = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.webhook"]
        assert len([w for w in warnings if "right secret" in w]) == 1
        assert len([w for w in warnings if "no update" in w]) == 1


async def test_the_webhook_takes_no_more_updates_than_the_bound_allows(
    emulator: BotApiEmulator, database_url: str
) -> None:
    bound = 2
    settings = make_settings(
        emulator.base_url, database_url, webhook_secret=SECRET, updates_in_flight=bound
    )
    app = Application.build(settings)
    await app.start()
    running: list[int] = []
    release = asyncio.Event()

    async def hold(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        """Every update waits here until the test lets them finish."""
        running.append(event.update_id)
        await release.wait()
        return await handler(event, data)

    app.dispatcher.update.outer_middleware(hold)
    # No waiting for room in this test: a call that finds none is answered at once.
    runner = web.AppRunner(webhook_routes(app, "/hook", SECRET, room_wait=0))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    for update_id in (1, 2, 3):
        emulator.user(5600 + update_id)  # a private chat the answers can go to

    def body(update_id: int) -> dict[str, Any]:
        person = {"id": 5600 + update_id, "is_bot": False, "first_name": "Eva"}
        chat = {"id": 5600 + update_id, "type": "private", "first_name": "Eva"}
        message = {"message_id": 1, "date": 0, "chat": chat, "from": person, "text": "/hilfe"}
        return {"update_id": update_id, "message": message}

    try:
        async with ClientSession() as http:

            async def post(update_id: int) -> tuple[int, str | None]:
                async with http.post(
                    f"http://127.0.0.1:{port}/hook",
                    json=body(update_id),
                    headers={SECRET_HEADER: SECRET},
                ) as response:
                    return response.status, response.headers.get("Retry-After")

            assert await post(1) == (200, None)
            assert await post(2) == (200, None)
            for _ in range(2000):  # a deadline only, so that a failure does not hang
                if len(running) == bound:
                    break
                await asyncio.sleep(0.005)
            assert len(running) == bound
            # Two received and not handled: the third finds no room and is not recorded;
            # Telegram sends it again.
            status, retry_after = await post(3)
            assert status == 503 and retry_after is not None
            assert await inbox_size(database_url) == bound
            release.set()
            await asyncio.wait_for(app.pipeline.wait_idle(), 10)
            assert await post(3) == (200, None)  # the repeat, once there is room
            await asyncio.wait_for(app.pipeline.wait_idle(), 10)
        assert sorted(running) == [1, 2, 3]
    finally:
        release.set()
        await runner.cleanup()
        await app.close()
