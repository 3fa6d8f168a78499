"""PostgreSQL for the test suite: one fresh database per test, cloned from a migrated template.

Every test that takes the `database_url` fixture runs twice, on SQLite and on PostgreSQL. The
server is DIALOGBOT_TEST_POSTGRES (an admin URL; default the local server of CI and the
developers' machines). Without a reachable server the PostgreSQL runs are skipped, with the
reason in pytest's summary; with CI=true they fail instead, so CI cannot go green without them.

Names carry a random part: several people may run the suite against one server at once.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.migrate import upgrade

ADMIN_URL = os.environ.get("DIALOGBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _asyncpg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(database: str) -> str:
    url = make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_url(ADMIN_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class PostgresServer:
    template: str

    async def create(self) -> str:
        name = f"dialogbot_t_{uuid.uuid4().hex[:12]}"
        await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    @staticmethod
    async def drop(name: str) -> None:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server() -> PostgresServer | str:
    """The server with a freshly migrated template, or why there is none."""
    template = f"dialogbot_tpl_{uuid.uuid4().hex[:8]}"

    async def prepare() -> None:
        await _admin(f'CREATE DATABASE "{template}"')
        database = Database(sqlalchemy_url(template))
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    try:
        _run(prepare())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL not reachable at {ADMIN_URL} ({type(exc).__name__}: {exc})"
    return PostgresServer(template)


def stop_server(server: PostgresServer) -> None:
    _run(PostgresServer.drop(server.template))


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own: the session fixture may be set up from inside a test's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


def unavailable(reason: str) -> None:
    """Skip, or fail under CI: there PostgreSQL must be running (.ci/run starts it)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)
