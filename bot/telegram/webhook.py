"""Webhook mode: Telegram POSTs each update to us instead of being polled.

`dialogbot run --webhook https://host/path --listen 0.0.0.0:8080` registers the URL with
setWebhook (with the secret from DIALOGBOT_WEBHOOK_SECRET / bot.webhook_secret) and serves
`path` on the listen address. A call must carry that secret in X-Telegram-Bot-Api-Secret-Token
(compared in constant time): otherwise 401 and nothing is processed. An update is answered
200 only after `UpdatePipeline.accept` has recorded it in the inbox, so an update Telegram was
told about is never lost; if recording fails, Telegram gets a 500 and sends it again (the inbox
recognises a repeat by its id). An update the models reject is read leniently, or set aside
(`UpdatePipeline.accept_raw`): it too is answered 200 once it is recorded, so Telegram does not
send it again for hours. A body that is no JSON object with an update id is answered 400.
While the database cannot be reached (storage/outage.py), the answer is 503, as soon as the
connect or command timeout ([database]) ends the attempt, with one log line when the outage
begins and one when it ends.

Backpressure: while `updates_in_flight` updates are received but not yet handled, a call waits
for room up to `ROOM_WAIT` seconds (Telegram keeps at most `max_connections` calls open at
once, 40 by default, so waiting calls hold it back), and only then is answered 503 with a
Retry-After hint. Telegram sends an update again after any answer but 2xx, but "gives up after a
reasonable amount of attempts" (Bot API, setWebhook): waiting first keeps those attempts few.

Several instances may serve the same URL behind a load balancer, on one PostgreSQL database:
the inbox keeps one person's updates in order across them (storage/inbox.py).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import orjson
from aiogram import Bot
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiohttp import web

from bot.telegram import outcomes
from bot.telegram.periodic import pause
from bot.telegram.pipeline import UpdatePipeline
from bot.telegram.polling import ALLOWED_UPDATES
from storage.outage import Outage, is_unreachable

log = logging.getLogger(__name__)


class Application(Protocol):
    """What the webhook needs of the application (`bot.app.runtime.Application`)."""

    bot: Bot
    pipeline: UpdatePipeline

    async def start(self, stop: asyncio.Event | None = None) -> bool: ...

    def start_background(self) -> None: ...

    async def stop_background(self) -> None: ...


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# How long a call waits for room among the updates in flight before it is answered 503.
ROOM_WAIT = 10.0
RETRY_AFTER = "5"


class WebhookConfigError(ValueError):
    """A webhook URL or listen address that cannot work."""


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    host: str
    port: int
    secret: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @classmethod
    def parse(cls, url: str, listen: str, secret: str | None) -> WebhookOptions:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise WebhookConfigError(f"--webhook must be an https:// URL: {url!r}")
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise WebhookConfigError(f"--listen must be HOST:PORT, e.g. 0.0.0.0:8080: {listen!r}")
        if not secret:
            raise WebhookConfigError(
                "webhook mode needs a secret: set DIALOGBOT_WEBHOOK_SECRET (or bot.webhook_secret)"
            )
        return cls(url=url, host=host.strip("[]"), port=int(port), secret=secret)


class ThrottledWarning:
    """One warning line per `every` seconds at most, with how many there were: anyone who finds
    the URL could otherwise fill the log with one line per call."""

    def __init__(
        self, what: str, *, every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._what, self._every, self._clock = what, every, clock
        self._last: float | None = None
        self._since = 0

    def count(self) -> None:
        self._since += 1
        now = self._clock()
        if self._last is None or now - self._last >= self._every:
            log.warning("%s: %d since the last such warning", self._what, self._since)
            self._last, self._since = now, 0


def webhook_routes(
    app: Application, path: str, secret: str, *, room_wait: float = ROOM_WAIT
) -> web.Application:
    """The aiohttp application that receives Telegram's calls on `path`."""
    expected = secret.encode()
    database = Outage("webhook", log)
    wrong_secret = ThrottledWarning("webhook calls without the right secret refused")
    no_update = ThrottledWarning("webhook calls with a body that is no update refused")
    busy = ThrottledWarning("webhook calls answered 503: too many updates in flight")

    async def receive(request: web.Request) -> web.Response:
        supplied = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(supplied, expected):
            wrong_secret.count()
            return web.Response(status=401)
        body = await request.read()
        try:
            payload = orjson.loads(body)
        except ValueError:
            # orjson.JSONDecodeError, a ValueError: also JSON nested over 1024 levels deep, or
            # text that is not UTF-8, which is no update either.
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            no_update.count()
            return web.Response(status=400)
        # Only once it is recorded (in the inbox, or set aside) may Telegram forget it (an
        # exception here: 500, sent again; the database unreachable: 503, sent again).
        async with app.pipeline.admitted(within=room_wait) as room:
            if not room:
                busy.count()
                return web.Response(status=503, headers={"Retry-After": RETRY_AFTER})
            try:
                # Stored as it came (bot/telegram/pipeline.py), not as the models dump it.
                await app.pipeline.accept_raw([payload], received=[body.decode()])
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                database.failed(exc)
                return web.Response(status=503)
        database.answered()
        return web.Response(status=200)

    server = web.Application(client_max_size=4 * 1024 * 1024)
    server.router.add_post(path, receive)
    return server


async def serve_webhook(app: Application, options: WebhookOptions, stop: asyncio.Event) -> None:
    """Start, register the webhook, serve until `stop`, then finish what was accepted."""
    if not await app.start(stop):
        return
    runner = web.AppRunner(
        webhook_routes(app, options.path, options.secret), access_log=None, shutdown_timeout=5
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    await site.start()
    try:
        # Registered only once we listen: Telegram may call at once.
        if not await _register(app, options, stop):
            return
        log.info("webhook %s, listening on %s:%d", options.url, options.host, options.port)
        app.start_background()
        await stop.wait()
    finally:
        # Stop taking calls (Telegram retries them elsewhere or later), then finish the rest.
        # The webhook stays registered: other instances may still be serving it.
        await runner.cleanup()
        app.pipeline.stop_retrying()
        await app.pipeline.wait_idle()
        await app.stop_background()


async def _register(app: Application, options: WebhookOptions, stop: asyncio.Event) -> bool:
    """setWebhook, again and again with backoff while the Bot API is away (bot.telegram.outcomes:
    transient); False if `stop` came first. Any other error goes up."""
    backoff = Backoff(BackoffConfig(min_delay=1.0, max_delay=60.0, factor=2.0, jitter=0.2))
    while not stop.is_set():
        try:
            await app.bot.set_webhook(
                options.url, secret_token=options.secret, allowed_updates=ALLOWED_UPDATES
            )
            return True
        except Exception as exc:
            if not outcomes.is_transient(exc):
                raise
            delay = max(next(backoff), 0.0)
            log.warning("setWebhook failed (%s); again in %.1f s", outcomes.describe(exc), delay)
            await pause(stop, delay)
    return False
