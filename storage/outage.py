"""Database outages: which failures mean "the database cannot be reached right now".

Managed PostgreSQL fails over, restarts for maintenance, and the network path to it drops or
hangs. Such a failure says nothing about the update being handled: the same step succeeds once
the database answers again. `is_unreachable` is the one classification of them, used wherever
the bot decides between "wait and try again" and "this is a bug":

* the connection itself: refused, reset, closed, a name that does not resolve, a timeout
  (connect, command, or waiting for a pooled connection);
* SQLAlchemy's disconnect handling: `InterfaceError`, a `DBAPIError` whose connection was
  invalidated, and the `PendingRollbackError` that the next use of such a connection raises;
* PostgreSQL refusing work for a while: SQLSTATE class 08 (connection exceptions), 57P01
  (admin shutdown), 57P02 (crash shutdown), 57P03 (cannot connect now: starting up or
  recovering), 53300 (too many connections), 25006 (read-only transaction: a standby that was
  just promoted, or the old primary after a failover);
* SQLite: "database is locked" once the busy timeout has passed (another process holds the
  write lock for longer).

Anything else (a constraint violation, a syntax error, a type error) is a bug, and is not
retried forever.

`Outage` keeps the log to one line when an outage begins and one when it ends, however many
attempts fail in between; `describe` names a failure without its SQL text or parameters.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

# PostgreSQL error codes that mean "not now", not "never" (see the module docstring).
UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "25006"})
CONNECTION_EXCEPTION_CLASS = "08"
SQLITE_LOCKED = "database is locked"
# The message of the PendingRollbackError raised on a connection invalidated by a disconnect
# (its other message, after a failed flush, is a bug of the caller).
_INVALIDATED = "invalid transaction is rolled back"


class DatabaseUnreachable(Exception):
    """The database did not answer within the configured limit (start-up)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (`orig`), and what it was raised from, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # Not __context__: a bug raised while handling a lost connection is still a bug.
        for inner in (getattr(current, "orig", None), current.__cause__):
            if isinstance(inner, BaseException):
                todo.append(inner)


def _sqlstate(exc: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def _one_is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.PendingRollbackError):
        return _INVALIDATED in str(exc)
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return SQLITE_LOCKED in str(exc)
    state = _sqlstate(exc)
    if state is not None:
        return state in UNREACHABLE_SQLSTATES or state.startswith(CONNECTION_EXCEPTION_CLASS)
    module = type(exc).__module__
    if module.startswith("asyncpg"):
        # asyncpg's own connection errors (its InterfaceError: "connection is closed",
        # ConnectionDoesNotExistError) carry no SQLSTATE.
        name = type(exc).__name__
        return name in ("InterfaceError", "ConnectionDoesNotExistError", "InternalClientError")
    return False


def is_unreachable(exc: BaseException) -> bool:
    """True if `exc` means the database cannot be reached now (retry later), not a bug."""
    return any(_one_is_unreachable(e) for e in _chain(exc))


def describe(exc: BaseException) -> str:
    """A short name for a failure: its innermost cause's type and first line, never the SQL
    or the parameters that SQLAlchemy's own messages carry."""
    innermost = exc
    for current in _chain(exc):
        if not isinstance(current, sa_exc.SQLAlchemyError):
            innermost = current
            break
    if isinstance(innermost, sa_exc.SQLAlchemyError):
        # SQLAlchemy's text starts with "(driver error) message" and goes on with the SQL.
        return type(innermost).__name__
    message = str(innermost).strip().splitlines()[0][:200] if str(innermost).strip() else ""
    name = type(innermost).__name__
    return f"{name}: {message}" if message else name


class Outage:
    """One log line when the database stops answering, one when it answers again.

    `failed` for each attempt that failed as unreachable, `answered` after each that went
    through; only the first failure and the first answer after it are logged.
    """

    def __init__(self, what: str, log: logging.Logger, *, name: str = "the database") -> None:
        self._what = what
        self._log = log
        self._name = name
        self._since: float | None = None
        self.attempts = 0

    def failed(self, exc: BaseException) -> None:
        self.attempts += 1
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning(
                "%s: %s is unreachable (%s); trying again until it answers",
                self._what,
                self._name,
                describe(exc),
            )

    def answered(self) -> None:
        if self._since is None:
            return
        seconds = time.monotonic() - self._since
        self._log.warning(
            "%s: %s answers again after %.1f s (%d failed attempts)",
            self._what,
            self._name,
            seconds,
            self.attempts,
        )
        self._since = None
        self.attempts = 0
