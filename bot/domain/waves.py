"""Waves of new accounts: a start-link source and a time window whose participants a moderator
sets aside, so that they stop counting (standings, results, digests, opinion groups) until the
wave is restored. Parsing and checking the moderator's window; no aiogram, no SQL.

`/welle flyer_essen 14:00 15:30` (today), `/welle flyer_essen 02.12. 22:00 03.12. 01:00`,
`/welle flyer_essen 03.12.2026 14:00 jetzt`. Times are in the consultation's time zone; the
window is [from, to) and ends at the latest now (nobody has consented in the future).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.participation import SOURCE_PATTERN

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})?$")
NOW_WORDS = frozenset({"jetzt", "now"})
# The "by hour" part of /stats.
STATS_HOURS = 24


class WaveState(StrEnum):
    PROPOSED = "proposed"  # shown as a preview, not applied
    SET_ASIDE = "set_aside"
    RESTORED = "restored"
    CANCELLED = "cancelled"


class WaveProblem(StrEnum):
    USAGE = "usage"  # not "<source> <from> <to>"
    SOURCE = "source"  # not a start-link source
    TIME = "time"  # a time or date that does not exist
    ORDER = "order"  # the window ends before it starts (or starts in the future)


@dataclass(frozen=True)
class WaveWindow:
    source: str
    start: datetime  # aware
    end: datetime  # aware, exclusive, never after `now`


@dataclass(frozen=True)
class WaveRecord:
    id: int
    source: str
    start: datetime
    end: datetime
    state: WaveState
    participants: int
    impulses: int
    changed_at: datetime


@dataclass(frozen=True)
class Arrivals:
    """New participants (by consent time) since `since`: per hour (index 0 is the hour that
    starts at `since`) and per source (None: no start link), most first."""

    since: datetime
    by_hour: dict[int, int]
    by_source: list[tuple[str | None, int]]


def parse_wave(args: str | None, now: datetime, zone: ZoneInfo) -> WaveWindow | WaveProblem:
    """`<source> <from> <to>`; each point is `HH:MM` (today), `TT.MM.[JJJJ] HH:MM`, and the
    end may be `jetzt`/`now`."""
    tokens = (args or "").split()
    if len(tokens) < 3:
        return WaveProblem.USAGE
    source, rest = tokens[0], tokens[1:]
    if not SOURCE_PATTERN.match(source):
        return WaveProblem.SOURCE
    local_now = now.astimezone(zone)
    start, rest = _point(rest, local_now, zone)
    if start is None:
        return WaveProblem.TIME
    if len(rest) == 1 and rest[0].lower() in NOW_WORDS:
        end: datetime | None = now
        rest = []
    else:
        end, rest = _point(rest, local_now, zone)
    if rest:
        return WaveProblem.USAGE
    if end is None:
        return WaveProblem.TIME
    end = min(end, now)
    if start >= end:
        return WaveProblem.ORDER
    return WaveWindow(source=source, start=start, end=end)


def _point(
    tokens: list[str], local_now: datetime, zone: ZoneInfo
) -> tuple[datetime | None, list[str]]:
    """One point in time from the front of `tokens`, and the tokens after it."""
    if not tokens:
        return None, tokens
    day = local_now.date()
    first = _DATE.match(tokens[0])
    if first is not None:
        if len(tokens) < 2:
            return None, []
        year = int(first.group(3)) if first.group(3) else local_now.year
        try:
            day = date(year, int(first.group(2)), int(first.group(1)))
        except ValueError:
            return None, []
        if first.group(3) is None and day > local_now.date() + timedelta(days=1):
            day = day.replace(year=year - 1)  # "31.12." typed on the 1st of January
        tokens = tokens[1:]
    clock = _TIME.match(tokens[0])
    if clock is None:
        return None, []
    moment = datetime.combine(day, time(int(clock.group(1)), int(clock.group(2))), tzinfo=zone)
    return moment, tokens[1:]


def stats_since(now: datetime, zone: ZoneInfo, hours: int = STATS_HOURS) -> datetime:
    """Where the /stats "new by hour" lines start: the current local hour and the `hours - 1`
    before it. Hour `i` of the result is [since + i hours, since + i + 1 hours)."""
    local_hour = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return local_hour - timedelta(hours=hours - 1)


def bar(count: int, largest: int, width: int) -> str:
    """A text bar for a count, at most `width` long; any count above zero shows."""
    if count <= 0 or largest <= 0:
        return ""
    return "▇" * max(1, round(width * count / largest))
