"""Talk to a matcher through Redis the way an edge does, and read back what it wrote."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

import redis

from matcher.engine import Engine
from model import streams, topics, wire
from model.commands import Command
from model.config import MarketConfig
from model.events import StateEvent
from model.replies import ReplyListener

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


def listen(client: redis.Redis, shard: str) -> ReplyListener:
    """Start collecting the replies :func:`submit` asks for (before submitting: a channel
    keeps nothing)."""
    return ReplyListener(client, [shard], "test")


def one_answer_each(
    listener: ReplyListener, cmd_ids: Iterable[str], timeout: float = 30
) -> dict[str, wire.Reply]:
    """Wait until every command in ``cmd_ids`` is answered; check that a command answered more
    than once (a matcher killed between its reply and its commit answers again after recovery)
    got equal answers; return one answer per command."""
    wanted = set(cmd_ids)
    deadline = time.monotonic() + timeout
    answers: dict[str, wire.Reply] = {}
    while True:
        for reply in list(listener.replies):
            first = answers.setdefault(reply.cmd_id, reply)
            assert first.events == reply.events, f"command {reply.cmd_id} answered two ways"
        missing = wanted - answers.keys()
        if not missing:
            return answers
        assert time.monotonic() < deadline, f"{len(missing)} commands never answered"
        time.sleep(0.02)


def clean_replay(
    config: MarketConfig, commands: Iterable[Command], **kwargs: int
) -> tuple[Engine, list[StateEvent]]:
    """A fresh engine fed ``commands``, and its state events: what the matcher must match."""
    engine = Engine(config, **kwargs)
    emitted: list[StateEvent] = []
    for command in commands:
        emitted.extend(e for e in engine.apply(command) if isinstance(e, StateEvent))
    return engine, emitted
