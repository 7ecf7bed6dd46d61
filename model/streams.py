"""Typed helpers over redis-py's stream calls, whose own hints cover every protocol at once.

Every Tidewater client speaks RESP2 with bytes responses, so the shapes here are exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import redis

from model import topics, wire

if TYPE_CHECKING:
    from model.commands import Command
    from model.events import StateEvent

__all__ = [
    "Entry",
    "last_entry",
    "logged_commands",
    "logged_events",
    "range_after",
    "read_group",
    "read_new",
]

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


def logged_commands(
    client: redis.Redis, shard: str, upto: str = "+"
) -> Iterator[tuple[str, Command]]:
    """Every command still on a shard's command stream up to ``upto``, oldest first, with its
    entry id (the ``cmd_id`` its events carry)."""
    cursor = "0-0"
    while True:
        chunk = range_after(client, topics.commands(shard), cursor, upto, 5000)
        if not chunk:
            return
        for entry_id, fields in chunk:
            if fields is not None and wire.COMMAND_FIELD in fields:
                yield entry_id.decode(), wire.decode_command(fields[wire.COMMAND_FIELD]).command
        cursor = chunk[-1][0].decode()


def logged_events(client: redis.Redis, shard: str) -> list[tuple[str, StateEvent]]:
    """Every state event on a shard's event stream, in order, with its ``cmd_id``."""
    found: list[tuple[str, StateEvent]] = []
    cursor = "0-0"
    while True:
        chunk = range_after(client, topics.events(shard), cursor, "+", 1000)
        if not chunk:
            return found
        for _, fields in chunk:
            if fields is not None:
                batch = wire.decode_event_batch(fields[wire.BATCH_FIELD])
                found.extend((c.cmd_id, e) for c in batch.commands for e in c.events)
        cursor = chunk[-1][0].decode()
