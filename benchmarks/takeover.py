"""Takeover benchmark: how long a dead instance's pending update waits for another instance.

Several instances share one PostgreSQL inbox (storage/inbox.py). An instance that dies leaves
its recorded but unhandled updates behind; the others look for them every `sweep_every`
seconds (bot/telegram/pipeline.py, 1 s in production) and take over those whose owner's liveness
lock is
free. This script measures, on a fresh PostgreSQL database, the time from the dead instance's
lock being released to the citizen's reply arriving from the instance that took over: an
instance "A" records a citizen's /start in the inbox and closes its connection (its lock goes
with it) without handling it; the running bot "B" must answer it.

tests/test_pipeline.py shows that the update is taken over and handled in order; this script
only measures how long that takes. Prints one JSON summary (seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from load import drop_postgres, fresh_postgres, postgres_reachable  # noqa: E402

from bot.app.runtime import Application  # noqa: E402
from bot.emulator.server import BotApiEmulator  # noqa: E402
from bot.telegram.pipeline import ordering_key  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.inbox import Inbox  # noqa: E402
from tests.harness import TOKEN, make_settings  # noqa: E402


async def one_takeover(emulator: BotApiEmulator, database_url: str, user_id: int) -> float:
    """Seconds from instance A's death to B's answer to the update A left pending."""
    from aiogram.types import Update

    citizen = emulator.user(user_id)
    update_id = citizen.send_text("/start")
    raw = await take_from_telegram(emulator, update_id)
    dead = Database(database_url)
    inbox = Inbox(dead, owner=f"bench-dead-{user_id}")
    await inbox.open()
    update = Update.model_validate(raw)
    await inbox.record([(update_id, json.dumps(raw))], {update_id: ordering_key(update)})
    died = time.monotonic()
    await inbox.close()  # the session ends, and with it the liveness lock
    await dead.dispose()
    await emulator.wait_for(lambda: "Datenschutz" in citizen.last_text, 30)
    return time.monotonic() - died


async def take_from_telegram(emulator: BotApiEmulator, update_id: int) -> dict[str, Any]:
    """What instance A got from Telegram (getUpdates), confirmed so no one else gets it."""
    from aiohttp import ClientSession

    url = f"{emulator.base_url}/bot{emulator.token}/getUpdates"
    async with ClientSession() as http:
        async with http.post(url, json={"timeout": 0}) as answer:
            [raw] = [u for u in (await answer.json())["result"] if u["update_id"] == update_id]
        async with http.post(url, json={"timeout": 0, "offset": update_id + 1}) as answer:
            await answer.read()
    return dict(raw)


async def run(admin_url: str, rounds: int) -> dict[str, Any]:
    if not await postgres_reachable(admin_url):
        return {"skipped": f"no PostgreSQL at {admin_url}"}
    database_url = await fresh_postgres(admin_url, "dialogbot_takeover")
    try:
        async with BotApiEmulator(token=TOKEN) as emulator:
            app = Application.build(make_settings(emulator.base_url, database_url))
            await app.start()  # B: looks for orphaned updates every second, as in production
            try:
                times = [
                    await one_takeover(emulator, database_url, 8_800_000_000 + n)
                    for n in range(rounds)
                ]
            finally:
                await app.close()
    finally:
        await drop_postgres(admin_url, "dialogbot_takeover")
    return {
        "rounds": rounds,
        "sweep_every_s": 1.0,
        "takeover_s": {
            "min": round(min(times), 3),
            "median": round(statistics.median(times), 3),
            "max": round(max(times), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DIALOGBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1/test"),
        help="admin URL of a PostgreSQL server (a database is created and dropped)",
    )
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.postgres, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
