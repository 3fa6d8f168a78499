"""`dialogbot run --metrics`: /healthz, /readyz and /metrics of the real bot, through the
emulator; `--log-format json` with the update id on the lines about an update."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from bot.app.observability import MetricsServer
from bot.domain.pseudonym import pseudonym_for
from bot.emulator.server import BotApiEmulator, Fault
from bot.telegram.metrics import Metrics
from storage.db import Database
from storage.models import InboxUpdate
from tests.harness import ROOT, TOKEN, Harness, RunningBot, make_settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Observed:
    harness: Harness
    server: MetricsServer
    metrics: Metrics
    clock: FakeClock

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def get(self, path: str) -> tuple[int, str]:
        async with ClientSession() as session, session.get(self.base + path) as answer:
            return answer.status, await answer.text()

    async def samples(self) -> tuple[Samples, str]:
        status, text = await self.get("/metrics")
        assert status == 200
        found: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found, text


@pytest.fixture
async def observed(emulator: BotApiEmulator, database_url: str) -> AsyncIterator[Observed]:
    emulator.add_channel("@ruhr_dialog")
    clock = FakeClock()
    metrics = Metrics(clock=clock)
    bot = RunningBot(make_settings(emulator.base_url, database_url), metrics=metrics)
    await bot.start()
    assert bot.app is not None
    server = MetricsServer(bot.app, metrics, backlog_seconds=300)
    await server.start("127.0.0.1", 0)
    try:
        yield Observed(Harness(emulator, bot), server, metrics, clock)
    finally:
        await server.stop()
        await bot.stop()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_health_and_readiness(observed: Observed) -> None:
    assert await observed.get("/healthz") == (200, "ok\n")
    status, body = await observed.get("/readyz")
    assert status == 200, body
    report = json.loads(body)
    assert report["ready"] is True
    assert report["checks"]["database"] == "answers"


async def test_the_metrics_count_updates_calls_and_the_databases_figures(
    observed: Observed,
) -> None:
    user_id = 8_100_000_001
    citizen = observed.harness.citizen(user_id)
    await citizen.take_part(["Mobilität & ÖPNV"], impulse="Mehr Trinkbrunnen in der Innenstadt")
    samples, text = await observed.samples()
    assert value(samples, "dialogbot_updates_received_total", kind="message") >= 2
    assert value(samples, "dialogbot_updates_received_total", kind="callback_query") >= 3
    assert value(samples, "dialogbot_updates_handled_total", kind="message", result="ok") >= 2
    handled = value(samples, "dialogbot_update_handling_seconds_count", kind="callback_query")
    assert handled == value(samples, "dialogbot_updates_received_total", kind="callback_query")
    assert value(samples, "dialogbot_bot_api_calls_total", method="sendMessage", outcome="ok") > 0
    assert value(samples, "dialogbot_bot_api_calls_total", method="getUpdates", outcome="ok") > 0
    assert value(samples, "dialogbot_participants", status="active") == 1
    assert value(samples, "dialogbot_review_cards_pending") == 1
    assert value(samples, "dialogbot_inbox_backlog") == 0
    assert value(samples, "dialogbot_inbox_oldest_age_seconds") == 0
    assert value(samples, "dialogbot_digests", state="pending") == 0
    # No label carries the person's id or pseudonym.
    secret = observed.harness.settings.secret
    assert str(user_id) not in text
    assert pseudonym_for(user_id, secret) not in text


async def test_429s_retries_and_failures_by_class(observed: Observed) -> None:
    emulator = observed.harness.emulator
    citizen = observed.harness.citizen(8_100_000_002)
    emulator.inject_fault("sendMessage", status=429, retry_after=1)
    await citizen.send("/start")
    samples, _ = await observed.samples()
    assert value(samples, "dialogbot_bot_api_429_total", method="sendMessage") == 1
    assert value(samples, "dialogbot_bot_api_calls_total", method="sendMessage", outcome="retried")
    assert value(samples, "dialogbot_bot_api_retry_wait_seconds_count", reason="flood") == 1
    emulator.faults.schedule("sendMessage", Fault.blocked())
    await citizen.send("/hilfe")
    samples, _ = await observed.samples()
    failed = ("dialogbot_bot_api_calls_total", "sendMessage", "failed_person_gone")
    assert value(samples, failed[0], method=failed[1], outcome=failed[2]) == 1


async def test_a_quiet_night_is_still_ready(observed: Observed) -> None:
    emulator = observed.harness.emulator
    observed.clock.now += 10_000  # no Bot API call went through for hours
    before = len(emulator.calls_to("getMe"))
    status, body = await observed.get("/readyz")
    assert status == 200, body
    assert len(emulator.calls_to("getMe")) == before + 1  # the probe asked itself


async def test_not_ready_when_the_bot_api_is_away(observed: Observed) -> None:
    emulator = observed.harness.emulator
    observed.clock.now += 10_000
    emulator.inject_fault("getMe", status=502, times=10)
    status, body = await observed.get("/readyz")
    assert status == 503
    assert "getMe" in json.loads(body)["checks"]["bot_api"]


async def test_not_ready_with_an_old_inbox_backlog(observed: Observed, database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write_engine.begin() as connection:
            await connection.execute(
                insert(InboxUpdate).values(
                    update_id=999_999,
                    status="pending",
                    received_at=datetime.now(UTC) - timedelta(minutes=10),
                    ordering_key=1,
                )
            )
    finally:
        await database.dispose()
    status, body = await observed.get("/readyz")
    assert status == 503
    assert "the oldest for" in json.loads(body)["checks"]["inbox"]
    samples, _ = await observed.samples()
    assert value(samples, "dialogbot_inbox_backlog") == 1
    assert value(samples, "dialogbot_inbox_oldest_age_seconds") >= 600


async def test_not_ready_when_the_database_does_not_answer(observed: Observed) -> None:
    app = observed.harness.bot.app
    assert app is not None
    working = app.database
    app.database = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none", connect_timeout=1)
    try:
        status, body = await observed.get("/readyz")
    finally:
        await app.database.dispose()
        app.database = working
    assert status == 503
    assert "does not answer" in json.loads(body)["checks"]["database"]


@pytest.mark.slow
async def test_the_run_command_serves_metrics_and_logs_json_with_update_ids(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "bot.log"
    env = {
        **os.environ,
        "DIALOGBOT_TOKEN": TOKEN,
        "DIALOGBOT_API_BASE": emulator.base_url,
        "DIALOGBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
        "DIALOGBOT_SECRET": "metrics-test-secret-with-256-bits-0123456789ab",
    }
    args = ["run", "--metrics", f"127.0.0.1:{port}", "--log-format", "json"]
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            *args,
            "--config",
            str(ROOT / "config.example.toml"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )
        try:
            await emulator.wait_for(lambda: emulator.calls_to("getUpdates"), timeout=60)
            user = emulator.user(8_100_000_003)
            emulator.inject_fault("sendMessage", status=500)  # a retry logs a warning
            update_id = user.send_text("/start")
            await emulator.wait_for(lambda: "Datenschutz" in user.last_text, timeout=30)
            async with ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    assert answer.status == 200
                async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    text = await answer.text()
            assert 'dialogbot_updates_received_total{kind="message"} 1.0' in text
        finally:
            process.terminate()
            await process.wait()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    retry = [e for e in lines if "sendMessage failed" in e["message"]]
    assert retry and retry[0]["update_id"] == update_id
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in lines)
