"""``App`` and ``Agent``: Faust's agent API over Redis Streams consumer groups.

    app = App("tidewater", client)
    events = app.topic(topics.events("0"), decode=decode_batch)

    @app.agent(events, group="persist")
    async def persist(stream: Stream[EventBatch]) -> None:
        async for batches in stream.take(200, within=0.05):
            ...

``await app.run(stop)`` runs every agent; one that raises is restarted with exponential backoff
(its unacked entries come again). ``agent.test_context()`` runs an agent on an in-memory source.

An agent given a ``fence`` (``@app.agent(topic, group=..., fence=fence)``) is its group's single
writer: its source reads, claims and acks only under that writer lease (``pipeline/source.py``),
and once the lease is lost (:class:`~model.lease.LeaseLostError`) it is not restarted: the error
ends ``app.run``, and the process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis

from model.lease import LeaseLostError
from pipeline.fence import Fence
from pipeline.source import MemorySource, RedisSource, Source
from pipeline.stream import Stream

__all__ = ["Agent", "App", "Topic"]

T = TypeVar("T")
log = logging.getLogger("tidewater.pipeline")

AgentFunction = Callable[[Stream[T]], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Topic(Generic[T]):
    """A Redis stream and how to decode its entries."""

    key: str
    decode: Callable[[dict[bytes, bytes]], T]


class Agent(Generic[T]):
    """An async function consuming a topic through a consumer group, kept alive."""

    def __init__(
        self,
        app: App,
        topic: Topic[T],
        group: str,
        fn: AgentFunction[T],
        name: str,
        fence: Fence | None = None,
    ) -> None:
        self.app, self.topic, self.group, self.fn, self.name = app, topic, group, fn, name
        self.fence = fence
        self.restarts = 0

    def _stream(self, source: Source) -> Stream[T]:
        return Stream(source, self.topic.decode)

    async def run(self, stop: asyncio.Event, *, max_backoff: float = 30.0) -> None:
        """Run until ``stop``; restart after a crash, waiting 0.5 s, 1 s, 2 s ... between; a lost
        lease (:class:`LeaseLostError`) is raised, not restarted."""
        backoff = 0.5
        consumer = f"{self.name}-{socket.gethostname()}"
        while not stop.is_set():
            source = RedisSource(
                self.app.client, self.topic.key, self.group, consumer, fence=self.fence
            )
            task = asyncio.create_task(self.fn(self._stream(source)))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                await self._cancel(task)
                return
            stopper.cancel()
            error = task.exception()
            if error is None:
                return
            if isinstance(error, LeaseLostError):
                log.error("agent %s fenced out (%s): stopping", self.name, error)
                raise error
            self.restarts += 1
            log.error("agent %s crashed (%r); restart %d in %.1fs", self.name, error,
                      self.restarts, backoff)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, max_backoff)

    async def _cancel(self, task: asyncio.Task[None], grace: float = 1.0) -> None:
        """Cancel ``task`` and wait for it to end, cancelling again while it goes on.

        A cancellation can be lost inside a client library (one that lands as a read times out
        may come back as an ordinary timeout), and the agent would then read on for ever; so a
        task still running after ``grace`` seconds is cancelled once more.
        """
        attempts = 0
        while not task.done():
            if attempts:
                log.warning("agent %s ignored a cancellation; cancelling again", self.name)
            task.cancel()
            attempts += 1
            await asyncio.wait({task}, timeout=grace)
        if not task.cancelled():
            task.exception()  # retrieved: an error while stopping is not a crash to report

    @contextlib.asynccontextmanager
    async def test_context(self) -> AsyncIterator[MemorySource]:
        """Run the agent on an in-memory source: ``put`` entries, ``wait_acked`` for them."""
        source = MemorySource()
        task = asyncio.create_task(self.fn(self._stream(source)))
        try:
            yield source
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class App:
    """A set of agents sharing one Redis client."""

    def __init__(self, name: str, client: aioredis.Redis) -> None:
        self.name = name
        self.client = client
        self.agents: list[Agent[object]] = []

    def topic(self, key: str, decode: Callable[[dict[bytes, bytes]], T]) -> Topic[T]:
        """A stream to consume."""
        return Topic(key, decode)

    def agent(
        self,
        topic: Topic[T],
        *,
        group: str,
        name: str | None = None,
        fence: Fence | None = None,
    ) -> Callable[[AgentFunction[T]], Agent[T]]:
        """Decorate an ``async def f(stream)`` to consume ``topic`` in consumer group ``group``
        (as the group's single writer under ``fence``, when given)."""

        def register(fn: AgentFunction[T]) -> Agent[T]:
            agent = Agent(self, topic, group, fn, name or fn.__name__, fence)
            self.agents.append(agent)  # type: ignore[arg-type]
            return agent

        return register

    async def run(self, stop: asyncio.Event) -> None:
        """Run every agent until ``stop`` is set."""
        await asyncio.gather(*(agent.run(stop) for agent in self.agents))
