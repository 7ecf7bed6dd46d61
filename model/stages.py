"""Per-stage timestamps of single orders through the edge and the matcher: the measured
breakdown in docs/benchmarks.md (``bench/order_path.py``'s stage run). Off unless
``TIDEWATER_STAGE_TRACE`` names a folder.

Each process notes ``time.monotonic_ns()`` (CLOCK_MONOTONIC: one clock for every process of a
machine, so the load client's, the edge's and the matcher's marks compare) at each stage of
each order, and at exit writes one JSON object per order (edge: keyed by ``order_id`` and
``cmd_id``) or per command (matcher: keyed by ``cmd_id``) to ``<folder>/<role>-<pid>.jsonl``
(:func:`write_all`, which each service calls as it stops: uvicorn ends by re-raising SIGTERM,
so an ``atexit`` hook would never run in the edge).

The edge's marks of one request sit in a context variable, so code deep in the call
(``Exchange.place``, ``MatcherGateway.call``) adds to them without being handed anything. Off,
a mark costs the test of :data:`ENABLED`.
"""

from __future__ import annotations

import contextvars
import json
import os
import time
from pathlib import Path

__all__ = ["ENABLED", "StageLog", "begin", "mark", "note", "now", "write_all"]

_FOLDER = os.environ.get("TIDEWATER_STAGE_TRACE") or None
#: Whether this process traces stages (read once, at import).
ENABLED = _FOLDER is not None

now = time.monotonic_ns
_current: contextvars.ContextVar[dict[str, int | str] | None] = contextvars.ContextVar(
    "tidewater_stages", default=None
)


class StageLog:
    """The rows one process traced (one log per role and process)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.rows: list[dict[str, int | str]] = []
        _LOGS.append(self)

    def add(self, row: dict[str, int | str]) -> None:
        self.rows.append(row)


_LOGS: list[StageLog] = []


def write_all() -> None:
    """Write every log of this process to the folder (nothing when tracing is off)."""
    if _FOLDER is None:
        return
    folder = Path(_FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    for log in _LOGS:
        with (folder / f"{log.role}-{os.getpid()}.jsonl").open("w") as out:
            for row in log.rows:
                out.write(json.dumps(row) + "\n")


def begin(first: str) -> dict[str, int | str]:
    """Start the marks of the current request (its task's context) with stage ``first``."""
    marks: dict[str, int | str] = {first: now()}
    _current.set(marks)
    return marks


def mark(stage: str) -> None:
    """Note that the current request reached ``stage`` (nothing when it is not traced)."""
    marks = _current.get()
    if marks is not None:
        marks[stage] = now()


def note(key: str, value: str) -> None:
    """Attach ``value`` (an id to join on) to the current request's marks."""
    marks = _current.get()
    if marks is not None:
        marks[key] = value
