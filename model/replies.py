"""Listening to a matcher's replies from a thread: for the audit's probe, the benchmarks and the
tests (the edge listens with ``redis.asyncio`` in ``edge.gateway``).

Replies travel on the pub/sub channel ``topics.replies(shard, edge)``, one message per batch and
edge (a :class:`model.wire.ReplyBatch`). A channel keeps nothing: subscribe before the commands
go out. A reply may come twice (a matcher killed after answering and before committing answers
again after recovery); both copies are equal, because the events are a function of the log.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import redis

from model import topics, wire

__all__ = ["ReplyListener"]


class ReplyListener:
    """Collect every reply to ``edge`` from ``shards`` while open (a context manager).

    The listening thread only keeps each message's bytes; replies are decoded when read, so a
    benchmark that listens costs the machine little while it measures.
    """

    def __init__(self, client: redis.Redis, shards: list[str], edge: str) -> None:
        self._batches: list[bytes] = []
        self._decoded: list[wire.Reply] = []
        self._read = 0  # batches decoded so far
        self._arrived = threading.Condition()
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(**{topics.replies(shard, edge): self._handle for shard in shards})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.01, daemon=True)

    def _handle(self, message: dict[str, Any]) -> None:
        with self._arrived:
            self._batches.append(message["data"])
            self._arrived.notify_all()

    def _decode(self) -> list[wire.Reply]:
        """Every reply so far, in arrival order (call holding ``_arrived``)."""
        for batch in self._batches[self._read :]:
            self._decoded.extend(wire.decode_reply_batch(batch).replies)
        self._read = len(self._batches)
        return self._decoded

    @property
    def replies(self) -> list[wire.Reply]:
        """Every reply so far, in arrival order."""
        with self._arrived:
            return list(self._decode())

    def wait_for(self, request_id: str, timeout: float) -> wire.Reply | None:
        """The reply to ``request_id``, once it arrives; ``None`` after ``timeout`` seconds."""
        with self._arrived:
            self._arrived.wait_for(
                lambda: any(r.request_id == request_id for r in self._decode()), timeout
            )
            return next((r for r in self._decoded if r.request_id == request_id), None)

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=5)
        self._pubsub.close()

    def __enter__(self) -> ReplyListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
