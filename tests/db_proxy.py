"""A TCP proxy between the bot and PostgreSQL that the tests use to make the database fail.

`cut()` closes every connection on both sides (the server ends those sessions, and with them
their advisory locks), `refuse()` stops listening (new connections: "connection refused"),
`hang()` accepts connections and forwards nothing (nor does it forward on the open ones: a
half-open path), `lose_answers()` forwards what the bot sends but none of the answers (a
COMMIT goes through, its answer is lost), `restore()` lets everything through again. `cut_at`
does it at the moment a named statement is about to be sent (a `before_cursor_execute` hook),
not on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

UP, REFUSING, HANGING, DEAF = "up", "refusing", "hanging", "deaf"


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


class DatabaseProxy:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._target = (url.host or "127.0.0.1", url.port or 5432)
        self._url = url
        self.port = 0
        self.mode = UP
        self._server: asyncio.Server | None = None
        self._pairs: set[_Pair] = set()
        self.accepted = 0
        # When the bot last sent anything (time.monotonic()): its periodic look for orphaned
        # updates shows here, so that a test can cut just after one.
        self.sent_at = 0.0

    @property
    def url(self) -> str:
        """The database URL through the proxy."""
        proxied = self._url.set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._on_client, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        self._stop_listening()

    def cut(self) -> None:
        """Close every open connection, both sides."""
        for pair in list(self._pairs):
            pair.abort()
        self._pairs.clear()

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def refuse(self) -> None:
        """Cut, and refuse new connections until `restore`."""
        self.mode = REFUSING
        self.cut()
        self._stop_listening()

    def hang(self) -> None:
        """Keep the connections open but forward nothing, and do the same with new ones."""
        self.mode = HANGING

    def lose_answers(self) -> None:
        self.mode = DEAF

    async def restore(self) -> None:
        self.mode = UP
        if self._server is None:
            await self._listen()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        pair = _Pair(writer)
        self._pairs.add(pair)
        try:
            if self.mode == HANGING:
                await _drain_into_nothing(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._target)
            except OSError:
                writer.transport.abort()
                return
            pair.server = up_writer
            await asyncio.gather(
                self._pipe(reader, up_writer, upstream=True),
                self._pipe(up_reader, writer, upstream=False),
                return_exceptions=True,
            )
        finally:
            self._pairs.discard(pair)
            pair.abort()

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        while data := await source.read(65536):
            if self.mode == HANGING or (self.mode == DEAF and not upstream):
                continue  # swallowed: the other side waits for an answer that never comes
            if upstream:
                self.sent_at = time.monotonic()
            sink.write(data)
            await sink.drain()
        sink.transport.abort()


async def _drain_into_nothing(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass


def cut_at(engine: Engine, prefix: str, action: Callable[[], None], *, times: int = 1) -> list[str]:
    """Run `action` (e.g. `proxy.refuse`) just before the first `times` statements starting
    with `prefix` are sent on `engine`; returns the list of statements it fired at."""
    fired: list[str] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if len(fired) < times and sql.lstrip().upper().startswith(prefix.upper()):
            fired.append(sql.split("\n")[0][:60])
            action()

    event.listen(engine, "before_cursor_execute", before)
    return fired
