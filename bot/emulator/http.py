"""The HTTP surface: the Bot API route (token check, parameters, faults answered as the fault
plan says, every other call executed) and the control API under ``/_emulator/`` that lets
other processes drive citizens and read chats and calls.

Imports the wire format, faults, the update queue, the call record and the citizens.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable

from aiohttp import web

from bot.emulator.calls import Calls
from bot.emulator.chats import StoredMessage
from bot.emulator.citizens import EmulatedUser
from bot.emulator.faults import Fault, FaultPlan
from bot.emulator.updates import UpdateQueue
from bot.emulator.wire import (
    JSON,
    ApiError,
    UploadedFile,
    control_error,
    json_response,
    read_request,
)

_MAX_UPLOAD = 60 * 1024 * 1024  # above Telegram's 50 MB so we can answer 413 ourselves


class HttpSurface:
    """The aiohttp application and its runner."""

    def __init__(
        self,
        token: str,
        calls: Calls,
        faults: FaultPlan,
        updates: UpdateQueue,
        user: Callable[[int], EmulatedUser],
        chat_messages: Callable[[str, bool], list[StoredMessage]],
    ) -> None:
        self.token = token
        self.calls = calls
        self.faults = faults
        self.updates = updates
        self._user = user
        self._chat_messages = chat_messages
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self.handle_api)
        app.router.add_post("/_emulator/users/{user_id}/text", self._control_text)
        app.router.add_post("/_emulator/users/{user_id}/press", self._control_press)
        app.router.add_get("/_emulator/chats/{chat_id}", self._control_chat)
        app.router.add_get("/_emulator/events", self._control_events)
        # handler_cancellation ends long polls of clients that went away.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        return f"http://{host}:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return json_response(401, ApiError(401, "Unauthorized").payload())
        key = request.match_info["method"].lower()
        if not self.calls.knows(key):
            return json_response(404, ApiError(404, "Not Found").payload())
        try:
            values, files = await read_request(request)
        except ApiError as exc:
            return json_response(exc.status, exc.payload())
        fault = self.faults.take(key)
        if fault is not None:
            return await self._answer_fault(request, key, values, files, fault)
        status, body, _ = await self.calls.invoke(key, values, files)
        return json_response(status, body)

    async def _answer_fault(
        self,
        request: web.Request,
        key: str,
        values: JSON,
        files: dict[str, UploadedFile],
        fault: Fault,
    ) -> web.StreamResponse:
        """Answer one call as ``fault`` says: after running it or without, late, with another
        status or body, or not at all."""
        self.faults.injected.append((self.calls.name(key), fault.label))
        answered = 0 if fault.drop else fault.status
        if fault.execute:
            # The real answer, for a body made from it; the status the bot sees is the fault's
            # (200: the real one).
            real_status, real, call = await self.calls.invoke(key, values, files, fault=fault.label)
            status = real_status if fault.status == 200 and not fault.drop else fault.status
            call.status = 0 if fault.drop else status
            body = real if status == real_status else fault.error_payload()
        else:
            status, body = fault.status, fault.error_payload()
            real = body
            self.calls.record(key, values, files, time.monotonic(), answered, fault.label)
        if fault.delay:
            await asyncio.sleep(fault.delay)  # a client that gave up has gone by now
        if fault.drop:
            return self._drop_connection(request)
        if fault.body is None:
            return json_response(status, body)
        raw = fault.body(status, copy.deepcopy(real)) if callable(fault.body) else fault.body
        if isinstance(raw, dict):
            return json_response(status, raw)
        return web.Response(
            status=status,
            body=raw.encode() if isinstance(raw, str) else raw,
            content_type=fault.content_type,
        )

    def _drop_connection(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()  # the client sees the server disconnect
        return web.Response(status=500)  # never reaches the client

    # -- the control API ------------------------------------------------------

    def _control_user(self, request: web.Request, body: JSON) -> EmulatedUser:
        user = self._user(int(request.match_info["user_id"]))
        for attribute in ("first_name", "last_name", "username", "language_code"):
            if isinstance(body.get(attribute), str):
                setattr(user, attribute, body[attribute])
        return user

    def _update_response(self, update_id: int) -> web.Response:
        enqueued = self.updates.enqueued_at[update_id]
        return web.json_response({"update_id": update_id, "enqueued_at": enqueued})

    async def _control_text(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            text = body["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            update_id = self._control_user(request, body).send_text(text)
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(f"{type(exc).__name__}: {exc}")
        return self._update_response(update_id)

    async def _control_press(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            user = self._control_user(request, body)
            message_id = body.get("message_id")
            if "data" in body:
                update_id = user.press_data(int(message_id), str(body["data"]))
            else:
                target = None if message_id is None else int(message_id)
                update_id = user.press(str(body["button"]), message_id=target)
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            return control_error(f"{type(exc).__name__}: {exc}")
        return self._update_response(update_id)

    async def _control_chat(self, request: web.Request) -> web.Response:
        ref = request.match_info["chat_id"]
        include_deleted = request.query.get("include_deleted") in ("1", "true")
        try:
            messages = self._chat_messages(ref, include_deleted)
        except KeyError as exc:
            return control_error(str(exc), status=404)
        return web.json_response([m.to_dict() for m in messages])

    async def _control_events(self, request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
            timeout = min(float(request.query.get("timeout", "0")), 60.0)
        except ValueError as exc:
            return control_error(str(exc))
        await self.updates.notifier.wait_until(
            lambda: len(self.calls.log) > after or self.updates.closing, timeout
        )
        return web.json_response([c.to_event() for c in self.calls.log[max(after, 0) :]])


# --------------------------------------------------------------------------- CLI
