from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digest_schedule import DigestSchedule, Period

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=BERLIN)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def fires_between(schedule: DigestSchedule, start: datetime, end: datetime) -> list[datetime]:
    fires = []
    moment = schedule.next_fire(start)
    while moment < end:
        fires.append(moment)
        moment = schedule.next_fire(moment)
    return fires


def test_defaults_are_daily_18_berlin() -> None:
    schedule = DigestSchedule()
    assert (schedule.cron, schedule.timezone) == ("0 18 * * *", "Europe/Berlin")


def test_due_exactly_at_18_00_not_a_second_before() -> None:
    schedule = DigestSchedule()
    at_fire = schedule.latest_due(berlin(2026, 6, 10, 18, 0, 0))
    assert at_fire.end == utc(2026, 6, 10, 16, 0)
    assert at_fire.start == utc(2026, 6, 9, 16, 0)
    before = schedule.latest_due(berlin(2026, 6, 10, 17, 59, 59))
    assert before.end == utc(2026, 6, 9, 16, 0)
    assert before.start == utc(2026, 6, 8, 16, 0)


def test_microsecond_before_fire_is_not_due() -> None:
    schedule = DigestSchedule()
    just_before = berlin(2026, 6, 10, 18) - timedelta(microseconds=1)
    assert schedule.latest_due(just_before).end == utc(2026, 6, 9, 16)


def test_period_is_utc_with_iso_key() -> None:
    period = DigestSchedule().latest_due(berlin(2026, 1, 15, 20, 30))
    assert period == Period(
        key="2026-01-15T17:00:00+00:00", start=utc(2026, 1, 14, 17), end=utc(2026, 1, 15, 17)
    )
    assert period.start.tzinfo is UTC and period.end.tzinfo is UTC


def test_now_in_any_zone_gives_the_same_period() -> None:
    schedule = DigestSchedule()
    moment = utc(2026, 2, 3, 17, 30)
    assert schedule.latest_due(moment) == schedule.latest_due(moment.astimezone(BERLIN))
    tokyo = moment.astimezone(ZoneInfo("Asia/Tokyo"))
    assert schedule.latest_due(moment) == schedule.latest_due(tokyo)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        DigestSchedule().latest_due(datetime(2026, 1, 1, 12))


def test_next_fire() -> None:
    schedule = DigestSchedule()
    assert schedule.next_fire(berlin(2026, 6, 10, 17, 59)) == utc(2026, 6, 10, 16)
    assert schedule.next_fire(berlin(2026, 6, 10, 18, 0)) == utc(2026, 6, 11, 16)
    assert schedule.next_fire(berlin(2026, 6, 10, 18, 0, 1)) == utc(2026, 6, 11, 16)


def test_the_latest_due_period_changes_only_at_a_fire_time() -> None:
    """What the digests post (bot/domain/digests.py records it in the outbox by its key)."""
    schedule = DigestSchedule()
    yesterday = schedule.latest_due(berlin(2026, 6, 9, 18)).key
    assert schedule.latest_due(berlin(2026, 6, 10, 17, 59, 59)).key == yesterday
    due = schedule.latest_due(berlin(2026, 6, 10, 18))
    assert due.key != yesterday and due.end == utc(2026, 6, 10, 16)
    assert schedule.latest_due(berlin(2026, 6, 10, 18, 5)) == due
    assert schedule.latest_due(berlin(2026, 6, 10, 23)) == due


def test_first_run_without_history_posts_latest_period() -> None:
    due = DigestSchedule().latest_due(berlin(2026, 6, 10, 9))
    assert due.end == utc(2026, 6, 9, 16) and due.start == utc(2026, 6, 8, 16)


def test_catch_up_after_three_days_gives_only_the_latest_period() -> None:
    schedule = DigestSchedule()
    posted = [schedule.latest_due(berlin(2026, 6, 7, 18, 1))]
    # Bot down from 7 June 18:01 to 10 June 20:00, then ticks every 5 minutes for a day; a
    # period key not seen before is what the outbox would post.
    moment = berlin(2026, 6, 10, 20)
    while moment < berlin(2026, 6, 11, 20):
        due = schedule.latest_due(moment)
        if due.key != posted[-1].key:
            posted.append(due)
        moment += timedelta(minutes=5)
    assert [p.end for p in posted[1:]] == [utc(2026, 6, 10, 16), utc(2026, 6, 11, 16)]
    # The caught-up period has its real bounds, not the whole downtime.
    assert posted[1].start == utc(2026, 6, 9, 16)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)],
    ids=["spring-forward", "fall-back"],
)
def test_dst_day_has_exactly_one_fire_at_18_local(day: date, hours: int) -> None:
    schedule = DigestSchedule()
    start = berlin(day.year, day.month, day.day) - timedelta(days=3)
    fires = fires_between(schedule, start, start + timedelta(days=7))
    local = [fire.astimezone(BERLIN) for fire in fires]
    assert [f.date() for f in local] == [start.date() + timedelta(days=i) for i in range(7)]
    assert all((f.hour, f.minute) == (18, 0) for f in local)
    period = schedule.latest_due(berlin(day.year, day.month, day.day, 18))
    assert period.end - period.start == timedelta(hours=hours)


def test_whole_year_fires_daily_at_18_local() -> None:
    schedule = DigestSchedule()
    fires = fires_between(schedule, berlin(2026, 1, 1), berlin(2027, 1, 1))
    local = [fire.astimezone(BERLIN) for fire in fires]
    assert len(local) == 365
    assert len({f.date() for f in local}) == 365
    assert {(f.hour, f.minute) for f in local} == {(18, 0)}


def test_spring_forward_gap_fires_once_when_clock_jumps() -> None:
    schedule = DigestSchedule("30 2 * * *")
    fires = fires_between(schedule, utc(2026, 3, 28), utc(2026, 3, 31))
    # 02:30 does not exist on 29 March: it fires at 03:00 CEST (01:00 UTC) instead.
    assert fires == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]


def test_fall_back_repeated_time_fires_once() -> None:
    schedule = DigestSchedule("30 2 * * *")
    fires = fires_between(schedule, utc(2026, 10, 24), utc(2026, 10, 27))
    assert fires == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # 02:15 CET on 25 October comes after the first (CEST) 02:30: that fire is already due.
    assert schedule.latest_due(utc(2026, 10, 25, 1, 15)).end == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_hourly_on_dst_day_one_fire_per_wall_time(day: date) -> None:
    schedule = DigestSchedule("30 * * * *")
    start = berlin(day.year, day.month, day.day)
    end = berlin(day.year, day.month, day.day + 1)
    fires = fires_between(schedule, start, end)
    assert len(fires) == 24
    assert fires == sorted(set(fires))


def test_latest_due_agrees_with_next_fire_around_dst() -> None:
    schedule = DigestSchedule("*/20 1-3 * * *")
    fires = fires_between(schedule, utc(2026, 3, 28, 22), utc(2026, 3, 29, 4))
    # 01:xx CET, then 02:xx (skipped) collapses into the jump at 03:00 CEST, then 03:xx.
    minutes = [0, 20, 40, 60, 80, 100]
    assert fires == [utc(2026, 3, 29) + timedelta(minutes=m) for m in minutes]
    for previous, fire in pairwise(fires):
        assert schedule.latest_due(fire) == Period(fire.isoformat(), previous, fire)
        assert schedule.latest_due(fire - timedelta(seconds=1)).end == previous


def test_weekly_schedule_period_spans_a_week() -> None:
    period = DigestSchedule("0 9 * * 1").latest_due(berlin(2026, 6, 10, 12))
    assert period.end == utc(2026, 6, 8, 7)
    assert period.start == utc(2026, 6, 1, 7)


@pytest.mark.parametrize(
    "cron", ["0 18 * *", "61 18 * * *", "0 18 * * * 5", "", "@daily", "0 0 30 2 *", "x y z a b"]
)
def test_invalid_cron_raises_with_value(cron: str) -> None:
    with pytest.raises(ValueError, match="cron") as info:
        DigestSchedule(cron)
    assert repr(cron) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("zone", ["Europe/Berln", "", "Europe", "../etc/passwd", "Mars/Base"])
def test_invalid_timezone_raises_with_value(zone: str) -> None:
    with pytest.raises(ValueError, match="time zone") as info:
        DigestSchedule("0 18 * * *", zone)
    assert repr(zone) in str(info.value)
