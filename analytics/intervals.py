"""Bar intervals: parsing ``"2h"``-style names and placing bars on the time axis.

Bars open on the epoch (``1970-01-01T00:00Z``), except intervals that are a whole number of
weeks, which open on Mondays (origin ``1969-12-29T00:00Z``). That is what the market-data flow
does for the stored bars and what SQL ``date_bin(stride, ts, origin)`` does, so a bar resampled
here, a bar binned in SQL and a stored bar of the same interval share their ``open_time``.
Months and years are refused: their length varies, and ``date_bin`` cannot bin them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from model.intervals import (
    DAY_US,
    HOUR_US,
    INTERVALS,
    MINUTE_US,
    SECOND_US,
    WEEK_ORIGIN_US,
    WEEK_US,
    IntervalName,
)
from model.timestamps import EPOCH, to_micros
from model.timestamps import from_micros as from_us

__all__ = [
    "EPOCH",
    "STORED_INTERVALS",
    "Interval",
    "from_us",
    "parse_duration",
    "parse_interval",
    "to_us",
]

#: Intervals the market-data flow stores in ``candles`` (DESIGN.md §8).
STORED_INTERVALS: tuple[IntervalName, ...] = INTERVALS

_US = {"s": SECOND_US, "m": MINUTE_US, "h": HOUR_US, "d": DAY_US, "w": WEEK_US}
_PATTERN = re.compile(r"([1-9][0-9]{0,5})([smhdw])")


@dataclass(frozen=True, order=True)
class Interval:
    """A fixed bar length with the origin its bars are aligned to, both in microseconds."""

    micros: int
    """Length of one bar."""
    origin_us: int
    """A bar opens at ``origin_us + k * micros`` for every integer ``k``."""
    name: str
    """As written by the user, e.g. ``"2h"``; also a valid polars duration string."""

    @property
    def length(self) -> dt.timedelta:
        """Length of one bar."""
        return dt.timedelta(microseconds=self.micros)

    @property
    def origin(self) -> dt.datetime:
        """Start of one bar (every other bar starts a whole number of lengths away)."""
        return EPOCH + dt.timedelta(microseconds=self.origin_us)

    def floor_us(self, us: int) -> int:
        """Start of the bar holding the instant ``us`` (µs since the epoch)."""
        return (us - self.origin_us) // self.micros * self.micros + self.origin_us

    def ceil(self, at: dt.datetime) -> dt.datetime:
        """The first bar start at or after ``at``."""
        us = to_us(at)
        start = self.floor_us(us)
        if start < us:
            start += self.micros
        return from_us(start)

    def refines(self, finer: Interval) -> bool:
        """Whether every bar of ``self`` is a whole run of ``finer`` bars."""
        return (
            self.micros % finer.micros == 0
            and (self.origin_us - finer.origin_us) % finer.micros == 0
        )


def parse_duration(text: str, field: str = "interval") -> int:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1w"`` → microseconds; else ``ValueError``."""
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{field}: {text!r} is not a duration like 30s, 5m, 2h, 1d or 1w "
            "(months and years are not fixed lengths)"
        )
    return int(match.group(1)) * _US[match.group(2)]


def parse_interval(text: str) -> Interval:
    """A bar interval from its name; whole weeks open on Mondays, all else on the epoch."""
    micros = parse_duration(text)
    origin = WEEK_ORIGIN_US if micros % WEEK_US == 0 else 0
    return Interval(micros=micros, origin_us=origin, name=text.strip())


def to_us(at: dt.datetime) -> int:
    """An aware datetime as whole microseconds since the epoch (exact, no float)."""
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()} has no time zone; give one (e.g. Z for UTC)")
    return to_micros(at)
