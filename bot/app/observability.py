"""`dialogbot run --metrics HOST:PORT`: health, readiness and Prometheus metrics on an address
of their own (by default nothing listens; never on the webhook's port unless given it).

* `/healthz`: 200 while the process lives (also while it waits for the database at start);
* `/readyz`: 200 when the database answers, a Bot API call went through recently and no
  update has waited in the inbox longer than `backlog_seconds`; else 503 naming what is wrong.
  A quiet night is still ready: when no call went through for `api_seconds` (a webhook bot
  makes none without updates), the probe asks `getMe` itself;
* `/metrics`: the counters of `bot.telegram.metrics.Metrics`, with the database's figures
  (inbox backlog and the age of its oldest update, participants, ideas waiting for review,
  digests) read at each scrape.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app.runtime import Application
from bot.domain.participation import ParticipantStatus
from bot.telegram.metrics import Metrics
from bot.telegram.outcomes import describe
from storage import observability
from storage.outage import describe as describe_db

log = logging.getLogger(__name__)

_PROBE_TIMEOUT = 5.0


class MetricsAddressError(ValueError):
    pass


def parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise MetricsAddressError(f"--metrics must be HOST:PORT, e.g. 127.0.0.1:9108: {value!r}")
    return host.strip("[]"), int(port)


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, str]


class MetricsServer:
    def __init__(
        self,
        app: Application,
        metrics: Metrics,
        *,
        backlog_seconds: float = 300.0,
        api_seconds: float | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.backlog_seconds = backlog_seconds
        # A long poll ends at least every poll_seconds + request_timeout: longer without any
        # successful call means the Bot API is away (or nothing asked it: then getMe).
        settings = app.settings
        self.api_seconds = api_seconds or max(
            120.0, 2 * (settings.poll_seconds + settings.request_timeout)
        )
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def routes(self) -> web.Application:
        web_app = web.Application()
        web_app.router.add_get("/healthz", self._healthz)
        web_app.router.add_get("/readyz", self._readyz)
        web_app.router.add_get("/metrics", self._metrics)
        return web_app

    async def start(self, host: str, port: int) -> None:
        runner = web.AppRunner(self.routes(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("health and metrics on http://%s:%d/ (healthz, readyz, metrics)", host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        result = await self.readiness()
        body = json.dumps({"ready": result.ready, "checks": result.checks}) + "\n"
        return web.Response(
            status=200 if result.ready else 503, text=body, content_type="application/json"
        )

    async def readiness(self) -> Readiness:
        checks: dict[str, str] = {}
        ready = True
        try:
            backlog, oldest = await asyncio.wait_for(
                observability.inbox_backlog(self.app.database), _PROBE_TIMEOUT
            )
        except Exception as exc:  # the probe's answer
            ready = False
            checks["database"] = f"does not answer: {_db_reason(exc)}"
            checks["inbox"] = "unknown"
        else:
            checks["database"] = "answers"
            age = _age(oldest)
            if age > self.backlog_seconds:
                ready = False
                checks["inbox"] = (
                    f"{backlog} updates waiting, the oldest for {age:.0f} s "
                    f"(more than {self.backlog_seconds:g} s)"
                )
            else:
                checks["inbox"] = f"{backlog} updates waiting"
        api = await self._bot_api()
        if api is not None:
            ready = False
            checks["bot_api"] = api
        else:
            checks["bot_api"] = "answered recently"
        return Readiness(ready, checks)

    async def _bot_api(self) -> str | None:
        """None if a Bot API call went through recently (asking getMe if none was made)."""
        last = self.metrics.last_api_success
        if last is not None and self.metrics.now() - last <= self.api_seconds:
            return None
        try:
            await asyncio.wait_for(self.app.bot.get_me(), _PROBE_TIMEOUT)
        except Exception as exc:  # the probe's answer
            return f"no call went through for {self.api_seconds:g} s; getMe: {describe(exc)}"
        return None

    async def _metrics(self, _: web.Request) -> web.Response:
        await self.refresh()
        return web.Response(
            body=generate_latest(self.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def refresh(self) -> None:
        """The database's figures into the gauges; if it does not answer, they keep their last
        values (and /readyz says so)."""
        m = self.metrics
        try:
            found = await asyncio.wait_for(observability.figures(self.app.database), _PROBE_TIMEOUT)
        except Exception as exc:
            log.debug("metrics: database figures not read (%s)", _db_reason(exc))
            return
        m.inbox_backlog.set(found.inbox_backlog)
        m.inbox_oldest_seconds.set(_age(found.inbox_oldest))
        for status in {*ParticipantStatus, *found.participants}:
            m.participants.labels(status).set(found.participants.get(status, 0))
        m.review_pending.set(found.review_pending)
        for state, count in found.digests.items():
            m.digests.labels(state).set(count)


def _age(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    return max((datetime.now(UTC) - oldest).total_seconds(), 0.0)


def _db_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {_PROBE_TIMEOUT:g} s"
    return describe_db(exc)
