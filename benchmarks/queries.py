"""Query benchmark: the standings and a whole digest on a big synthetic consultation.

For SQLite and (if reachable) PostgreSQL: generate N participants with three votes each and
M impulses (benchmarks/generate.py), then time

* `vote_counts` (storage/repository.py), the standings every "thanks" and every digest shows;
* for comparison, the plain GROUP BY over all votes it replaced;
* a whole digest with its chart (`DigestService.compose_now` and `chart_png`).

Prints one JSON summary. Targets: standings under 200 ms, a digest under 2 s, on both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from generate import generate  # noqa: E402
from load import drop_postgres, fresh_postgres, postgres_reachable  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.app.config import load_settings  # noqa: E402
from bot.app.digest_wiring import build_digests  # noqa: E402
from bot.app.services import Services  # noqa: E402
from bot.telegram.i18n import build_i18n  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.repository import SqlParticipationRepository  # noqa: E402

CONFIG = ROOT / "config.example.toml"
PLAIN_COUNT = """
SELECT v.topic_id, count(*) FROM votes v JOIN participants p ON p.id = v.participant_id
WHERE p.status = 'active' GROUP BY v.topic_id
"""


async def timed(work: Callable[[], Awaitable[Any]], repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        runs.append((time.perf_counter() - started) * 1000)
    return {"best_ms": round(min(runs), 2), "median_ms": round(statistics.median(runs), 2)}


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    seconds = await generate(url, args.participants, args.impulses, 1000)
    env = {"DIALOGBOT_SECRET": "benchmark-secret-0123", "DIALOGBOT_DATABASE_URL": url}
    settings = load_settings(CONFIG, env=env)
    database = Database(url)
    try:
        repository = SqlParticipationRepository(database)
        participants, votes = await repository.vote_counts()
        standings = await timed(repository.vote_counts, args.repeat)

        async def plain() -> None:
            async with database.reading() as session:
                await session.execute(text(PLAIN_COUNT))

        before = await timed(plain, 1)
        digests = build_digests(
            settings, database, build_i18n(), Services.build(settings, database).participation, None
        )

        async def digest() -> None:
            _, content = await digests.compose_now(datetime.now(UTC))
            await digests.chart_png(content)

        whole = await timed(digest, args.repeat)
    finally:
        await database.dispose()
    return {
        "participants": args.participants,
        "votes_counted": sum(votes.values()),
        "voters_counted": participants,
        "impulses": args.impulses,
        "generate_s": round(seconds, 1),
        "vote_counts": standings,
        "plain_group_by_before": before,
        "digest_with_chart": whole,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="dialogbot-queries-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'big.sqlite3'}"
        summary["sqlite"] = await measure(url, args)
        print("sqlite:", json.dumps(summary["sqlite"]), file=sys.stderr)
    if args.postgres and await postgres_reachable(args.postgres):
        url = await fresh_postgres(args.postgres, "dialogbot_queries")
        try:
            summary["postgresql"] = await measure(url, args)
        finally:
            await drop_postgres(args.postgres, "dialogbot_queries")
    elif args.postgres:
        summary["postgresql"] = f"skipped: no PostgreSQL at {args.postgres}"
    return summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--impulses", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DIALOGBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1/test"),
        help="admin URL of a PostgreSQL server ('' to skip)",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON summary here")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    result = asyncio.run(main(arguments))
    output = json.dumps(result, indent=2)
    print(output)
    if arguments.output:
        arguments.output.write_text(output + "\n")
