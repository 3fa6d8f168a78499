"""Redis for the tests of shared rate limits: the local server of CI and developers' machines.

The server is DIALOGBOT_TEST_REDIS (default redis://127.0.0.1:6379/0). Without a reachable
server those tests are skipped, with the reason in pytest's summary; with CI=true they fail
instead (tests/postgres.py does the same for PostgreSQL), so CI cannot go green without them.

Several people may run the suite against one server at once: every test works under a key
prefix of its own (or a bot secret of its own, which the keys are derived from).
"""

from __future__ import annotations

import os
import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

URL = os.environ.get("DIALOGBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def unreachable() -> str | None:
    """Why the test server cannot be used, or None."""
    client = Redis.from_url(URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return f"Redis not reachable at {URL} ({type(exc).__name__}: {exc})"
    finally:
        await client.aclose()
    return None


def unavailable(reason: str) -> None:
    """Skip, or fail under CI: there Redis must be running (.ci/run starts it)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def namespace() -> str:
    return f"dialogbot-test:{uuid.uuid4().hex[:12]}:"


async def drop(prefix: str) -> None:
    """Delete every key under the prefix (they would expire by themselves, but soon is better)."""
    client = Redis.from_url(URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
