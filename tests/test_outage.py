"""The database goes away (cut, refused, hanging, failed over) while the bot runs.

PostgreSQL is reached through tests/db_proxy.py, which cuts, refuses or hangs on command; on
SQLite the same tests hold the write lock from outside or fail a statement with "database is
locked", the one way SQLite is "unreachable".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from aiogram.types import Update
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy import exc as sa_exc

from bot.emulator.server import BotApiEmulator
from bot.telegram import pipeline as pipeline_module
from bot.telegram.periodic import Periodic
from bot.telegram.pipeline import UpdatePipeline
from storage.db import Database
from storage.inbox import Inbox, _key_parts, _lock_id
from storage.models import InboxUpdate, Vote
from storage.outage import describe, is_unreachable
from tests.db_proxy import DatabaseProxy
from tests.harness import Citizen, Harness, RunningBot, make_settings

needs_postgres = pytest.mark.postgresql


def postgres_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a network path to cut: PostgreSQL")


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    postgres_only(database_url)
    running = DatabaseProxy(database_url)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def failure(database: Database, statement: str = "SELECT 1", **params: Any) -> BaseException:
    """The exception a statement raises; the test fails if it does not end within 30 s."""
    return await failure_of(database, lambda c: c.execute(text(statement), params))


async def failure_of(database: Database, work: Callable[[Connection], Any]) -> BaseException:
    statement = "the statement"
    attempt = asyncio.ensure_future(database.run_write(work))
    done, _ = await asyncio.wait({attempt}, timeout=30)
    if not done:
        attempt.cancel()
        raise AssertionError(f"{statement} still waits after 30 s")
    exc = attempt.exception()
    if exc is None:
        raise AssertionError(f"{statement} did not fail")
    return exc


async def test_lost_refused_hanging_and_failed_over_connections_are_unreachable(
    proxy: DatabaseProxy,
) -> None:
    database = Database(proxy.url, connect_timeout=1, command_timeout=1)
    try:
        await database.run_write(lambda c: c.execute(text("SELECT 1")))
        proxy.cut()  # the pooled connection is gone
        cut = await failure(database)
        assert is_unreachable(cut), repr(cut)
        proxy.refuse()
        refused = await failure(database)
        assert is_unreachable(refused), repr(refused)
        await proxy.restore()
        proxy.hang()  # a new connection that never answers: the connect timeout ends it
        hung = await failure(database)
        assert is_unreachable(hung), repr(hung)
        await proxy.restore()
        await database.run_write(lambda c: c.execute(text("SELECT 1")))  # answers again

        # Read-only after a failover: the old primary, or a standby just promoted (25006).
        def write_on_a_read_only_server(connection: Connection) -> None:
            connection.execute(text("SET TRANSACTION READ ONLY"))
            connection.execute(text("CREATE TABLE t (x int)"))

        read_only = await failure_of(database, write_on_a_read_only_server)
        assert is_unreachable(read_only), repr(read_only)
    finally:
        await database.dispose()


async def test_a_statement_on_a_hanging_connection_ends_in_the_command_timeout(
    proxy: DatabaseProxy,
) -> None:
    database = Database(proxy.url, connect_timeout=1, command_timeout=1)
    try:
        await database.run_write(lambda c: c.execute(text("SELECT 1")))
        proxy.hang()  # the pooled connection stays open, and nothing comes back
        hung = await failure(database)
        assert is_unreachable(hung), repr(hung)
        await proxy.restore()
        # The connection that timed out is not handed out again: the next statement works.
        assert await database.run_write(lambda c: c.scalar(text("SELECT 7"))) == 7
    finally:
        await database.dispose()


async def test_a_session_ended_by_the_server_is_unreachable_and_so_is_the_rollback_after_it(
    proxy: DatabaseProxy,
) -> None:
    database = Database(proxy.url, connect_timeout=1, command_timeout=2)
    try:
        async with database.write_engine.connect() as connection:
            await connection.begin()
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            await database.run_read(
                lambda c: c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            )  # 57P01 for that session (another pooled connection runs this)
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(200):  # pg_terminate_backend only asks it to end
                if not await database.run_read(lambda c: c.scalar(alive, {"pid": pid})):
                    break
                await asyncio.sleep(0.02)
            with pytest.raises(sa_exc.DBAPIError) as ended:
                await connection.execute(text("SELECT 1"))
            assert is_unreachable(ended.value), repr(ended.value)
            # The transaction died with the connection: its next use says so.
            with pytest.raises(sa_exc.PendingRollbackError) as next_use:
                await connection.execute(text("SELECT 1"))
            assert is_unreachable(next_use.value), repr(next_use.value)
    finally:
        await database.dispose()


async def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    database = Database("postgresql+asyncpg://bot@no-such-host.invalid/db", connect_timeout=2)
    try:
        assert is_unreachable(await failure(database))
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in read-only"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
)
def test_postgresql_errors_that_mean_not_now(error: Exception) -> None:
    assert is_unreachable(error)
    wrapped = sa_exc.DBAPIError("INSERT INTO votes VALUES ($1)", (4242,), error)
    assert is_unreachable(wrapped)


async def test_bugs_are_not_unreachable(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.run_write(lambda c: c.execute(text("CREATE TABLE t (x int PRIMARY KEY)")))
        await database.run_write(lambda c: c.execute(text("INSERT INTO t VALUES (1)")))
        duplicate = await failure(database, "INSERT INTO t VALUES (:x)", x=1)
        assert isinstance(duplicate, sa_exc.IntegrityError)
        assert not is_unreachable(duplicate)
        assert not is_unreachable(await failure(database, "SELECT * FROM no_such_table"))
        assert not is_unreachable(await failure(database, "SELEC 1"))
    finally:
        await database.dispose()
    assert not is_unreachable(ValueError("a bug"))
    assert not is_unreachable(KeyError("a bug"))


def test_sqlite_locked_past_the_busy_timeout_is_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("BEGIN IMMEDIATE")
        assert is_unreachable(locked.value)
        with pytest.raises(sqlite3.OperationalError) as missing:
            other.execute("SELECT * FROM no_such_table")
        assert not is_unreachable(missing.value)
    finally:
        holder.close()
        other.close()


async def test_outage_lines_name_the_failure_without_sql_or_values(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.run_write(lambda c: c.execute(text("CREATE TABLE t (x bigint PRIMARY KEY)")))
        await database.run_write(lambda c: c.execute(text("INSERT INTO t VALUES (8000000123)")))
        duplicate = await failure(database, "INSERT INTO t VALUES (:x)", x=8000000123)
    finally:
        await database.dispose()
    # hide_parameters: SQLAlchemy's own message names the statement but not the values.
    assert "8000000123" not in str(duplicate).split("[SQL:")[1]
    assert "INSERT" not in describe(duplicate)
    cut = sa_exc.DBAPIError(
        "INSERT INTO votes VALUES ($1)", (4242,), ConnectionResetError("reset by peer")
    )
    assert describe(cut) == "ConnectionResetError: reset by peer"


# --------------------------------------------------------------------------- the running bot

SORRY = "etwas schiefgegangen"


class Blackout:
    """The database goes away and comes back. PostgreSQL: the proxy cuts every connection and
    refuses new ones. SQLite: every statement fails with "database is locked" (the lock of
    another process, held past the busy timeout). `at(prefix)` starts it just before the next
    statement that holds `prefix` is sent."""

    def __init__(self, proxy: DatabaseProxy | None) -> None:
        self.proxy = proxy
        self.down = False
        self.fired: list[str] = []
        self.refused_statements = 0
        self._armed: str | None = None

    def attach(self, database: Database) -> None:
        engines = {database.write_engine, database.read_engine, database.lookup_engine}
        for engine in engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        # Within the statement: on PostgreSQL the inbox writes are one statement each, with
        # the payload in a WITH clause ahead (storage/inbox.py).
        if self._armed is not None and self._armed in sql.upper():
            self._armed = None
            self.fired.append(sql.split("\n")[0][:60])
            self.begin()
        if self.down and self.proxy is None:
            self.refused_statements += 1
            raise sqlite3.OperationalError("database is locked")

    def at(self, prefix: str) -> None:
        self._armed = prefix.upper()

    def begin(self) -> None:
        self.down = True
        if self.proxy is not None:
            self.proxy.refuse()

    async def end(self) -> None:
        self.down = False
        if self.proxy is not None:
            await self.proxy.restore()


@pytest.fixture
async def blackout(database_url: str) -> AsyncIterator[tuple[str, Blackout]]:
    """The database URL the bot should use, and the blackout that can cut it off."""
    if database_url.startswith("sqlite"):
        yield database_url, Blackout(None)
        return
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    try:
        yield proxy.url, Blackout(proxy)
    finally:
        await proxy.stop()


@pytest.fixture
async def cut_off(
    emulator: BotApiEmulator, blackout: tuple[str, Blackout]
) -> AsyncIterator[tuple[Harness, Blackout]]:
    """The bot polling the emulator, on a database that a test can make unreachable."""
    url, down = blackout
    settings = make_settings(emulator.base_url, url)
    policy = replace(settings.database, connect_timeout=1, command_timeout=2, retry_max_pause=0.2)
    bot = RunningBot(settings.with_overrides(database=policy))
    await bot.start()
    assert bot.app is not None
    down.attach(bot.app.database)
    try:
        yield Harness(emulator, bot), down
    finally:
        await down.end()
        await bot.stop()


async def counted(harness: Harness, query: Any) -> int:
    assert harness.bot.app is not None
    async with harness.bot.app.database.reading() as session:
        return int(await session.scalar(query) or 0)


async def retried(caplog: pytest.LogCaptureFixture, harness: Harness, times: int) -> None:
    """Wait until the pipeline has put off a step `times` times."""

    def count() -> int:
        return sum("could not be handled now" in r.getMessage() for r in caplog.records)

    await harness.emulator.wait_for(lambda: count() >= times, timeout=20)


async def to_review(c: Citizen) -> None:
    await c.send("/start")
    await c.press("Mitmachen")
    await c.press("Mobilität & ÖPNV")
    await c.press("Weiter")
    await c.press("Überspringen")
    assert "Schritt 3 von 3" in c.last_text


async def test_a_step_cut_off_at_its_vote_is_run_again_once_the_database_answers(
    cut_off: tuple[Harness, Blackout], caplog: pytest.LogCaptureFixture
) -> None:
    """No apology, not marked done: the same task runs it again after the outage, and the
    person's later update waits behind it. The vote is stored once."""
    harness, down = cut_off
    c = harness.citizen(7301)
    await to_review(c)
    down.at("INSERT INTO votes")
    with caplog.at_level(logging.DEBUG, logger="bot.telegram.pipeline"):
        c.user.press("Absenden")
        await retried(caplog, harness, 2)
        assert len(down.fired) == 1 and down.fired[0].startswith("INSERT INTO votes")
        c.user.send_text("/meinvotum")  # later, while the database is still away
        await down.end()
        await harness.settle()
    texts = [m.text for m in c.user.messages]
    assert not any(SORRY in t for t in texts)
    assert sum("Danke!" in t for t in texts) == 1
    # In order: the thanks (the submitted step), then the answer to /meinvotum.
    assert "Danke!" in texts[-2] and "Mobilität & ÖPNV" in texts[-1]
    assert await counted(harness, select(func.count()).select_from(Vote)) == 1
    pending = select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status != "done")
    assert await counted(harness, pending) == 0
    # One warning for the outage, however often the step was tried meanwhile.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    handling = [w for w in warnings if w.startswith("handling updates:")]
    assert len(handling) == 2 and "unreachable" in handling[0], warnings
    assert not any("could not be handled" in w for w in warnings), warnings


async def test_a_lost_done_mark_is_written_again_and_the_next_tap_does_not_wait_forever(
    cut_off: tuple[Harness, Blackout], caplog: pytest.LogCaptureFixture
) -> None:
    """The step ran and replied; then its "done" mark fails. The update is run again (as a
    replay: the tapped topic stays chosen), and the person's next tap is handled after it."""
    harness, down = cut_off
    c = harness.citizen(7302)
    await c.send("/start")
    await c.press("Mitmachen")
    down.at("UPDATE inbox SET status")
    with caplog.at_level(logging.DEBUG, logger="bot.telegram.pipeline"):
        c.user.press("Mobilität & ÖPNV")
        await retried(caplog, harness, 2)
        c.user.press("Sport & Events", message_id=c.user.last_message.message_id)
        await down.end()
        await harness.settle()
    assert "Gewählt: 2 von 3" in c.last_text
    assert not any(SORRY in m.text for m in c.user.messages)
    pending = select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status != "done")
    assert await counted(harness, pending) == 0


async def test_polling_waits_while_a_batch_cannot_be_recorded_and_confirms_nothing(
    cut_off: tuple[Harness, Blackout], caplog: pytest.LogCaptureFixture
) -> None:
    """Recording fails: the offset stays, the same updates are fetched again and recorded
    once the database answers; one log line for the outage, not one per attempt."""
    harness, down = cut_off
    c = harness.citizen(7303)
    await c.send("/start")
    down.at("INSERT INTO inbox ")
    with caplog.at_level(logging.WARNING, logger="bot.telegram.polling"):
        c.user.press("Mitmachen")
        # Fetched again and again, never confirmed (the emulator keeps it queued).
        polls = len(harness.emulator.calls_to("getUpdates"))
        await harness.emulator.wait_for(
            lambda: len(harness.emulator.calls_to("getUpdates")) >= polls + 3, timeout=20
        )
        assert harness.emulator.pending_updates == 1
        await down.end()
        await harness.settle()
    assert "Gewählt: 0 von 3" in c.last_text
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.polling"]
    assert len([line for line in lines if "is unreachable" in line]) == 1, lines
    assert len([line for line in lines if "answers again" in line]) == 1, lines
    assert not any("INSERT" in line or "7303" in line for line in lines), lines
    assert harness.bot.app is not None and harness.bot._task is not None
    assert not harness.bot._task.done()  # still polling


async def test_updates_whose_record_committed_but_whose_answer_was_lost_are_still_handled(
    cut_off: tuple[Harness, Blackout], caplog: pytest.LogCaptureFixture
) -> None:
    """The COMMIT of a batch reaches the server, its answer does not: polling tries again, and
    the insert's RETURNING leaves those ids out (they are there already). They are this
    instance's own pending rows, so they count as new and are handled, once."""
    harness, down = cut_off
    if down.proxy is None:
        pytest.skip("a COMMIT whose answer is lost: PostgreSQL over the network")
    proxy = down.proxy
    assert harness.bot.app is not None
    engine = harness.bot.app.database.write_engine.sync_engine
    recorded: list[bool] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "INSERT INTO inbox " in sql and not recorded:
            recorded.append(True)

    def on_commit(_conn: Any) -> None:
        if recorded == [True]:
            recorded.append(False)
            proxy.lose_answers()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", on_commit)
    c = harness.citizen(7304)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.polling"):
        c.user.send_text("/start")
        await harness.emulator.wait_for(
            lambda: any("unreachable" in r.getMessage() for r in caplog.records), timeout=20
        )
        await down.end()
        await harness.settle()
    assert len([m for m in c.user.messages if "Datenschutz" in m.text]) == 1
    done = select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status == "done")
    assert await counted(harness, done) == 1


# --------------------------------------------------------------------------- liveness locks


async def lock_holders(database: Database, owner: str) -> int:
    """Sessions holding `owner`'s liveness lock in this database."""
    high, low = _key_parts(_lock_id(owner))
    held = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = :high AND objid = :low AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int(await database.run_read(lambda c: c.scalar(held, {"high": high, "low": low})))


async def lock_released(database: Database, owner: str) -> None:
    """Wait until the server has ended the cut session and with it `owner`'s lock."""
    for _ in range(200):
        if not await lock_holders(database, owner):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the lock of {owner} is still held")


async def test_a_lock_lost_in_an_outage_is_taken_again_and_not_taken_over_before_the_grace(
    proxy: DatabaseProxy, database_url: str
) -> None:
    """Instance A reaches the database through the proxy, B directly. A cut frees A's lock:
    B does not take A's update over within the grace period, A takes its lock again on a new
    connection and keeps its update. Once A is really gone, B takes it over after the grace,
    and A, back after that, no longer counts the update as its own."""
    now = [0.0]
    a_db = Database(proxy.url, connect_timeout=1, command_timeout=2)
    b_db = Database(database_url)
    a = Inbox(a_db, owner=f"instance-a-{uuid.uuid4().hex}")
    grace = {"takeover_grace": 10, "monotonic": lambda: now[0]}
    b = Inbox(b_db, owner=f"instance-b-{uuid.uuid4().hex}", **grace)  # type: ignore[arg-type]
    try:
        await a.open()
        await b.open()
        assert await a.record([(1, '{"update_id": 1}')], {1: 11}) == [1]
        generation = a.generation

        proxy.refuse()  # A's session ends, and with it its lock
        await lock_released(b_db, a.owner)
        with pytest.raises(Exception) as away:
            await a.hold_lock()  # no new connection while refused
        assert is_unreachable(away.value)
        assert await b.pending() == []  # free, but maybe only for the outage
        now[0] += 5
        assert await b.pending() == []
        # An instance started meanwhile does not take it either.
        c = Inbox(b_db, owner=f"instance-c-{uuid.uuid4().hex}", **grace)  # type: ignore[arg-type]
        assert await c.pending() == []
        await c.close()

        await proxy.restore()
        await a.hold_lock()  # on a new connection
        assert a.generation == generation + 1
        assert a.still_mine(1, generation)
        now[0] += 60
        assert await b.pending() == []  # A holds its lock again: alive

        proxy.refuse()  # and now A is gone for good
        await lock_released(b_db, a.owner)
        assert await b.pending() == []  # seen free for the first time
        now[0] += 9
        assert await b.pending() == []
        now[0] += 2
        assert [update_id for update_id, _ in await b.pending()] == [1]  # after the grace

        await proxy.restore()
        await a.hold_lock()
        assert not a.still_mine(1, generation)  # B has it now
    finally:
        for inbox in (a, b):
            with contextlib.suppress(Exception):
                await inbox.close()
        await a_db.dispose()
        await b_db.dispose()


async def test_the_sweeper_logs_an_outage_once_and_takes_the_lock_again(
    cut_off: tuple[Harness, Blackout], caplog: pytest.LogCaptureFixture
) -> None:
    """The liveness lock's own connection is cut (at the sweeper's statement on it): one log
    line for the outage, no traceback every second, and afterwards the lock is held again,
    on a new connection, and the bot answers."""
    harness, down = cut_off
    if down.proxy is None:
        pytest.skip("a liveness lock: PostgreSQL")
    assert harness.bot.app is not None
    inbox = harness.bot.app.pipeline._inbox
    owner = inbox.owner
    c = harness.citizen(7305)
    await c.send("/start")
    down.at("SELECT DISTINCT inbox.owner")
    with caplog.at_level(logging.WARNING):
        await harness.emulator.wait_for(lambda: bool(down.fired), timeout=20)
        # Sweeps fail meanwhile, a second apart: the outage lasts a few of them.
        await asyncio.sleep(3.5)
        await down.end()
        await c.press("Mitmachen")
        await harness.emulator.wait_for(
            lambda: any(
                "orphaned updates: the database answers" in r.getMessage() for r in caplog.records
            ),
            timeout=20,
        )
    assert "Gewählt: 0 von 3" in c.last_text
    sweeps = [r for r in caplog.records if "orphaned" in r.getMessage()]
    assert [r.exc_info for r in sweeps] == [None, None], [r.getMessage() for r in sweeps]
    assert "unreachable" in sweeps[0].getMessage() and "answers again" in sweeps[1].getMessage()
    await harness.emulator.wait_for(lambda: inbox.generation == 1, timeout=20)
    assert harness.bot.app is not None
    assert await lock_holders(harness.bot.app.database, owner) == 1


async def test_a_group_commit_that_cannot_reach_the_database_fails_every_write_at_once(
    database_url: str,
) -> None:
    """A grouped transaction that fails for a bug is taken apart, each write alone, so only the
    bad one fails. One that fails because the database is away fails the whole group: one
    attempt, not one timeout after another."""
    database = Database(database_url)
    down = [False]
    calls: list[int] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if down[0] and sql.startswith("INSERT INTO t"):
            raise ConnectionResetError("connection reset by peer")

    def write(n: int) -> Callable[[Connection], None]:
        def work(connection: Connection) -> None:
            calls.append(n)
            connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": n})

        return work

    try:
        await database.run_write(lambda c: c.execute(text("CREATE TABLE t (x int PRIMARY KEY)")))
        event.listen(database.write_engine.sync_engine, "before_cursor_execute", before)
        # A bug in one write (a duplicate key): the others still go through.
        results = await asyncio.gather(
            *(database.run_write_grouped(write(n)) for n in (1, 1, 2)), return_exceptions=True
        )
        assert [type(r).__name__ for r in results] == ["NoneType", "IntegrityError", "NoneType"]
        calls.clear()
        down[0] = True
        results = await asyncio.gather(
            *(database.run_write_grouped(write(n)) for n in (3, 4, 5)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) and is_unreachable(r) for r in results), results
        assert calls == [3]  # the group's first write failed; none was tried alone
    finally:
        await database.dispose()


async def test_periodic_work_logs_an_outage_once_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A background step (digests, housekeeping) that cannot reach the database: one line when
    that begins and one when it ends, no traceback per try; a bug still logs its traceback."""
    outcomes: list[BaseException | None] = [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionRefusedError(111, "Connection refused"),
        None,
        ValueError("a bug"),
        None,
    ]
    ran = asyncio.Event()

    async def step() -> float:
        outcome = outcomes.pop(0)
        if not outcomes:
            ran.set()
        if outcome is not None:
            raise outcome
        return 0.0

    loop = Periodic("housekeeping", step, after_failure=0.0, min_pause=0.0)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.periodic"):
        loop.start()
        await asyncio.wait_for(ran.wait(), 10)
        await loop.stop()
    lines = [(r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert [text.split(" (")[0].split(" after")[0] for text, _ in lines] == [
        "housekeeping: the database is unreachable",
        "housekeeping: the database answers again",
        "housekeeping failed",
    ], lines
    assert [traceback for _, traceback in lines] == [False, False, True]


async def test_the_pipeline_leaves_an_update_that_another_instance_took_over_meanwhile() -> None:
    """After its lock was taken again, an instance does not handle what it scheduled before
    the outage if another instance has taken it over since (storage/inbox.py `still_mine`)."""

    class LostOne:
        """An inbox shared with other instances, one of which has taken update 2 over."""

        shared = True
        generation = 0

        def __init__(self) -> None:
            self.held = 0

        async def record(self, payloads: Any, keys: Any) -> list[int]:
            return [update_id for update_id, _ in payloads]

        async def wait_turn(self, key: int, update_id: int, stop: Any = None) -> bool:
            return True

        async def hold_lock(self) -> None:
            self.held += 1

        def still_mine(self, update_id: int, generation: int) -> bool:
            return update_id != 2

        async def finish(self, update_id: int, *, failed: bool, also: Any = None) -> None:
            pass

    class Recorder:
        def __init__(self) -> None:
            self.handled: list[int] = []

        async def feed_update(self, bot: Any, update: Update, **context: Any) -> None:
            self.handled.append(update.update_id)

    def message(update_id: int, user_id: int) -> Update:
        chat = {"id": user_id, "type": "private"}
        sender = {"id": user_id, "is_bot": False, "first_name": "A"}
        return Update.model_validate(
            {
                "update_id": update_id,
                "message": {"message_id": 1, "date": 0, "chat": chat, "from": sender, "text": "x"},
            }
        )

    inbox, dispatcher = LostOne(), Recorder()
    pipeline = UpdatePipeline(dispatcher, None, inbox)  # type: ignore[arg-type]
    await pipeline.accept([message(1, 501), message(2, 502), message(3, 501)])
    await pipeline.wait_idle()
    assert dispatcher.handled == [1, 3]
    assert inbox.held == 3  # the lock checked before each of them


async def test_stopping_during_an_outage_leaves_the_step_pending_for_the_next_start(
    cut_off: tuple[Harness, Blackout], caplog: pytest.LogCaptureFixture
) -> None:
    """The bot is stopped while a step waits for the database: the stop does not wait for the
    outage to end, the step stays pending in the inbox, and the next start finishes it once."""
    harness, down = cut_off
    c = harness.citizen(7306)
    await to_review(c)
    down.at("INSERT INTO votes")
    with caplog.at_level(logging.DEBUG, logger="bot.telegram.pipeline"):
        c.user.press("Absenden")
        await retried(caplog, harness, 1)
        await asyncio.wait_for(harness.bot.stop(), 30)  # still unreachable
    assert any("left pending for the next start" in r.getMessage() for r in caplog.records)
    await down.end()
    await harness.bot.start()
    await harness.emulator.wait_for(lambda: "Danke!" in c.last_text, 20)
    await harness.settle()
    assert sum("Danke!" in m.text for m in c.user.messages) == 1
    assert not any(SORRY in m.text for m in c.user.messages)
    assert await counted(harness, select(func.count()).select_from(Vote)) == 1


async def test_a_lost_commit_answer_is_not_left_pending_when_telegram_sends_it_elsewhere(
    proxy: DatabaseProxy, database_url: str
) -> None:
    """Webhook, several instances: A's record commits but its answer is lost, so Telegram gets
    a 503 and sends the update again, to B. B finds it recorded already (not new); A, whose
    lock is alive, picks it up itself on its next look for unfinished updates."""
    a_db = Database(proxy.url, connect_timeout=1, command_timeout=1)
    b_db = Database(database_url)
    a, b = Inbox(a_db), Inbox(b_db)
    try:
        await a.open()
        await b.open()

        def lose_the_answer(_conn: Any) -> None:
            proxy.lose_answers()

        event.listen(a_db.write_engine.sync_engine, "commit", lose_the_answer, once=True)
        with pytest.raises(Exception) as lost:
            await a.record([(5, '{"update_id": 5}')], {5: 55})
        assert is_unreachable(lost.value), repr(lost.value)
        await proxy.restore()
        assert await b.record([(5, '{"update_id": 5}')], {5: 55}) == []  # there already
        assert await b.pending() == []  # A is alive: not B's
        assert [update_id for update_id, _ in await a.pending()] == [5]
        assert await a.pending() == []  # once
    finally:
        for inbox in (a, b):
            with contextlib.suppress(Exception):
                await inbox.close()
        await a_db.dispose()
        await b_db.dispose()


async def test_the_sweeper_waits_longer_after_each_bug_and_not_after_success(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep that fails for a bug (not an outage) pauses twice as long each time, up to a
    minute; a sweep that works brings the pause back to the configured one."""
    outcomes = [RuntimeError("bug")] * 7 + [None] + [RuntimeError("bug")] + [None]
    pauses: list[float] = []

    async def resume() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if not outcomes:
            raise asyncio.CancelledError

    monkeypatch.setattr(pipeline_module.asyncio, "sleep", sleep)
    stand_in = SimpleNamespace(_resume=resume)
    with pytest.raises(asyncio.CancelledError):
        await UpdatePipeline._sweep(stand_in, 1.0)  # type: ignore[arg-type]
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 1.0, 2.0, 1.0]
