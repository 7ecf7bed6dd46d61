"""Typed helpers over redis-py's stream calls, whose own hints cover every protocol at once.

Every Tidewater client speaks RESP2 with bytes responses, so the shapes here are exact.
"""

from __future__ import annotations

from typing import Any, cast

import redis

__all__ = ["Entry", "last_entry", "range_after", "read_group", "read_new"]

#: A stream entry: its id and fields (``None`` for an entry deleted while pending).
Entry = tuple[bytes, dict[bytes, bytes] | None]


def read_group(
    client: redis.Redis,
    group: str,
    consumer: str,
    key: str,
    start: str,
    count: int,
    block_ms: int | None = None,
) -> list[Entry]:
    """``XREADGROUP`` from one stream: ``start`` ``">"`` for new entries, ``"0"`` for pending."""
    raw: Any = client.xreadgroup(group, consumer, {key: start}, count=count, block=block_ms)
    return cast(list[Entry], raw[0][1]) if raw else []


def read_new(
    client: redis.Redis, streams: dict[str, str], count: int, block_ms: int | None
) -> list[tuple[str, list[Entry]]]:
    """``XREAD`` after the given ids; returns ``(stream name, entries)`` pairs."""
    raw: Any = client.xread(cast(Any, streams), count=count, block=block_ms)
    return [(name.decode(), cast(list[Entry], entries)) for name, entries in raw or []]


def range_after(client: redis.Redis, key: str, after: str, upto: str, count: int) -> list[Entry]:
    """Entries with ``after < id <= upto``."""
    raw: Any = client.xrange(key, min=f"({after}", max=upto, count=count)
    return cast(list[Entry], raw)


def last_entry(client: redis.Redis, key: str) -> tuple[bytes, dict[bytes, bytes]] | None:
    """The newest entry of a stream, or ``None`` when it is empty."""
    raw: Any = client.xrevrange(key, count=1)
    return cast(tuple[bytes, dict[bytes, bytes]], raw[0]) if raw else None
