"""numpy, scipy, scikit-learn and matplotlib load only when first needed (bot/domain/lazy.py, issue
6): not at start, and not for a similar-idea lookup or opinion groups with nothing to work on. The
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

from bot.app.runtime import Application
from bot.emulator.server import BotApiEmulator
from bot.telegram.polling import poll
from tests.harness import TOKEN, make_settings

HEAVY = ("numpy", "scipy", "sklearn", "matplotlib", "redis", "prometheus_client")


def loaded() -> list[str]:
    return sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))


async def main(database: str) -> None:
    assert loaded() == [], loaded()
    async with BotApiEmulator(token=TOKEN) as emulator:
        app = Application.build(make_settings(emulator.base_url, f"sqlite+aiosqlite:///{database}"))
        await app.start()  # migrations, command menus, startup handlers, the inbox
        citizen = emulator.user(4242_0001)
        citizen.send_text("/start")
        stop = asyncio.Event()
        polling = asyncio.create_task(poll(app.bot, app.pipeline, stop, poll_seconds=1))
        await emulator.wait_for(lambda: "Datenschutz" in citizen.last_text, 20)
        stop.set()
        await polling
        assert loaded() == [], loaded()
        # Nothing published, nobody rated: no index, no groups, and no reason to load anything.
        assert await app.dispatcher["similar_impulses"].similar("Mehr Nachtbusse") == []
        assert await app.dispatcher["consensus"].refresh() is None
        assert loaded() == [], loaded()
        await app.close()
    print("answered without", ", ".join(HEAVY))


asyncio.run(main(sys.argv[1]))
"""


def test_the_bot_starts_and_answers_without_the_heavy_libraries(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(database)],
        cwd=ROOT,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.stdout.startswith("answered without numpy"), (done.stdout, done.stderr)


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
    migrate = [sys.executable, "-m", "bot.app.cli", "db", "upgrade"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "-c", RESTART, url], cwd=ROOT, check=True, timeout=120)
