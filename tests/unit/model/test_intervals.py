"""model/intervals.py: the interval set, lengths and where bars open."""

from __future__ import annotations

import datetime as dt

import pytest

from model.intervals import (
    INTERVAL_PATTERN,
    INTERVAL_US,
    INTERVALS,
    MINUTE_US,
    WEEK_ORIGIN_US,
    bar_open,
    floor_minute,
    is_interval,
    minute_of,
)
from model.timestamps import from_micros, to_micros

MONDAY = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def test_the_interval_set_and_lengths() -> None:
    assert INTERVALS == ("1m", "5m", "15m", "1h", "1d", "1w")
    assert INTERVAL_US == {
        "1m": 60_000_000,
        "5m": 300_000_000,
        "15m": 900_000_000,
        "1h": 3_600_000_000,
        "1d": 86_400_000_000,
        "1w": 604_800_000_000,
    }
    assert MINUTE_US == 60_000_000
    assert INTERVAL_PATTERN == "1m|5m|15m|1h|1d|1w"


def test_weeks_open_on_mondays_everything_else_on_the_epoch() -> None:
    assert from_micros(WEEK_ORIGIN_US) == dt.datetime(1969, 12, 29, tzinfo=dt.UTC)
    assert from_micros(WEEK_ORIGIN_US).weekday() == 0
    sunday_night = to_micros(MONDAY + dt.timedelta(days=6, hours=23))
    assert bar_open("1w", sunday_night) == to_micros(MONDAY)
    assert bar_open("1d", sunday_night) == to_micros(MONDAY + dt.timedelta(days=6))
    assert bar_open("15m", to_micros(MONDAY) + 16 * MINUTE_US) == to_micros(MONDAY) + 15 * MINUTE_US


@pytest.mark.parametrize("ts", [0, 1, MINUTE_US - 1, MINUTE_US, -1, 1_767_571_200_123_457])
def test_minutes(ts: int) -> None:
    assert floor_minute(ts) <= ts < floor_minute(ts) + MINUTE_US
    assert floor_minute(ts) == minute_of(ts) * MINUTE_US == bar_open("1m", ts)


def test_is_interval() -> None:
    assert all(is_interval(name) for name in INTERVALS)
    assert not any(is_interval(name) for name in ("2m", "1M", ""))
