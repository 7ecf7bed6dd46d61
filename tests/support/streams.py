"""Talk to a matcher through Redis the way an edge does, and read back what it wrote."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import redis

from matcher.engine import Engine
from model import streams, topics, wire
from model.commands import Command
from model.config import MarketConfig
from model.events import StateEvent

_request_ids = itertools.count(1)


def submit(client: redis.Redis, shard: str, command: Command, reply_to: str = "test") -> str:
    """Put one command on the shard's stream; return its ``cmd_id``."""
    envelope = wire.CommandEnvelope(
        request_id=str(next(_request_ids)), reply_to=reply_to, command=command
    )
    entry_id = client.xadd(topics.commands(shard), {wire.COMMAND_FIELD: wire.encode(envelope)})
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def submit_all(client: redis.Redis, shard: str, commands: Iterable[Command]) -> list[str]:
    """Submit many commands in one pipeline; return their ids in order."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        envelope = wire.CommandEnvelope(
            request_id=str(next(_request_ids)), reply_to="test", command=command
        )
        pipe.xadd(topics.commands(shard), {wire.COMMAND_FIELD: wire.encode(envelope)})
    return [i.decode() for i in pipe.execute()]


def all_commands(client: redis.Redis, shard: str) -> list[tuple[str, Command]]:
    """Every command still on the stream, oldest first."""
    return list(streams.logged_commands(client, shard))


def all_events(client: redis.Redis, shard: str) -> list[tuple[str, StateEvent]]:
    """Every state event on the shard's event stream with its ``cmd_id``, in order."""
    return streams.logged_events(client, shard)


def all_replies(client: redis.Redis, shard: str, edge: str = "test") -> list[wire.Reply]:
    """Every reply the matcher sent to ``edge``, in order."""
    found: list[wire.Reply] = []
    for _, fields in streams.range_after(client, topics.replies(shard, edge), "0-0", "+", 10**6):
        assert fields is not None
        found.extend(wire.decode_reply_batch(fields[wire.BATCH_FIELD]).replies)
    return found


def clean_replay(
    config: MarketConfig, commands: Iterable[Command], **kwargs: int
) -> tuple[Engine, list[StateEvent]]:
    """A fresh engine fed ``commands``, and its state events: what the matcher must match."""
    engine = Engine(config, **kwargs)
    emitted: list[StateEvent] = []
    for command in commands:
        emitted.extend(e for e in engine.apply(command) if isinstance(e, StateEvent))
    return engine, emitted
