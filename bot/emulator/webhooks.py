"""Webhooks: setWebhook, deleteWebhook and getWebhookInfo, and the delivery of the update
queue to the bot's URL (in order, retried with backoff until a 2xx answer), including the method
a webhook answer may carry.

Imports the wire format and the update queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout, MultipartReader

from bot.emulator.updates import Update, UpdateQueue
from bot.emulator.wire import JSON, Params, UploadedFile, bad_request, now, read_multipart

_AUTH_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_BACKOFF = (0.05, 1.0)  # first and maximum delay between webhook retries
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Executes one Bot API method: (method key, parameters, files, source of the call).
Invoke = Callable[[str, JSON, dict[str, UploadedFile], str], Awaitable[object]]


@dataclass
class Webhook:
    """The webhook that is set, with what getWebhookInfo reports about its last failure."""

    url: str
    secret_token: str | None
    max_connections: int
    task: asyncio.Task[None] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class Webhooks:
    """The webhook, if one is set, and its delivery loop."""

    def __init__(self, updates: UpdateQueue, invoke: Invoke, knows: Callable[[str], bool]) -> None:
        self.updates = updates
        self._invoke = invoke
        self._knows = knows  # is this an emulated method?
        self.hook: Webhook | None = None

    async def set_webhook(self, p: Params) -> bool:
        url = p.text("url") or ""
        secret = p.text("secret_token")
        if url and not re.match(r"https?://", url):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        self.updates.set_allowed(p.json("allowed_updates"))
        if p.flag("drop_pending_updates"):
            self.updates.drop_pending()
        await self.stop()
        if url:
            hook = Webhook(url, secret, p.integer("max_connections") or 40)
            self.hook = hook
            hook.task = asyncio.create_task(self._deliver(hook))
            self.updates.terminate_polls()  # a running long poll now answers 409
        return True

    async def delete_webhook(self, p: Params) -> bool:
        if p.flag("drop_pending_updates"):
            self.updates.drop_pending()
        await self.stop()
        return True

    async def get_webhook_info(self, _: Params) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False}
        info["pending_update_count"] = len(self.updates.pending)
        hook = self.hook
        if hook is not None:
            info.update(url=hook.url, max_connections=hook.max_connections, ip_address="127.0.0.1")
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self.updates.allowed is not None:
            info["allowed_updates"] = sorted(self.updates.allowed)
        return info

    async def stop(self) -> None:
        hook, self.hook = self.hook, None
        self.updates.notifier.notify()
        if hook is None or hook.task is None or hook.task is asyncio.current_task():
            return  # a webhook reply may call deleteWebhook: the loop then ends by itself
        hook.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hook.task

    async def _deliver(self, hook: Webhook) -> None:
        """POST pending updates in order, retrying with backoff until a 2xx answer."""
        delay = _BACKOFF[0]
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while True:
                await self.updates.notifier.wait_until(
                    lambda: bool(self.updates.pending) or self.hook is not hook, None
                )
                if self.hook is not hook:
                    return
                update = self.updates.pending[0]
                if await self._post_update(session, hook, update):
                    self.updates.confirm(update.update_id + 1)
                    delay = _BACKOFF[0]
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _BACKOFF[1])

    async def _post_update(self, session: ClientSession, hook: Webhook, update: Update) -> bool:
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[_AUTH_HEADER] = hook.secret_token
        try:
            async with session.post(
                hook.url, data=json.dumps(update.to_json()), headers=headers
            ) as resp:
                if 200 <= resp.status < 300:
                    await self._run_reply(resp)
                    return True
                hook.last_error_message = (
                    f"Wrong response from the webhook: {resp.status} {resp.reason}"
                )
        except (ClientError, OSError) as exc:  # OSError covers TimeoutError and refused ports
            hook.last_error_message = f"Connection failed: {type(exc).__name__}"
        hook.last_error_date = now()
        return False

    async def _run_reply(self, resp: ClientResponse) -> None:
        """Execute a method returned in the webhook answer, as Telegram does."""
        values: JSON = {}
        files: dict[str, UploadedFile] = {}
        try:
            if resp.content_type == "application/json":
                body = await resp.json()
                values = dict(body) if isinstance(body, dict) else {}
            elif resp.content_type == "multipart/form-data":
                values, files = await read_multipart(MultipartReader(resp.headers, resp.content))
        except (ClientError, ValueError):
            return  # Telegram silently ignores unreadable webhook answers
        method = values.pop("method", None)
        if isinstance(method, str) and self._knows(method):
            await self._invoke(method.lower(), values, files, "webhook-reply")
