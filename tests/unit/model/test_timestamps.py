"""Epoch integers to datetimes and back, exactly."""

from __future__ import annotations

import datetime as dt

import pytest

from model.timestamps import EPOCH, from_micros, from_millis, to_micros


@pytest.mark.parametrize(
    "us", [0, 1, 1_767_571_200_123_457, 200_000_000_000_000_001, -86_400_000_001]
)
def test_micros_round_trip_exactly(us: int) -> None:
    at = from_micros(us)
    assert at.tzinfo is dt.UTC
    assert to_micros(at) == us


def test_a_microsecond_a_float_would_lose_is_kept() -> None:
    us = 200_000_000_000_000_001  # in the year 8307: a float of seconds is 30 µs coarse there
    assert to_micros(dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC)) != us
    assert from_micros(us) - EPOCH == dt.timedelta(microseconds=us)


def test_millis_are_thousands_of_micros() -> None:
    assert from_millis(1_767_571_200_123) == from_micros(1_767_571_200_123_000)
