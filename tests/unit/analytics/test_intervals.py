"""Bar intervals: names, lengths and the grid bars open on (epoch, or Mondays for weeks)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.intervals import from_us, parse_duration, parse_interval, to_us
from tests.support.bars import T0, at

MONDAY_ORIGIN = dt.datetime(1969, 12, 29, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "length", "origin"),
    [
        ("90s", dt.timedelta(seconds=90), EPOCH),
        ("1m", dt.timedelta(minutes=1), EPOCH),
        ("2h", dt.timedelta(hours=2), EPOCH),
        ("3d", dt.timedelta(days=3), EPOCH),
        ("1w", dt.timedelta(weeks=1), MONDAY_ORIGIN),
        ("7d", dt.timedelta(weeks=1), MONDAY_ORIGIN),  # a whole week, so on Mondays too
        ("2w", dt.timedelta(weeks=2), MONDAY_ORIGIN),
    ],
)
def test_intervals_parse_to_a_length_and_an_origin(
    name: str, length: dt.timedelta, origin: dt.datetime
) -> None:
    interval = parse_interval(name)
    assert (interval.length, interval.origin, interval.name) == (length, origin, name)


@pytest.mark.parametrize("bad", ["", "1", "m", "0m", "1mo", "1y", "-5m", "1.5h", "5 m", "1M"])
def test_what_is_not_a_fixed_duration_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_interval(bad)
    with pytest.raises(ValueError, match="--since"):
        parse_duration(bad, "--since")


def test_ceil_finds_the_next_bar_start() -> None:
    five = parse_interval("5m")
    assert five.ceil(at(0)) == at(0)
    assert five.ceil(at(0) + dt.timedelta(microseconds=1)) == at(5)
    assert five.ceil(at(4.5)) == at(5)
    # Sunday 2026-01-11 12:00 -> Monday 2026-01-12 00:00.
    assert parse_interval("1w").ceil(at(6 * 1440 + 720)) == at(7 * 1440)
    # Before the epoch the grid holds too.
    assert parse_interval("1h").ceil(EPOCH - dt.timedelta(minutes=30)) == EPOCH


@pytest.mark.parametrize(
    ("coarse", "fine", "refines"),
    [
        ("5m", "1m", True),
        ("2h", "1h", True),
        ("1w", "1d", True),  # Mondays are day boundaries
        ("2w", "1w", True),
        ("1w", "1h", True),
        ("7m", "5m", False),
        ("1d", "1w", False),
        ("1w", "2d", False),  # the 2-day grid is on the epoch (a Thursday): Mondays fall inside
        ("4d", "2d", True),
    ],
)
def test_refines_says_whether_coarse_bars_are_runs_of_fine_ones(
    coarse: str, fine: str, refines: bool
) -> None:
    assert parse_interval(coarse).refines(parse_interval(fine)) is refines


def test_microseconds_round_trip_exactly() -> None:
    moment = T0 + dt.timedelta(microseconds=123_457)
    assert to_us(moment) == 1_767_571_200_123_457
    assert from_us(to_us(moment)) == moment
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert to_us(moment.astimezone(ist)) == to_us(moment)
    with pytest.raises(ValueError, match="no time zone"):
        to_us(dt.datetime(2026, 1, 5))
