"""Load benchmark: simulated citizens against the real bot process, through the emulator.

The emulator runs in this process; the bot (`dialogbot run`) and the floors (stock aiogram,
benchmarks/echo_bot.py) run as separate processes and reach it over HTTP, exactly as they would
reach Telegram. Every citizen goes through the whole dialog (start, consent, three topics, next,
an impulse, its topic, submit: nine updates) and waits for each step's reply before the next.

Phases (each prints into one JSON summary at the end):

* walk: a lone citizen's dialog with our bot, its Bot API calls recorded step by step from the
  emulator's call log (the ids that differ per citizen as placeholders): calls per dialog;
* saturation: closed loop, N citizens without think time: updates/s, CPU per update;
* open: open loop at a fixed offered rate: latency from the update entering the emulator's
  queue to the bot's first API call for that citizen (p50/p95/p99);
* same-calls floor: stock aiogram with in-memory FSM and no database making, for each update,
  exactly the calls of the recorded walk's step (echo_bot.py --walk), at saturation;
* echo floor: a bare aiogram echo bot at saturation;
* memory: a fresh bot process, M citizens, resident size sampled as they go;
* the same walk, saturation and open loop on PostgreSQL, and round trips to it per update
  (through a counting proxy, in a run of its own);
* ratios: ours over each floor (`ratio_same_calls`, `ratio_echo`) for each database;
* checks: zero lost or duplicated answers (each citizen's API calls compared with the first
  citizen's), no API errors, the database holding exactly what was confirmed, and the
  same-calls floor making exactly the recorded calls.

`--postgres URL` names the PostgreSQL server (a fresh database is created and dropped here).
Defaults are sized so that `make bench` stays well under ten minutes; `--quick` for a shorter run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.app.config import load_settings  # noqa: E402
from bot.domain.pseudonym import pseudonym_for  # noqa: E402
from bot.emulator.server import ApiCall, BotApiEmulator, EmulatedUser  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Impulse, Participant, Vote  # noqa: E402

TOKEN = "5555:benchmark-token-0123456789abcdef"
SECRET = "benchmark-secret-with-256-bits-0123456789abcdef"
CONFIG = ROOT / "config.example.toml"
STEP_TIMEOUT = 30.0


# --------------------------------------------------------------------------- the emulator


class Watcher:
    """One citizen's view of the bot's calls: latency of the first reply, completion, counts."""

    __slots__ = ("done", "methods", "predicate", "sent_at", "sink")

    def __init__(self) -> None:
        self.sent_at: float | None = None
        self.sink: list[float] | None = None
        self.predicate: Callable[[], bool] | None = None
        self.done: asyncio.Future[None] | None = None
        self.methods: Counter[str] = Counter()

    def on_call(self, call: ApiCall) -> None:
        self.methods[call.method] += 1
        if self.sent_at is not None:
            if self.sink is not None:
                self.sink.append(call.time - self.sent_at)
            self.sent_at = None
        done = self.done
        if done is not None and not done.done() and self.predicate is not None and self.predicate():
            done.set_result(None)


class BenchEmulator(BotApiEmulator):
    """The stock emulator, plus: each API call wakes only the citizen it concerns, and the
    state of finished citizens can be dropped (a run of 100,000 citizens fits in memory)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watchers: dict[int, Watcher] = {}
        self.errors: list[str] = []
        self.methods: Counter[str] = Counter()
        self.lean = False  # drop the call log and per-user state as soon as possible
        self.observe_calls(self._on_call)

    def _on_call(self, call: ApiCall) -> None:
        if self.lean:
            self.api_calls.clear()
        self.methods[call.method] += 1
        if call.status != 200:
            self.errors.append(f"{call.method} -> {call.status} (chat {call.chat_id})")
        user_id = self._user_of(call)
        if user_id is not None:
            watcher = self.watchers.get(user_id)
            if watcher is not None:
                watcher.on_call(call)

    def _user_of(self, call: ApiCall) -> int | None:
        if isinstance(call.chat_id, int):
            return call.chat_id if self.has_user(call.chat_id) else None
        query_id = call.params.get("callback_query_id")
        if query_id is None:
            return None
        return self.callback_query_user(str(query_id), forget=self.lean)

    def forget(self, user_id: int) -> None:
        """Drop everything kept about a citizen who is done."""
        self.watchers.pop(user_id, None)
        self.forget_user(user_id)

    def enqueued_at(self, update_id: int) -> float:
        if self.lean:
            return self.forget_update(update_id)
        return self.update_enqueued_at(update_id)


# --------------------------------------------------------------------------- citizens


Action = Callable[[EmulatedUser], int]


def _shows(user: EmulatedUser, marker: str) -> Callable[[], bool]:
    def check() -> bool:
        newest = user.newest_message
        return newest is not None and marker in newest.text

    return check


@dataclass
class Citizen:
    """A scripted dialog: (action, text the step's last reply shows) pairs."""

    emu: BenchEmulator
    user: EmulatedUser
    steps: list[tuple[Action, str]]
    topics: tuple[str, ...]
    impulse: str
    watcher: Watcher = field(default_factory=Watcher)
    index: int = 0

    @property
    def finished(self) -> bool:
        return self.index >= len(self.steps)

    def send(self, sink: list[float] | None) -> asyncio.Future[None]:
        """Send the next step; the future resolves when its reply is complete."""
        action, marker = self.steps[self.index]
        self.index += 1
        watcher = self.watcher
        watcher.predicate = _shows(self.user, marker)
        watcher.done = asyncio.get_running_loop().create_future()
        watcher.sink = sink
        update_id = action(self.user)
        watcher.sent_at = self.emu.enqueued_at(update_id)
        return watcher.done


class Population:
    """Creates citizens with fresh ids, remembers what each confirmed, checks the answers."""

    def __init__(
        self, emu: BenchEmulator, first_id: int, seed: int, walk: Walk | None = None
    ) -> None:
        self.emu = emu
        self.walk = walk  # every citizen makes the choices of this recorded walk
        self._next_id = first_id
        self._rng = random.Random(seed)
        consultation = load_settings(CONFIG, env={"DIALOGBOT_SECRET": SECRET}).consultation
        self._topics = [(t.id, t.title) for t in consultation.topics]
        self.confirmed: dict[int, tuple[tuple[str, ...], str]] = {}
        self.expected_methods: Counter[str] | None = None
        self.mismatched: list[str] = []
        self.lost: list[str] = []

    def new(self) -> Citizen:
        user_id = self._next_id
        self._next_id += 1
        user = self.emu.user(user_id, first_name=f"B{user_id}")
        walk = self.walk
        if walk is None:
            chosen = self._rng.sample(self._topics, 3)
            impulse = f"Idee Nummer {user_id}: mehr Busse am Abend und sichere Radwege im Revier."
        else:
            titles = dict(self._topics)
            chosen = [(topic, titles[topic]) for topic in walk.topics]
            impulse = walk.impulse
        steps: list[tuple[Action, str]] = [
            (lambda u: u.send_text("/start"), "Datenschutz"),
            (lambda u: u.press("Mitmachen"), "Gewählt: 0 von 3"),
        ]
        for n, (_, title) in enumerate(chosen, 1):
            steps.append((_press(title), f"Gewählt: {n} von 3"))
        steps += [
            (lambda u: u.press("Weiter"), "Schritt 2 von 3"),
            (lambda u: u.send_text(impulse), "Zu welchem"),
            (_press(chosen[0][1]), "Schritt 3 von 3"),
            (lambda u: u.press("Absenden"), "Danke!"),
        ]
        citizen = Citizen(self.emu, user, steps, tuple(t for t, _ in chosen), impulse)
        self.emu.watchers[user_id] = citizen.watcher
        return citizen

    def finish(self, citizen: Citizen, *, keep: bool = True) -> None:
        """Called when the last step's reply arrived: compare the calls it received."""
        methods = citizen.watcher.methods
        if self.expected_methods is None:
            self.expected_methods = Counter(methods)
        elif methods != self.expected_methods:
            diff = (methods - self.expected_methods) + (self.expected_methods - methods)
            self.mismatched.append(f"citizen {citizen.user.id}: {dict(diff)}")
        self.confirmed[citizen.user.id] = (citizen.topics, citizen.impulse)
        if not keep:
            self.emu.forget(citizen.user.id)

    async def run_dialog(self, citizen: Citizen, sink: list[float] | None, keep: bool) -> int:
        """The whole dialog, each step after the previous reply; returns the steps done."""
        while not citizen.finished:
            try:
                await asyncio.wait_for(citizen.send(sink), STEP_TIMEOUT)
            except TimeoutError:
                self.lost.append(f"citizen {citizen.user.id} step {citizen.index}")
                return citizen.index
        self.finish(citizen, keep=keep)
        return citizen.index


def _press(title: str) -> Action:
    return lambda u: u.press(title)


# --------------------------------------------------------------------------- the recorded walk

STEP_NAMES = (
    "start",
    "consent",
    "topic 1",
    "topic 2",
    "topic 3",
    "next",
    "idea",
    "idea's topic",
    "submit",
)
QUIET = 0.3  # recording: a step is over when no call came for this long


@dataclass
class Walk:
    """One citizen's dialog as the emulator recorded it: per update, the Bot API calls the bot
    made for it, in order, with the ids that differ per citizen as placeholders ("$chat",
    "$query", "$sent:K" for the K-th message sent to the citizen); and the choices made."""

    topics: tuple[str, ...]
    impulse: str
    steps: list[list[dict[str, Any]]]

    def to_json(self) -> dict[str, Any]:
        return {"topics": list(self.topics), "impulse": self.impulse, "steps": self.steps}

    @property
    def calls(self) -> int:
        return sum(len(step) for step in self.steps)

    def where_calls_go(self) -> dict[str, list[str]]:
        """Per step, its calls' methods in order."""
        return {
            name: [call["method"] for call in step]
            for name, step in zip(STEP_NAMES, self.steps, strict=True)
        }

    def differences(self, other: Walk) -> list[str]:
        """Where another walk's calls differ from this one's (methods, fields and values)."""
        found = []
        for name, mine, theirs in zip(STEP_NAMES, self.steps, other.steps, strict=True):
            if mine != theirs:
                found.append(f"{name}: {mine} != {theirs}")
        return found


async def record_walk(population: Population) -> Walk:
    """One lone citizen's whole dialog, each step given time to finish (QUIET), its calls taken
    from the emulator's call log."""
    emu = population.emu
    citizen = population.new()
    user_id = citizen.user.id
    raw: list[list[ApiCall]] = []
    for _ in STEP_NAMES:
        first = len(emu.api_calls)
        await asyncio.wait_for(citizen.send(None), STEP_TIMEOUT)
        while True:  # the step's calls after its last reply (an answer to the press, say)
            await asyncio.sleep(QUIET / 3)
            mine = [c for c in emu.api_calls[first:] if c.method != "getUpdates"]
            if not mine or time.monotonic() - mine[-1].time > QUIET:
                break
        raw.append(mine)
    population.finish(citizen)
    sent = {
        m.message_id: f"$sent:{k}"
        for k, m in enumerate(emu.chat_messages(user_id, include_deleted=True))
    }
    queries: set[str] = set()
    steps = []
    for calls in raw:
        step = []
        for call in calls:
            params = dict(call.params)
            if params.get("chat_id") == user_id:
                params["chat_id"] = "$chat"
            if "message_id" in params and params.get("chat_id") == "$chat":
                params["message_id"] = sent[params["message_id"]]
            if "callback_query_id" in params:
                queries.add(params["callback_query_id"])
                params["callback_query_id"] = "$query"
            if _holds(params, {user_id, *queries}):
                raise RuntimeError(f"a citizen's id left in a recorded call: {params}")
            step.append({"method": call.method, "params": params})
        steps.append(step)
    return Walk(citizen.topics, citizen.impulse, steps)


def _holds(value: object, ids: set[int | str]) -> bool:
    """Whether a recorded value holds one of these ids (as a value, not inside a text)."""
    if isinstance(value, dict):
        return any(_holds(v, ids) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, ids) for v in value)
    return isinstance(value, int | str) and value in ids


# --------------------------------------------------------------------------- processes


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_process(
    emu: BenchEmulator, args: list[str], env: dict[str, str], log: Path
) -> BotProcess:
    before = emu.methods["getUpdates"]
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    running = BotProcess(process, log)
    deadline = time.monotonic() + 60
    while emu.methods["getUpdates"] <= before:
        if process.returncode is not None or time.monotonic() > deadline:
            if process.returncode is None:  # too slow to start: not left running behind us
                process.kill()
                await process.wait()
            tail = log.read_text()[-3000:]  # noqa: ASYNC240 - a failure report
            raise RuntimeError(f"{args} did not start polling; log:\n{tail}")
        await asyncio.sleep(0.05)
    return running


async def migrate(database_url: str, log: Path) -> None:
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            "db",
            "upgrade",
            "--config",
            str(CONFIG),
            env={**os.environ, "DIALOGBOT_DATABASE_URL": database_url},
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    if await process.wait() != 0:
        raise RuntimeError(f"dialogbot db upgrade failed; see {log}")


async def start_bot(emu: BenchEmulator, database_url: str, log: Path) -> BotProcess:
    env = {
        "DIALOGBOT_TOKEN": TOKEN,
        "DIALOGBOT_API_BASE": emu.base_url,
        "DIALOGBOT_DATABASE_URL": database_url,
        "DIALOGBOT_SECRET": SECRET,
    }
    args = ["-m", "bot.app.cli", "run", "--config", str(CONFIG)]
    return await start_process(emu, args, env, log)


# --------------------------------------------------------------------------- loads


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def latency_summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1) if values else float("nan"),
    }


async def closed_loop(
    population: Population,
    workers: int,
    seconds: float,
    warmup: float,
    process: BotProcess | None = None,
) -> dict[str, Any]:
    """`workers` citizens at a time, each starting the next dialog as soon as one ends."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, deadline = start + warmup, start + warmup + seconds
    counted = 0
    latencies: list[float] = []
    cpu: dict[str, float] = {}

    async def meter() -> None:
        await asyncio.sleep(max(measure_from - loop.time(), 0))
        cpu["bot"], cpu["harness"] = _cpu(process), time.process_time()
        await asyncio.sleep(max(deadline - loop.time(), 0))
        cpu["bot"], cpu["harness"] = (
            _cpu(process) - cpu["bot"],
            time.process_time() - cpu["harness"],
        )

    async def worker() -> None:
        nonlocal counted
        while loop.time() < deadline:
            citizen = population.new()
            while not citizen.finished:
                sink = latencies if loop.time() >= measure_from else None
                try:
                    await asyncio.wait_for(citizen.send(sink), STEP_TIMEOUT)
                except TimeoutError:
                    population.lost.append(f"citizen {citizen.user.id} step {citizen.index}")
                    return
                if measure_from <= loop.time() < deadline:
                    counted += 1
            population.finish(citizen)

    await asyncio.gather(meter(), *(worker() for _ in range(workers)))
    return {
        "citizens_in_parallel": workers,
        "seconds": seconds,
        "updates": counted,
        "updates_per_s": round(counted / seconds, 1),
        "latency": latency_summary(latencies),
        "cpu_share_bot": round(cpu["bot"] / seconds, 2),
        "cpu_share_harness": round(cpu["harness"] / seconds, 2),
        "bot_cpu_ms_per_update": round(cpu["bot"] / max(counted, 1) * 1000, 2),
    }


def _cpu(process: BotProcess | None) -> float:
    return process.cpu_seconds() if process is not None else 0.0


async def open_loop(population: Population, rate: float, seconds: float) -> dict[str, Any]:
    """A fixed offered rate: every 1/rate s the next step of a waiting citizen (or of a new
    one) is sent, whether or not the bot keeps up. Citizens still in a dialog at the end
    finish it unmeasured."""
    loop = asyncio.get_running_loop()
    ready: deque[Citizen] = deque()
    latencies: list[float] = []
    in_flight: set[asyncio.Future[None]] = set()
    late = 0

    def completed(citizen: Citizen, future: asyncio.Future[None]) -> None:
        in_flight.discard(future)
        if citizen.finished:
            population.finish(citizen)
        else:
            ready.append(citizen)

    start = loop.time()
    sent = 0
    while (due := start + sent / rate) < start + seconds:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1
        citizen = ready.popleft() if ready else population.new()
        future = citizen.send(latencies)
        in_flight.add(future)
        future.add_done_callback(functools.partial(completed, citizen))
        sent += 1
    elapsed = loop.time() - start
    # Let every started dialog finish (closed loop, unmeasured).
    stuck = await _drain(population, ready, in_flight)
    return {
        "offered_per_s": rate,
        "seconds": seconds,
        "sent": sent,
        "achieved_per_s": round(sent / elapsed, 1),
        "sent_late_by_harness": late,
        "latency": latency_summary(latencies),
        "unfinished_after_drain": stuck,
    }


async def _drain(
    population: Population, ready: deque[Citizen], in_flight: set[asyncio.Future[None]]
) -> int:
    deadline = time.monotonic() + 120
    while (ready or in_flight) and time.monotonic() < deadline:
        while ready:
            citizen = ready.popleft()
            future = citizen.send(None)
            in_flight.add(future)

            def completed(f: asyncio.Future[None], c: Citizen = citizen) -> None:
                in_flight.discard(f)
                if c.finished:
                    population.finish(c)
                else:
                    ready.append(c)

            future.add_done_callback(completed)
        await asyncio.sleep(0.01)
    for future in in_flight:
        population.lost.append("a step never answered (open loop)")
        future.cancel()
    return len(in_flight)


async def echo_floor(
    emu: BenchEmulator, workers: int, seconds: float, warmup: float, log: Path
) -> dict[str, Any]:
    env = {"DIALOGBOT_TOKEN": TOKEN, "DIALOGBOT_API_BASE": emu.base_url}
    process = await start_process(emu, [str(ROOT / "benchmarks" / "echo_bot.py")], env, log)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, deadline = start + warmup, start + warmup + seconds
    counted = 0
    latencies: list[float] = []
    errors = 0

    async def worker(user_id: int) -> None:
        nonlocal counted, errors
        user = emu.user(user_id)
        watcher = Watcher()
        emu.watchers[user_id] = watcher
        n = 0
        while loop.time() < deadline:
            n += 1
            text = f"echo {user_id} {n}"
            watcher.predicate = _shows(user, text)
            watcher.done = loop.create_future()
            watcher.sink = latencies if loop.time() >= measure_from else None
            watcher.sent_at = emu.enqueued_at(user.send_text(text))
            try:
                await asyncio.wait_for(watcher.done, STEP_TIMEOUT)
            except TimeoutError:
                errors += 1
                return
            if measure_from <= loop.time() < deadline:
                counted += 1
        emu.forget(user_id)

    cpu: dict[str, float] = {}

    async def meter() -> None:
        await asyncio.sleep(max(measure_from - loop.time(), 0))
        cpu["bot"], cpu["harness"] = process.cpu_seconds(), time.process_time()
        await asyncio.sleep(max(deadline - loop.time(), 0))
        cpu["bot"] = process.cpu_seconds() - cpu["bot"]
        cpu["harness"] = time.process_time() - cpu["harness"]

    try:
        await asyncio.gather(meter(), *(worker(900_000_000 + i) for i in range(workers)))
    finally:
        await process.stop()
    return {
        "citizens_in_parallel": workers,
        "seconds": seconds,
        "updates": counted,
        "updates_per_s": round(counted / seconds, 1),
        "latency": latency_summary(latencies),
        "lost": errors,
        "cpu_share_bot": round(cpu["bot"] / seconds, 2),
        "cpu_share_harness": round(cpu["harness"] / seconds, 2),
        "bot_cpu_ms_per_update": round(cpu["bot"] / max(counted, 1) * 1000, 2),
    }


async def memory_run(
    emu: BenchEmulator, database_url: str, citizens: int, workers: int, log: Path
) -> dict[str, Any]:
    """A fresh bot; `citizens` whole dialogs; resident size sampled every tenth of the way."""
    population = Population(emu, 300_000_000, seed=7)
    emu.lean = True
    # Migrated beforehand, as a deployment does (README): a bot that migrates at its own start
    # carries alembic, 12 MB, until its next restart.
    await migrate(database_url, log)
    bot = await start_bot(emu, database_url, log)
    samples: list[tuple[int, float]] = [(0, bot.rss_mb())]
    every = max(citizens // 10, 1)
    remaining = citizens
    done = 0

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0:
            remaining -= 1
            await population.run_dialog(population.new(), None, keep=False)
            done += 1
            if done % every == 0:
                samples.append((done, round(bot.rss_mb(), 1)))

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.monotonic() - started
        samples.append((done, round(bot.rss_mb(), 1)))
    finally:
        await bot.stop()
        emu.lean = False
    # Growth over the second half, where start-up allocations are behind us.
    half = [s for s in samples if s[0] >= citizens // 2]
    growth = (half[-1][1] - half[0][1]) / max(half[-1][0] - half[0][0], 1) * 1000
    stored = await _count_rows(database_url)
    return {
        "citizens": done,
        "updates_per_s": round(done * 9 / elapsed, 1),
        "rss_mb_samples": samples,
        "rss_mb_final": samples[-1][1],
        "rss_growth_mb_per_1000_citizens_second_half": round(growth, 3),
        "stored": stored,
        "lost": len(population.lost),
        "mismatched": len(population.mismatched),
    }


# --------------------------------------------------------------------------- checks


async def _count_rows(database_url: str) -> dict[str, int]:
    from sqlalchemy import func

    database = Database(database_url)
    try:
        async with database.reading() as session:
            return {
                model.__tablename__: int(
                    await session.scalar(select(func.count()).select_from(model)) or 0
                )
                for model in (Participant, Vote, Impulse)
            }
    finally:
        await database.dispose()


async def check_database(database_url: str, population: Population) -> dict[str, Any]:
    """The database holds exactly the confirmed vote sets and impulses, nothing more."""
    expected = {
        pseudonym_for(user_id, SECRET): (frozenset(topics), impulse, topics[0])
        for user_id, (topics, impulse) in population.confirmed.items()
    }
    database = Database(database_url)
    try:
        async with database.reading() as session:
            ids = dict((await session.execute(select(Participant.id, Participant.pseudonym))).all())
            votes: dict[str, set[str]] = {}
            for participant_id, topic_id in await session.execute(
                select(Vote.participant_id, Vote.topic_id)
            ):
                votes.setdefault(ids[participant_id], set()).add(topic_id)
            impulses: dict[str, list[tuple[str, str]]] = {}
            for author_id, topic_id, text in await session.execute(
                select(Impulse.participant_id, Impulse.topic_id, Impulse.text)
            ):
                assert author_id is not None  # nothing is erased during a run
                impulses.setdefault(ids[author_id], []).append((text, topic_id))
    finally:
        await database.dispose()
    actual = {
        pseudonym: (frozenset(topics), *impulses.get(pseudonym, [("", "")])[0])
        for pseudonym, topics in votes.items()
    }
    wrong = sum(1 for p, v in expected.items() if actual.get(p) != v)
    extra = len(set(actual) - set(expected))
    double_impulses = sum(1 for found in impulses.values() if len(found) != 1)
    return {
        "confirmed_dialogs": len(expected),
        "vote_sets_in_database": len(actual),
        "missing_or_wrong": wrong,
        "unexpected": extra,
        "participants_without_one_impulse": double_impulses,
        "ok": wrong == 0 and extra == 0 and double_impulses == 0,
    }


# --------------------------------------------------------------------------- PostgreSQL


async def fresh_postgres(admin_url: str, name: str) -> str:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_postgres(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def postgres_reachable(admin_url: str) -> bool:
    try:
        import asyncpg

        connection = await asyncio.wait_for(asyncpg.connect(admin_url), 3)
    except (OSError, TimeoutError, ImportError, Exception):
        return False
    await connection.close()
    return True


# --------------------------------------------------------------------------- round trips


class RoundTripCounter:
    """A TCP proxy between the bot and PostgreSQL that counts round trips: a round trip is the
    server's answer to what the client sent since the server last spoke (pipelined statements
    sent together count once, as they cost one wait). Each round trip is labelled with the first
    statement the client sent for it (read from the wire protocol's Query, Parse and Bind
    messages), so a step's round trips can be told apart."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.round_trips = 0
        self.labels: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        wire = _Frontend()

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await source.read(65536):
                    if up:
                        wire.feed(data)
                    elif wire.asked:
                        self.round_trips += 1
                        self.labels[wire.label or "?"] += 1
                        wire.asked, wire.label = False, None
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        for task in (
            asyncio.create_task(pump(reader, upstream_writer, True)),
            asyncio.create_task(pump(upstream_reader, writer, False)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


class _Frontend:
    """What a PostgreSQL client sent: enough of the wire protocol to name the statements."""

    def __init__(self) -> None:
        self.buffer = b""
        self.started = False  # past the untyped start-up (and SSL request) messages
        self.asked = False
        self.label: str | None = None
        self.prepared: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self.asked = True
        self.buffer += data
        while True:
            head = 0 if not self.started else 1
            if len(self.buffer) < head + 4:
                return
            length = int.from_bytes(self.buffer[head : head + 4], "big")
            if len(self.buffer) < head + length:
                return
            kind, body = self.buffer[:head], self.buffer[head + 4 : head + length]
            self.buffer = self.buffer[head + length :]
            if not self.started:
                # The SSL request (80877103) is followed by the real start-up message.
                self.started = body[:4] != (80877103).to_bytes(4, "big")
                continue
            statement = None
            if kind == b"Q":
                statement = body.split(b"\0", 1)[0].decode(errors="replace")
            elif kind == b"P":
                name, query = body.split(b"\0", 2)[:2]
                statement = self.prepared[name] = query.decode(errors="replace")
            elif kind == b"B":
                statement = self.prepared.get(body.split(b"\0", 2)[1], "?")
            if statement is not None and self.label is None:
                self.label = " ".join(statement.split())[:70]


async def postgres_round_trips(
    emu: BenchEmulator, admin_url: str, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Round trips to PostgreSQL per update, counted by a proxy in a run of its own (the proxy
    costs time, so the loads above do not go through it): a lone citizen's walk, step by step,
    and a closed loop of `args.citizens` citizens, each less what the idle bot makes in as much
    time (its periodic sweeps and cache refreshes)."""
    from sqlalchemy.engine import make_url

    url = make_url(await fresh_postgres(admin_url, "dialogbot_bench_rt"))
    counter = RoundTripCounter(url.host or "127.0.0.1", url.port or 5432)
    port = await counter.start()
    proxied = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    population = Population(emu, 40_000_000, seed=4)
    bot = await start_bot(emu, proxied, workdir / "bot-rt.log")
    loop = asyncio.get_running_loop()
    try:
        await population.run_dialog(population.new(), None, keep=True)  # warm-up
        await asyncio.sleep(1)
        before, started = counter.round_trips, loop.time()
        await asyncio.sleep(3)
        idle_per_s = (counter.round_trips - before) / (loop.time() - started)
        citizen = population.new()
        by_step: dict[str, float] = {}
        labels_before = Counter(counter.labels)
        for name in STEP_NAMES:
            before, started = counter.round_trips, loop.time()
            await asyncio.wait_for(citizen.send(None), STEP_TIMEOUT)
            await asyncio.sleep(QUIET)
            idle = idle_per_s * (loop.time() - started)
            by_step[name] = round(max(counter.round_trips - before - idle, 0), 1)
        population.finish(citizen)
        statements = counter.labels - labels_before
        before = counter.round_trips
        loaded = await closed_loop(population, args.citizens, args.seconds, args.warmup)
        counted = counter.round_trips - before - idle_per_s * (args.seconds + args.warmup)
        # The closed loop counts updates in its measured window only; round trips were counted
        # over warm-up and window: scale by the window's share of the updates.
        updates = loaded["updates"] * (args.seconds + args.warmup) / args.seconds
    finally:
        await bot.stop()
        await counter.stop()
        await drop_postgres(admin_url, "dialogbot_bench_rt")
    return {
        "idle_round_trips_per_s": round(idle_per_s, 1),
        "lone_walk_by_step": by_step,
        "lone_walk_per_update": round(sum(by_step.values()) / len(by_step), 2),
        "lone_walk_statements": dict(statements.most_common()),
        "closed_loop_citizens": args.citizens,
        "closed_loop_updates_per_s_through_proxy": loaded["updates_per_s"],
        "closed_loop_per_update": round(counted / max(updates, 1), 2),
    }


# --------------------------------------------------------------------------- main


async def bot_loads(
    emu: BenchEmulator, database_url: str, args: argparse.Namespace, log: Path, first_id: int
) -> tuple[dict[str, Any], Walk]:
    population = Population(emu, first_id, seed=first_id)
    bot = await start_bot(emu, database_url, log)
    errors_before = len(emu.errors)
    profiler = None
    try:
        # Warm up: a lone citizen's walk, recorded (and the expected calls of one dialog).
        walk = await record_walk(population)
        if args.profile:
            output = args.profile  # PostgreSQL's beside SQLite's: bot.txt, bot-postgresql.txt
            if not database_url.startswith("sqlite"):
                output = output.with_stem(output.stem + "-postgresql")
            profiler = await start_profiler(bot.pid, output, args.seconds + args.warmup)
        saturation = await closed_loop(population, args.citizens, args.seconds, args.warmup, bot)
        if profiler is not None:
            await profiler.wait()
        seconds = args.open_seconds if database_url.startswith("sqlite") else args.pg_open_seconds
        opened = await open_loop(population, args.rate, seconds)
        rss = round(bot.rss_mb(), 1)
    finally:
        await bot.stop()
    database = await check_database(database_url, population)
    result = {
        "saturation": saturation,
        "open_loop": opened,
        "rss_mb_after": rss,
        "lost_answers": len(population.lost),
        "dialogs_with_wrong_calls": len(population.mismatched),
        "examples": (population.lost + population.mismatched)[:5],
        "api_errors": emu.errors[errors_before:][:20],
        "calls_per_dialog": dict(population.expected_methods or {}),
        "calls_per_dialog_total": walk.calls,
        "calls_by_step": walk.where_calls_go(),
        "database_check": database,
    }
    return result, walk


async def same_calls_floor(
    emu: BenchEmulator, walk: Walk, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Stock aiogram making the recorded walk's calls (echo_bot.py --walk) at saturation: the
    same closed loop as our bot's, its citizens making the walk's choices."""
    path = workdir / "walk.json"
    path.write_text(json.dumps(walk.to_json(), ensure_ascii=False))
    env = {"DIALOGBOT_TOKEN": TOKEN, "DIALOGBOT_API_BASE": emu.base_url}
    script = str(ROOT / "benchmarks" / "echo_bot.py")
    process = await start_process(emu, [script, "--walk", str(path)], env, workdir / "same.log")
    population = Population(emu, 30_000_000, seed=3, walk=walk)
    errors_before = len(emu.errors)
    try:
        # Warm up, and check that the floor makes the calls it should.
        replayed = await record_walk(population)
        saturation = await closed_loop(
            population, args.citizens, args.seconds, args.warmup, process
        )
    finally:
        await process.stop()
    differences = walk.differences(replayed)
    return {
        "saturation": saturation,
        "same_calls_as_recorded": not differences,
        "differences": differences[:3],
        "calls_per_dialog_total": replayed.calls,
        "lost_answers": len(population.lost),
        "dialogs_with_wrong_calls": len(population.mismatched),
        "api_errors": emu.errors[errors_before:][:20],
    }


async def start_profiler(pid: int, output: Path, seconds: float) -> asyncio.subprocess.Process:
    """py-spy (from the dev extra) samples the bot process during the closed loop."""
    py_spy = Path(sys.executable).with_name("py-spy")
    return await asyncio.create_subprocess_exec(
        str(py_spy),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "200",
        "--format",
        {".json": "speedscope", ".txt": "raw"}.get(output.suffix, "flamegraph"),
        "--output",
        str(output),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="dialogbot-bench-"))
    summary: dict[str, Any] = {"machine": machine(), "workdir": str(workdir)}
    emu = BenchEmulator(token=TOKEN)
    await emu.start()
    try:
        if args.only_sqlite:
            args.skip_floors, args.memory_citizens, args.postgres = True, 0, ""
        if args.only_memory:
            summary["memory"] = await memory_run(
                emu,
                f"sqlite+aiosqlite:///{workdir / 'memory.sqlite3'}",
                args.memory_citizens,
                args.citizens,
                workdir / "memory.log",
            )
            return summary
        sqlite_url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
        summary["sqlite"], walk = await bot_loads(
            emu, sqlite_url, args, workdir / "bot.log", 10_000_000
        )
        print("sqlite:", json.dumps(summary["sqlite"]), file=sys.stderr)
        if not args.skip_floors:
            summary["same_calls_floor"] = await same_calls_floor(emu, walk, args, workdir)
            print("same-calls floor:", json.dumps(summary["same_calls_floor"]), file=sys.stderr)
            summary["echo_floor"] = await echo_floor(
                emu, args.citizens, args.seconds, args.warmup, workdir / "echo.log"
            )
            print("echo floor:", json.dumps(summary["echo_floor"]), file=sys.stderr)
        if args.memory_citizens:
            memory_url = f"sqlite+aiosqlite:///{workdir / 'memory.sqlite3'}"
            summary["memory"] = await memory_run(
                emu, memory_url, args.memory_citizens, args.citizens, workdir / "memory.log"
            )
            print("memory:", json.dumps(summary["memory"]), file=sys.stderr)
        if args.postgres and await postgres_reachable(args.postgres):
            url = await fresh_postgres(args.postgres, "dialogbot_bench")
            try:
                summary["postgresql"], pg_walk = await bot_loads(
                    emu, url, args, workdir / "bot-pg.log", 20_000_000
                )
            finally:
                await drop_postgres(args.postgres, "dialogbot_bench")
            summary["postgresql"]["same_methods_as_on_sqlite"] = (
                walk.where_calls_go() == pg_walk.where_calls_go()
            )
            summary["postgresql"]["round_trips"] = await postgres_round_trips(
                emu, args.postgres, args, workdir
            )
            print("round trips:", json.dumps(summary["postgresql"]["round_trips"]), file=sys.stderr)
        elif args.postgres:
            summary["postgresql"] = f"skipped: no PostgreSQL at {args.postgres}"
        summary["ratios"] = ratios(summary)
    finally:
        await emu.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return summary


def ratios(summary: dict[str, Any]) -> dict[str, Any]:
    """Ours over each floor, by updates/s at saturation and by the bot process's CPU time per
    update (steadier where others share the machine): 1.0 means as fast as that floor."""
    floors = {
        "same_calls": summary.get("same_calls_floor", {}).get("saturation", {}),
        "echo": summary.get("echo_floor", {}),
    }
    found: dict[str, Any] = {}
    for database in ("sqlite", "postgresql"):
        ours = summary.get(database)
        if not isinstance(ours, dict):
            continue
        rate, cpu = ours["saturation"]["updates_per_s"], ours["saturation"]["bot_cpu_ms_per_update"]
        for name, floor in floors.items():
            if floor.get("updates_per_s"):
                found[f"{database}_ratio_{name}"] = round(rate / floor["updates_per_s"], 3)
                found[f"{database}_ratio_{name}_by_cpu"] = round(
                    floor["bot_cpu_ms_per_update"] / max(cpu, 1e-9), 3
                )
    if isinstance(summary.get("postgresql"), dict) and "sqlite" in summary:
        found["postgresql_to_sqlite"] = round(
            summary["postgresql"]["saturation"]["updates_per_s"]
            / summary["sqlite"]["saturation"]["updates_per_s"],
            3,
        )
    if "sqlite" in summary:
        found["calls_per_dialog"] = summary["sqlite"]["calls_per_dialog_total"]
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=100, help="closed loop: in parallel")
    parser.add_argument("--seconds", type=float, default=10, help="closed loop: measured time")
    parser.add_argument("--warmup", type=float, default=3, help="closed loop: unmeasured start")
    parser.add_argument("--rate", type=float, default=100, help="open loop: offered updates/s")
    parser.add_argument("--open-seconds", type=float, default=20, help="open loop: duration")
    parser.add_argument(
        "--pg-open-seconds", type=float, default=10, help="open loop on PostgreSQL: duration"
    )
    parser.add_argument(
        "--memory-citizens", type=int, default=1000, help="memory run: dialogs (0: skip)"
    )
    parser.add_argument(
        "--skip-floors",
        action="store_true",
        help="measure neither the same-calls nor the echo floor",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="shorter: 5 s measured after 2 s of warm-up, open loops of 5 s, no memory run",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DIALOGBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1/test"),
        help="admin URL of a PostgreSQL server for the same loads ('' to skip)",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON summary here")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the bot during each closed loop (.svg, .json or .txt: collapsed stacks)",
    )
    parser.add_argument("--only-sqlite", action="store_true", help="skip echo, memory and PG")
    parser.add_argument(
        "--only-memory", action="store_true", help="only the memory run (--memory-citizens)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.open_seconds, args.pg_open_seconds = 5, 2, 5, 5
        args.memory_citizens = 0
    return args


if __name__ == "__main__":
    arguments = parse_args()
    result = asyncio.run(main(arguments))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    print("ratios:", json.dumps(result.get("ratios", {})), file=sys.stderr)
    if arguments.output:
        arguments.output.write_text(text + "\n")
