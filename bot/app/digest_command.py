"""`dialogbot digest`: write the current digest to files (--dry-run) or post it now (--post).

Both compose "the current one": everything since the last digest, as a moderator's /digest
preview shows it. A post goes through the same outbox as the scheduled digests, so a post the
channel did not accept stays pending and the running bot delivers it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.app.composition import Dependencies
from bot.app.config import Settings
from bot.app.digest_wiring import build_digests
from bot.app.services import Services
from bot.domain.clock import Clock, system_clock
from bot.domain.consensus_cache import ConsensusCache
from bot.domain.digest_figures import DigestContent
from bot.domain.digests import DigestService, PostOutcome, PublishError
from bot.telegram.i18n import build_i18n
from storage.db import Database
from storage.migrate import upgrade
from storage.ratings import SqlConsensusSource

POST_ATTEMPTS = 3
MAX_WAIT = 60.0  # seconds: a later attempt is left to the running bot


class DigestCommandError(Exception):
    """Reported by the CLI in one line."""


async def dry_run(settings: Settings, output: Path, clock: Clock = system_clock) -> list[Path]:
    """Write the chart and the text of the digest as it would be posted now; returns the
    paths. Posts nothing and records nothing."""
    if not settings.token:
        print("note: DIALOGBOT_TOKEN is not set; the link shows BOT_USERNAME", file=sys.stderr)
    async with _digests(settings, with_bot=bool(settings.token), consensus=True) as service:
        now = clock()
        try:
            _facts, content = await service.compose_now(now)
        except PublishError as exc:
            raise DigestCommandError(f"could not ask Telegram for the bot's name: {exc}") from exc
        png = await service.chart_png(content)
        opinions = await service.opinion_png(content)  # the second chart, when there are groups
    return _write(output, now.strftime("%Y%m%dT%H%M%SZ"), content, png, opinions)


async def post(settings: Settings, clock: Clock = system_clock) -> str:
    """Post the current digest now; returns a one-line report."""
    if not settings.channel_chat:
        raise DigestCommandError("channel.chat / DIALOGBOT_CHANNEL is not set: nowhere to post")
    settings.require_token()
    async with _digests(settings, with_bot=True) as service:
        draft = await service.preview(clock())
        outcome = await service.post_draft(draft.id, None, clock())
        for _ in range(POST_ATTEMPTS - 1):
            if outcome is not PostOutcome.RETRYING:
                break
            if not await _wait_for_retry(service, clock):
                break  # not soon (a refusal only an operator can fix): no point in waiting
            outcome = await service.deliver(draft.id, clock())
    if outcome is PostOutcome.POSTED:
        return f"digest {draft.key} posted to {settings.channel_chat}"
    raise DigestCommandError(
        f"digest {draft.key} not posted yet ({outcome.value}); it stays pending and the "
        "running bot (`dialogbot run`) delivers it"
    )


@asynccontextmanager
async def _digests(
    settings: Settings, *, with_bot: bool, consensus: bool = False
) -> AsyncIterator[DigestService]:
    """With a bot: the digests of the composition root, so a post goes through the same Bot as
    `dialogbot run` (its retries, its handling of refusals) and a failure counts towards the
    moderators' alert. With `consensus`, the opinion groups are computed first (a one-off)."""
    if with_bot:
        deps = Dependencies.build(settings)
        try:
            await upgrade(deps.database)
            if consensus:
                await deps.ratings.consensus.refresh()
            yield deps.digests
        finally:
            await deps.close()
        return
    database = Database.for_settings(settings)
    try:
        await upgrade(database)
        participation = Services.build(settings, database).participation
        groups = None
        if consensus:
            groups = ConsensusCache(
                SqlConsensusSource(database),
                system_clock,
                refresh_minutes=settings.ratings.consensus_refresh_minutes,
            )
            await groups.refresh()
        i18n = build_i18n(settings.default_locale)
        yield build_digests(settings, database, i18n, participation, None, consensus=groups)
    finally:
        await database.dispose()


async def _wait_for_retry(service: DigestService, clock: Clock) -> bool:
    """Wait for the outbox's next attempt if it is due within a minute; False if it is not."""
    now = clock()
    retry = await service.next_attempt(now)
    seconds = (retry - now).total_seconds() if retry is not None else 0.0
    if seconds > MAX_WAIT:
        return False
    await asyncio.sleep(max(seconds, 1.0))
    return True


def _write(
    output: Path,
    stamp: str,
    content: DigestContent,
    png: bytes | None,
    opinions: bytes | None = None,
) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    text = output / f"digest-{stamp}.txt"
    text.write_text(content.as_text() + "\n", encoding="utf-8")
    paths = [text]
    if png is not None:
        chart = output / f"digest-{stamp}.png"
        chart.write_bytes(png)
        paths.insert(0, chart)
    if opinions is not None:
        second = output / f"digest-{stamp}-meinungsgruppen.png"
        second.write_bytes(opinions)
        paths.insert(len(paths) - 1, second)
    return paths
