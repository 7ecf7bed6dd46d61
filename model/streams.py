"""Typed helpers over redis-py's stream calls, whose own hints cover every protocol at once.

Every Tidewater client speaks RESP2 with bytes responses, so the shapes here are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import redis

from model import topics, wire

if TYPE_CHECKING:
    from model.commands import Command
    from model.events import StateEvent

__all__ = [
    "Entry",
    "applied_position",
    "epoch_regressions",
    "id_tuple",
    "last_entry",
    "logged_commands",
    "logged_events",
    "range_after",
    "read_after",
    "read_group",
    "seq_breaks",
    "unapplied_commands",
    "writer_epochs",
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


def read_after(
    client: redis.Redis, key: str, after: str, count: int, block_ms: int | None
) -> list[Entry]:
    """``XREAD`` of one stream's entries after id ``after`` (waiting up to ``block_ms``).

    A plain read changes nothing on the server, unlike ``XREADGROUP``: a reader that has lost
    its writer lease cannot take entries away from the one that holds it.
    """
    raw: Any = client.xread({key: after}, count=count, block=block_ms)
    return cast(list[Entry], raw[0][1]) if raw else []


def id_tuple(stream_id: str | bytes) -> tuple[int, int]:
    """A stream entry id (``"1700000000000-3"``) as a pair that compares in stream order."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, sub = text.partition("-")
    return int(ms), int(sub or 0)


def applied_position(client: redis.Redis, shard: str) -> str:
    """The id of the last command a shard's matcher applied and committed (``"0-0"``: none)."""
    raw = cast(bytes | None, client.get(topics.applied(shard)))
    return raw.decode() if raw is not None else "0-0"


def unapplied_commands(client: redis.Redis, shard: str, limit: int = 10_000) -> int:
    """How many commands wait on a shard's command stream past the matcher's position (at most
    ``limit`` are counted): 0 once the matcher has caught up."""
    return len(
        range_after(client, topics.commands(shard), applied_position(client, shard), "+", limit)
    )


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


def writer_epochs(client: redis.Redis, shard: str) -> list[tuple[str, int]]:
    """The writer lease epoch of each events entry that carries one, with the entry's id, in
    stream order: with one writer at a time they never go down."""
    found: list[tuple[str, int]] = []
    cursor = "0-0"
    while chunk := range_after(client, topics.events(shard), cursor, "+", 1000):
        for entry_id, fields in chunk:
            if fields is not None and wire.WRITER_FIELD in fields:
                found.append((entry_id.decode(), int(fields[wire.WRITER_FIELD])))
        cursor = chunk[-1][0].decode()
    return found


def epoch_regressions(epochs: Iterable[tuple[str, int]]) -> list[str]:
    """Entries written under an older writer epoch than an entry before them: a fenced-out
    writer's write got through (``epochs`` as from :func:`writer_epochs`)."""
    problems: list[str] = []
    newest = 0
    for entry_id, epoch in epochs:
        if epoch < newest:
            problems.append(f"entry {entry_id} written by epoch {epoch} after epoch {newest}")
        newest = max(newest, epoch)
    return problems


@dataclass
class SeqBreaks:
    """Where a shard's event stream stops counting ``seq`` 1, 2, 3, ... (see :func:`seq_breaks`)."""

    forks: list[str] = field(default_factory=list)
    """A seq repeated or going back: two writers interleaved their batches (a forked journal)."""
    gaps: list[str] = field(default_factory=list)
    """A seq skipped: events lost or deleted."""


def seq_breaks(events: Iterable[tuple[str, StateEvent]]) -> SeqBreaks:
    """Tell a forked journal (a seq seen again, as when two matchers wrote one shard) apart from
    a gap (a seq missing), naming the command of each break; ``events`` as from
    :func:`logged_events`."""
    found = SeqBreaks()
    expected = 1
    seen: dict[int, str] = {}
    repeating = False  # inside a run of repeated seqs: one finding per run, not per event
    for cmd_id, event in events:
        if event.seq < expected:
            if not repeating:
                found.forks.append(
                    f"seq {event.seq} again at command {cmd_id} (first at command "
                    f"{seen.get(event.seq, '?')}) after seq {expected - 1}"
                )
            repeating = True
        else:
            if event.seq > expected:
                found.gaps.append(
                    f"seq {expected}..{event.seq - 1} missing before command {cmd_id}"
                )
            repeating = False
        seen.setdefault(event.seq, cmd_id)
        expected = max(expected, event.seq + 1)
    return found
