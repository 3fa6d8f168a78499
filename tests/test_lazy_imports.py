"""numpy, scipy, scikit-learn and matplotlib load only when first needed (bot/lazy.py, issue 6):
not at start, and not for a similar-idea lookup or opinion groups with nothing to work on. The
Redis client loads only when shared rate limits are configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT

CHECK = """
import asyncio
import sys

from bot.app import Application
from storage.migrate import upgrade
from tests.harness import make_settings

HEAVY = ("numpy", "scipy", "sklearn", "matplotlib", "redis")


def loaded() -> list[str]:
    return sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))


async def main(database: str) -> None:
    app = Application.build(make_settings("http://127.0.0.1:9", f"sqlite+aiosqlite:///{database}"))
    await upgrade(app.database)
    assert loaded() == [], loaded()
    # Nothing published, nobody rated: no index, no groups, and no reason to load anything.
    assert await app.dispatcher["similar_impulses"].similar("Mehr Nachtbusse") == []
    assert await app.dispatcher["consensus"].refresh() is None
    assert loaded() == [], loaded()
    await app.database.dispose()


asyncio.run(main(sys.argv[1]))
"""


def test_the_bot_starts_without_the_heavy_libraries(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    subprocess.run([sys.executable, "-c", CHECK, str(database)], cwd=ROOT, check=True, timeout=120)


RESTART = """
import asyncio
import sys

from storage.db import Database
from storage.migrate import HEAD, current_revision, upgrade


async def main(database_url: str) -> None:
    database = Database(database_url)
    assert await current_revision(database) == HEAD
    await upgrade(database)
    assert "alembic" not in sys.modules
    await database.dispose()


asyncio.run(main(sys.argv[1]))
"""


def test_a_restart_on_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    env = {**os.environ, "DIALOGBOT_DATABASE_URL": url}
    migrate = [sys.executable, "-m", "bot.cli", "db", "upgrade"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "-c", RESTART, url], cwd=ROOT, check=True, timeout=120)
