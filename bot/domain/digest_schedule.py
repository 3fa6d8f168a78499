"""When result digests are due: cron fire times in a local time zone, mapped to UTC periods.

Cron is matched against local wall-clock time. A matching wall time fires once, at the
first instant the local clock reaches it: a time repeated when DST ends fires on its first
occurrence only, a time skipped when DST starts fires at the moment the clock jumps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

DEFAULT_CRON = "0 18 * * *"
DEFAULT_TIMEZONE = "Europe/Berlin"

_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Period:
    """A digest period; `key` is stable and unique (the end in ISO form, UTC)."""

    key: str
    start: datetime
    end: datetime


class DigestSchedule:
    """Cron expression (5 fields) evaluated in an IANA time zone."""

    def __init__(self, cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.cron = " ".join(cron.split())
        self.timezone = timezone
        self._tz = _load_zone(timezone)
        _check_cron(self.cron)

    def __repr__(self) -> str:
        return f"DigestSchedule({self.cron!r}, {self.timezone!r})"

    def latest_due(self, now: datetime) -> Period:
        """The period that ended at the most recent fire time <= now."""
        end = self._fire_before(_as_utc(now) + _TICK)
        start = self._fire_before(end)
        return Period(key=end.isoformat(), start=start, end=end)

    def next_fire(self, now: datetime) -> datetime:
        """The first fire time strictly after now, in UTC."""
        now = _as_utc(now)
        wall = now.astimezone(self._tz).replace(tzinfo=None)
        for fire in self._fires(wall, forward=True):
            if fire > now:
                return fire
        raise AssertionError("unreachable: cron iteration is endless")

    def _fire_before(self, limit: datetime) -> datetime:
        """The latest fire time strictly before `limit` (UTC)."""
        local = limit.astimezone(self._tz)
        # In the second pass of a repeated (DST end) hour, later wall times of that hour
        # already fired on the first pass: search from the end of the repeat.
        repeat = _offset(local.replace(fold=0)) - _offset(local)
        wall = local.replace(tzinfo=None) + max(repeat, timedelta(0))
        for fire in self._fires(wall, forward=False):
            if fire < limit:
                return fire
        raise AssertionError("unreachable: cron iteration is endless")

    def _fires(self, wall: datetime, *, forward: bool) -> Iterator[datetime]:
        """Fire instants (UTC) of wall times after/before `wall`, monotonic in UTC."""
        # croniter steps strictly away from its start, so begin one minute beyond it.
        start = wall.replace(second=0, microsecond=0)
        start = start - _MINUTE if forward else start + _MINUTE
        it = croniter(self.cron, start)
        step = it.get_next if forward else it.get_prev
        while True:
            yield self._to_utc(step(datetime))

    def _to_utc(self, wall: datetime) -> datetime:
        """The first instant at which the local clock shows `wall` or later."""
        first = wall.replace(tzinfo=self._tz, fold=0).astimezone(UTC)
        if first.astimezone(self._tz).replace(tzinfo=None) == wall:
            return first
        # `wall` was skipped (DST gap): bisect for the jump, which is on a whole minute.
        low = wall.replace(tzinfo=self._tz, fold=1).astimezone(UTC)
        high = first
        while high - low > _MINUTE:
            mid = low + (high - low) // _MINUTE // 2 * _MINUTE
            if mid.astimezone(self._tz).replace(tzinfo=None) >= wall:
                high = mid
            else:
                low = mid
        return high


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone: {name!r}") from exc


def _check_cron(cron: str) -> None:
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValueError(f"invalid cron expression (need 5 fields): {cron!r}")
    try:  # e.g. "0 0 30 2 *" is well-formed but never fires
        croniter(cron, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterError as exc:
        raise ValueError(f"cron expression never fires: {cron!r}") from exc


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime, need an aware one: {moment.isoformat()}")
    return moment.astimezone(UTC)


def _offset(moment: datetime) -> timedelta:
    return moment.utcoffset() or timedelta(0)
