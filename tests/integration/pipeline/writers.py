"""Hold a pipeline writer's lease in a test, the way the services do (``pipeline/fence.py``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from model.lease import WriterLease
from pipeline.fence import Fence, acquire, new_lease


@contextlib.contextmanager
def holding(
    client: redis.Redis, key: str, role: str, database_url: str | None
) -> Iterator[tuple[WriterLease, Fence]]:
    """Take the lease ``key`` (free within 10 s), renew it, record its epoch in PostgreSQL;
    release it on the way out."""
    lease = new_lease(client, key, role)
    give_up = threading.Timer(10, (stop := threading.Event()).set)
    give_up.start()
    fence = acquire(lease, role, database_url, stop)
    give_up.cancel()
    assert fence is not None, f"the lease {key} stayed taken"
    try:
        yield lease, fence
    finally:
        lease.release()


def holder_pid(client: redis.Redis, key: str) -> int | None:
    """The pid of the process holding the lease ``key`` (its token is ``host:pid:nonce``)."""
    raw = client.get(key)
    if raw is None:
        return None
    token = raw.decode() if isinstance(raw, bytes) else str(raw)
    return int(token.rsplit(":", 2)[1])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> float:
    """Poll ``predicate`` every 10 ms until it holds; return when (``time.monotonic()``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(0.01)
    return time.monotonic()


def log_says(path: Path, text: str) -> bool:
    """Whether a process's log holds ``text``."""
    return path.exists() and text in path.read_text(errors="replace")
