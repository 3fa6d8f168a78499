"""Rate limits shared by several instances: the token bucket in Redis
(bot/telegram/shared_limits.py).

Against the real Redis server (tests/redis_server.py), each test under a key prefix of its own.
The test with three real bot processes behind a load balancer is in tests/test_scaling.py.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app.config import ConfigError, load_settings
from bot.emulator.server import BotApiEmulator
from bot.telegram.shared_limits import RedisRateLimiter
from bot.telegram.throttling import MemoryRateLimiter, Verdict, build_rate_limiter
from tests.harness import ROOT, Harness, RunningBot, make_settings

SECRET = "shared-limits-secret"
A, N, D = Verdict.ALLOW, Verdict.NOTIFY, Verdict.DROP


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def limiters(
    url: str, namespace: str, count: int = 1, **options: Any
) -> AsyncIterator[list[RedisRateLimiter]]:
    """`count` limiters with connections of their own, as in separate instances."""
    options = {"per_minute": 60, "burst": 3, "secret": SECRET, **options}
    made = [RedisRateLimiter.from_url(url, namespace=namespace, **options) for _ in range(count)]
    try:
        yield made
    finally:
        for limiter in made:
            await limiter.close()


async def test_the_bucket_refills_and_notifies_once(redis_url: str, redis_namespace: str) -> None:
    """The same behaviour as the in-memory limiter (tests/test_abuse.py), step by step."""
    now = Clock()
    async with limiters(redis_url, redis_namespace, shared_clock=now) as [limiter]:
        assert [await limiter.check(1) for _ in range(5)] == [A, A, A, N, D]
        assert await limiter.check(2) is A  # somebody else is not affected
        now.now += 1.0  # one token back after a second at 60 per minute
        assert await limiter.check(1) is A
        assert await limiter.check(1) is N  # a new flood gets a new notice
        now.now += 0.5
        assert await limiter.check(1) is D  # half a token is not enough
        now.now += 1000
        assert [await limiter.check(1) for _ in range(4)] == [A, A, A, N]  # never above burst
        assert limiter.shared
        assert len(limiter.fallback) == 0  # nothing in this process's memory


async def test_instances_share_one_bucket_per_person(redis_url: str, redis_namespace: str) -> None:
    now = Clock()
    async with limiters(redis_url, redis_namespace, 3, shared_clock=now) as instances:
        first, second, third = instances
        assert [await first.check(1), await second.check(1), await third.check(1)] == [A, A, A]
        # The flood goes on at another instance: told once, in total, not once per instance.
        assert [await second.check(1), await third.check(1), await first.check(1)] == [N, D, D]
        assert await third.check(2) is A


async def test_concurrent_checks_take_exactly_the_burst(
    redis_url: str, redis_namespace: str
) -> None:
    """Many checks at once from three connections: the script is atomic, nothing is lost or
    granted twice."""
    now = Clock()
    options = {"shared_clock": now, "burst": 25, "per_minute": 1}
    async with limiters(redis_url, redis_namespace, 3, **options) as instances:
        verdicts = await asyncio.gather(
            *(instances[n % 3].check(42) for n in range(120)),
            *(instances[n % 3].check(43) for n in range(10)),
        )
        assert all(limiter.shared for limiter in instances)  # 43 at once on 20 connections
    assert Counter(verdicts[:120]) == {A: 25, N: 1, D: 94}
    assert Counter(verdicts[120:]) == {A: 10}


async def test_the_server_clock_refills_and_idle_buckets_expire(
    redis_url: str, redis_namespace: str
) -> None:
    """Without a clock of the caller's, Redis's own (TIME) counts: 600 per minute is one token
    every 100 ms. The key lives only as long as the bucket needs to refill, plus a second."""
    async with limiters(redis_url, redis_namespace, per_minute=600, burst=2) as [limiter]:
        assert [await limiter.check(7) for _ in range(3)] == [A, A, N]
        await asyncio.sleep(0.25)
        assert await limiter.check(7) is A
        client = Redis.from_url(redis_url)
        try:
            ttl = await client.pttl(limiter.key(7))
            assert 800 < ttl <= 1200  # 2 tokens at 10 per second: 200 ms, plus one second
            await asyncio.sleep(1.4)
            assert await client.exists(limiter.key(7)) == 0
        finally:
            await client.aclose()
        assert [await limiter.check(7) for _ in range(3)] == [A, A, N]  # a full bucket again


async def test_keys_hold_no_telegram_id_and_depend_on_the_secret() -> None:
    user_id = 987_654_321
    client = Redis.from_url("redis://127.0.0.1:1")  # never contacted
    ours = RedisRateLimiter(client, per_minute=1, burst=1, secret=SECRET, namespace="x:")
    theirs = RedisRateLimiter(client, per_minute=1, burst=1, secret=SECRET + "2", namespace="x:")
    assert ours.key(user_id).startswith("x:")
    assert str(user_id) not in ours.key(user_id)
    assert ours.key(user_id) != theirs.key(user_id)
    assert ours.key(user_id) == ours.key(user_id)
    await client.aclose()


async def test_a_server_without_the_script_gets_it_loaded(
    redis_url: str, redis_namespace: str
) -> None:
    """EVALSHA first; a server that does not know the script (restarted, flushed, another
    node) answers NOSCRIPT, and the script is loaded and run."""
    now = Clock()
    async with limiters(redis_url, redis_namespace, shared_clock=now) as [limiter]:
        script: Any = limiter._script
        real_sha = script.sha
        script.sha = "0" * 40  # a script this server has never seen
        assert await limiter.check(1) is A
        assert script.sha == real_sha
        assert limiter.shared


async def test_erasure_deletes_the_shared_bucket(redis_url: str, redis_namespace: str) -> None:
    async with limiters(redis_url, redis_namespace) as [limiter]:
        await limiter.check(5)
        key = limiter.key(5)
        client = Redis.from_url(redis_url)
        try:
            assert await client.exists(key) == 1  # the bucket is there before the erasure
        finally:
            await client.aclose()
        limiter.forget(5)
    client = Redis.from_url(redis_url)
    try:
        assert await client.exists(key) == 0  # close() waited for the deletion
    finally:
        await client.aclose()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_without_redis_each_instance_limits_on_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis down: the bot neither stops answering nor crashes; it limits with the in-memory
    buckets, warns once (not once per update), and tries Redis again after a pause."""
    clock = Clock()
    limiter = RedisRateLimiter.from_url(
        f"redis://127.0.0.1:{closed_port()}/0",
        per_minute=60,
        burst=3,
        secret=SECRET,
        clock=clock,
        retry_after=5,
        warn_every=60,
    )
    calls = 0
    real_script = limiter._script

    async def counting(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await real_script(**kwargs)

    limiter._script = counting  # type: ignore[assignment]
    try:
        with caplog.at_level(logging.WARNING, logger="bot.telegram.shared_limits"):
            verdicts = [await limiter.check(1) for _ in range(5)]
            assert verdicts == [A, A, A, N, D]  # the same limit, from memory
            assert await limiter.check(2) is A
            assert calls == 1  # one attempt, then the local buckets for a while
            assert not limiter.shared
            clock.now += 6  # six tokens back locally, and time to try Redis again
            assert await limiter.check(1) is A
            assert calls == 2
            clock.now += 30
            await limiter.check(1)
            warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
            assert len(warnings) == 1, [r.getMessage() for r in warnings]
            assert "per instance" in warnings[0].getMessage()
            clock.now += 60
            await limiter.check(1)  # still down a minute later: reminded once more
            warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
            assert len(warnings) == 2
        limiter.forget(1)  # erasure while Redis is down: logged, not raised
        assert 1 not in limiter.fallback
    finally:
        await limiter.close()


async def test_after_an_outage_the_shared_bucket_counts_again(
    redis_url: str, redis_namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    local, shared = Clock(), Clock()
    async with limiters(
        redis_url, redis_namespace, clock=local, shared_clock=shared, retry_after=5
    ) as [limiter]:
        assert [await limiter.check(1) for _ in range(3)] == [A, A, A]  # drained in Redis
        real_script = limiter._script

        async def outage(**_: Any) -> Any:
            raise RedisConnectionError("Connection refused")

        limiter._script = outage  # type: ignore[assignment]
        assert await limiter.check(1) is A  # the local bucket: full, the outage's price
        assert not limiter.shared
        limiter._script = real_script
        assert await limiter.check(1) is A  # still pausing: local
        local.now += 5
        with caplog.at_level(logging.WARNING, logger="bot.telegram.shared_limits"):
            assert await limiter.check(1) is N  # Redis again: the drained shared bucket
        assert limiter.shared
        assert len(limiter.fallback) == 0  # the fallback buckets are gone
        assert any("reachable again" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- configuration


def test_redis_url_from_the_file_or_the_environment(tmp_path: Path) -> None:
    example = (ROOT / "config.example.toml").read_text()
    assert load_settings(ROOT / "config.example.toml", env={}).redis_url is None
    config = tmp_path / "config.toml"
    config.write_text(example.replace('redis_url = ""', 'redis_url = "redis://cache:6379/2"'))
    assert load_settings(config, env={}).redis_url == "redis://cache:6379/2"
    env = {"DIALOGBOT_REDIS_URL": "rediss://:pw@cache.example.org:6380/0"}
    assert load_settings(config, env=env).redis_url == env["DIALOGBOT_REDIS_URL"]


def test_a_bad_redis_url_names_the_key_but_not_the_password() -> None:
    env = {"DIALOGBOT_REDIS_URL": "http://user:hunter2@cache:6379"}
    with pytest.raises(ConfigError) as error:
        load_settings(ROOT / "config.example.toml", env=env)
    assert "DIALOGBOT_REDIS_URL" in str(error.value)
    assert "hunter2" not in str(error.value)


async def test_the_limiter_follows_the_config() -> None:
    settings = load_settings(ROOT / "config.example.toml", env={})
    limiter = build_rate_limiter(settings)
    assert type(limiter) is MemoryRateLimiter
    shared = build_rate_limiter(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(shared, RedisRateLimiter)
    await shared.close()


# --------------------------------------------------------------------------- the whole bot


def notices(harness: Harness, user_id: int) -> list[str]:
    return [m.text for m in harness.emulator.user(user_id).messages if "langsamer" in m.text]


async def test_the_bot_limits_in_redis_and_erases_there(
    emulator: BotApiEmulator, database_url: str, redis_url: str
) -> None:
    """The real application with `redis_url`: a flood is refused by the shared bucket, and
    /loeschen removes that bucket too."""
    settings = make_settings(emulator.base_url, database_url)
    settings = settings.with_overrides(
        secret=f"bot-redis-{uuid.uuid4().hex}",  # keys of this test's own
        redis_url=redis_url,
        abuse=replace(settings.abuse, rate_per_minute=1, rate_burst=12),
    )
    bot = RunningBot(settings)
    await bot.start()
    harness = Harness(emulator, bot)
    client = Redis.from_url(redis_url)
    try:
        assert bot.app is not None
        limiter = bot.app.dispatcher["rate_limiter"]
        assert isinstance(limiter, RedisRateLimiter)
        flooder, other = harness.citizen(7101), harness.citizen(7102)
        await flooder.take_part(["Sport & Events"])  # six updates of the burst of twelve
        for _ in range(10):
            flooder.user.send_text("Hallo?")
        await harness.settle()
        assert len(notices(harness, 7101)) == 1
        assert await client.exists(limiter.key(7101)) == 1
        await other.send("/hilfe")
        assert "Hilfe" in other.last_text
        assert len(limiter.fallback) == 0  # nothing held in memory: Redis was there all along
        limiter.forget(7101)  # the erasure handler's call; the dialog itself is throttled now
        await wait_until(lambda: not limiter._deletions)
        assert await client.exists(limiter.key(7101)) == 0
        await other.send("/loeschen")
        await other.press("Ja, alles löschen")
        assert "gelöscht" in other.last_text
        await wait_until(lambda: not limiter._deletions)
        assert await client.exists(limiter.key(7102)) == 0
    finally:
        await bot.stop()
        await client.aclose()


async def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
