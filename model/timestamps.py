"""Integer epoch times (as events and the API carry them) to aware UTC datetimes, exactly.

``datetime.fromtimestamp(us / 1_000_000)`` goes through a float; these add an integer
``timedelta`` to the epoch instead, so every microsecond is kept.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["EPOCH", "from_micros", "from_millis", "from_seconds", "to_micros"]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def from_micros(us: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return EPOCH + dt.timedelta(microseconds=us)


def from_millis(ms: int) -> dt.datetime:
    """Milliseconds since the epoch as an aware UTC datetime."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def from_seconds(seconds: int) -> dt.datetime:
    """Seconds since the epoch as an aware UTC datetime."""
    return EPOCH + dt.timedelta(seconds=seconds)


def to_micros(at: dt.datetime) -> int:
    """An aware datetime as microseconds since the epoch (the inverse of :func:`from_micros`)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
