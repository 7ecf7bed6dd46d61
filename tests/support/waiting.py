"""Waiting for an eventually consistent view (the flow's and the persist agent's outputs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(read: Callable[[], T], ok: Callable[[T], bool], timeout: float = 30) -> T:
    """Poll ``read`` until ``ok`` holds for its value (or time runs out); return the last value,
    for the caller's assertion to show."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
