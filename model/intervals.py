"""Time vocabulary: the bar intervals, their lengths, and where bars open.

Times are integer microseconds since the epoch, as events carry them. Bars open on the epoch
(``1970-01-01T00:00Z``), except weeks, which open on Mondays (origin ``1969-12-29T00:00Z``,
:data:`WEEK_ORIGIN_US`): the same bins as SQL ``date_bin(stride, ts, origin)``. Adding an
interval means adding it to :data:`IntervalName` and :data:`INTERVAL_US` here, and nowhere else.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

__all__ = [
    "DAY_US",
    "HOUR_US",
    "INTERVALS",
    "INTERVAL_PATTERN",
    "INTERVAL_US",
    "MINUTE_US",
    "SECOND_US",
    "WEEK_ORIGIN_US",
    "WEEK_US",
    "IntervalName",
    "bar_open",
    "floor_minute",
    "interval_origin",
    "is_interval",
    "minute_of",
]

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
WEEK_US = 7 * DAY_US
#: 1969-12-29T00:00:00Z, a Monday: weekly bars start there.
WEEK_ORIGIN_US = -3 * DAY_US

#: The intervals the market-data flow keeps (streams ``kline.<i>@M``, table ``candles``).
IntervalName = Literal["1m", "5m", "15m", "1h", "1d", "1w"]
#: Every interval, shortest first.
INTERVALS: tuple[IntervalName, ...] = get_args(IntervalName)
#: Interval -> length in microseconds.
INTERVAL_US: dict[IntervalName, int] = {
    "1m": MINUTE_US,
    "5m": 5 * MINUTE_US,
    "15m": 15 * MINUTE_US,
    "1h": HOUR_US,
    "1d": DAY_US,
    "1w": WEEK_US,
}
#: A regular-expression alternation matching exactly one interval name (``1m|5m|...``).
INTERVAL_PATTERN = "|".join(INTERVALS)

assert tuple(INTERVAL_US) == INTERVALS, "INTERVAL_US lists every interval, in order"


def is_interval(text: str) -> TypeGuard[IntervalName]:
    """Whether ``text`` names one of :data:`INTERVALS`."""
    return text in INTERVAL_US


def interval_origin(interval: IntervalName) -> int:
    """The instant (µs) one bar of ``interval`` opens at; every other bar is whole lengths off."""
    return WEEK_ORIGIN_US if INTERVAL_US[interval] % WEEK_US == 0 else 0


def bar_open(interval: IntervalName, ts: int) -> int:
    """Start (µs since the epoch) of the ``interval`` bar holding ``ts``."""
    length = INTERVAL_US[interval]
    origin = interval_origin(interval)
    return (ts - origin) // length * length + origin


def floor_minute(ts: int) -> int:
    """Start (µs) of the minute holding ``ts``."""
    return ts - ts % MINUTE_US


def minute_of(ts: int) -> int:
    """The number of the minute holding ``ts`` (minutes since the epoch, floored)."""
    return ts // MINUTE_US
