"""The edge's line to the matchers: put a command on a shard's stream, await its reply.

Each edge process has an id (``e<N>``, ``N`` from a Redis counter, also its order-id node) and
one reply channel per shard, ``tw:{shard}:reply:<edge>`` (pub/sub). ONE listener task holds the
subscription and resolves the waiting requests by ``request_id``; nothing subscribes per request.

A command is on the stream (and, with ``appendfsync always``, on disk) once ``XADD`` returns,
and the matcher only answers commands that are: so a reply that does not come within the
timeout (the matcher slow or restarting, or the subscription down when it was published) means
"outcome unknown yet", never "lost": the caller answers 504 with the order id, and the order's
fate is readable later.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from model import stages, topics, wire
from model.commands import Command
from model.events import Event
from model.ids import OrderIdFactory

__all__ = ["Answer", "MatcherGateway", "MatcherTimeoutError", "MatcherUnavailableError"]

log = logging.getLogger("tidewater.edge.gateway")

_NODE_COUNTER = "tw:edge-nodes"


class MatcherTimeoutError(Exception):
    """The command is queued but its reply did not arrive in time."""

    def __init__(self, cmd_id: str) -> None:
        super().__init__(f"no reply for command {cmd_id}")
        self.cmd_id = cmd_id


class MatcherUnavailableError(Exception):
    """The command could not be queued (Redis unreachable, or too many in flight)."""


@dataclass(frozen=True)
class Answer:
    cmd_id: str
    events: list[Event]


class MatcherGateway:
    """Sends commands to shards and routes replies back to the waiting requests."""

    def __init__(
        self, client: aioredis.Redis, shards: list[str], *, timeout: float, max_in_flight: int
    ) -> None:
        self.client = client
        self.shards = shards
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.edge_id = ""
        self.order_ids = OrderIdFactory(0)
        self._waiting: dict[str, asyncio.Future[wire.Reply]] = {}
        self._request_ids = itertools.count(1)
        self._readers: list[asyncio.Task[None]] = []
        # Commands waiting to be written, and (deadline, request id, cmd id) in deadline order:
        # every request has the same timeout, so appending keeps the deque sorted.
        self._outbox: list[tuple[str, bytes, str]] = []  # stream, command, request id
        self._wake = asyncio.Event()
        self._deadlines: collections.deque[tuple[float, str, str]] = collections.deque()

    async def start(self) -> None:
        """Take a node number, subscribe to the reply channels, start the tasks."""
        node = int(await self.client.incr(_NODE_COUNTER))
        self.edge_id = f"e{node}"
        self.order_ids = OrderIdFactory(node % 1024)
        pubsub = self.client.pubsub()
        await pubsub.subscribe(*(topics.replies(shard, self.edge_id) for shard in self.shards))
        self._readers.append(asyncio.create_task(self._listen(pubsub), name="replies"))
        self._readers.append(asyncio.create_task(self._write(), name="commands"))
        self._readers.append(asyncio.create_task(self._expire(), name="deadlines"))
        log.info("edge %s listening to the replies of shards %s", self.edge_id, self.shards)

    async def stop(self) -> None:
        """Stop the readers; requests still waiting fail as unavailable."""
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(MatcherUnavailableError("edge stopping"))
        self._waiting.clear()

    @property
    def ready(self) -> bool:
        """Every reply reader is running."""
        return bool(self._readers) and all(not t.done() for t in self._readers)

    async def call(self, shard: str, command: Command) -> Answer:
        """Queue ``command`` on ``shard`` and wait for its events.

        One future per request: the writer task fails it if the command could not be queued,
        and otherwise starts its deadline; the reply listener resolves it."""
        if len(self._waiting) >= self.max_in_flight:
            raise MatcherUnavailableError("too many requests in flight")
        request_id = str(next(self._request_ids))
        future: asyncio.Future[wire.Reply] = asyncio.get_running_loop().create_future()
        envelope = wire.CommandEnvelope(
            request_id=request_id, reply_to=self.edge_id, command=command
        )
        self._waiting[request_id] = future
        self._outbox.append((topics.commands(shard), wire.encode(envelope), request_id))
        self._wake.set()
        try:
            reply = await future
            if stages.ENABLED:
                stages.mark("reply")
                stages.note("cmd_id", reply.cmd_id)
            return Answer(cmd_id=reply.cmd_id, events=reply.events)
        finally:
            self._waiting.pop(request_id, None)

    async def _write(self) -> None:
        """Write every queued command in one batch per loop turn: with ``appendfsync always``
        the whole batch shares one fsync, where one XADD per request would pay one each.

        The commands go out on a connection of this task's own, packed in one write, and their
        ids are read back in order: no pipeline object, pool or retry wrapper per batch (they
        were a fifth of the edge's CPU per order)."""
        pool: Any = self.client.connection_pool
        conn: Any = None
        field = wire.COMMAND_FIELD
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            if not batch:
                continue
            try:
                if conn is None:
                    conn = await pool.get_connection()
                commands = [("XADD", key, "*", field, payload) for key, payload, _ in batch]
                await conn.send_packed_command(conn.pack_commands(commands))
                ids: list[Any] = []
                for _ in batch:
                    try:
                        ids.append(await conn.read_response())
                    except ResponseError as refused:  # that one only; the others are queued
                        ids.append(refused)
            except Exception as exc:
                if conn is not None:
                    await conn.disconnect()
                    await pool.release(conn)
                    conn = None
                for _, _, request_id in batch:
                    self._fail(request_id, MatcherUnavailableError(str(exc)))
                continue
            deadline = asyncio.get_running_loop().time() + self.timeout
            for (_, _, request_id), raw_id in zip(batch, ids, strict=True):
                if isinstance(raw_id, Exception):  # a refused XADD (e.g. Redis out of memory)
                    self._fail(request_id, MatcherUnavailableError(str(raw_id)))
                else:  # queued: the reply is due by the deadline
                    self._deadlines.append((deadline, request_id, raw_id.decode()))

    def _fail(self, request_id: str, error: Exception) -> bool:
        """Fail a request still waiting (``False``: it was answered or gone already)."""
        future = self._waiting.get(request_id)
        if future is None or future.done():
            return False
        future.set_exception(error)
        return True

    async def _expire(self) -> None:
        """Fail the requests whose reply is overdue (one sweeper instead of a timer each)."""
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines
        while True:
            await asyncio.sleep(0.05)
            now = loop.time()
            while deadlines and deadlines[0][0] <= now:
                _, request_id, cmd_id = deadlines.popleft()
                self._fail(request_id, MatcherTimeoutError(cmd_id))

    async def _listen(self, pubsub: Any) -> None:
        """Resolve waiting requests from the reply channels (redis-py resubscribes after a
        reconnect; what was published meanwhile is lost, so the requests waiting when the
        subscription broke answer 504 at once: :meth:`_give_up_waiting`).

        ``listen()`` blocks without a timer per message, as ``get_message(timeout=...)`` has."""
        try:
            while True:
                try:
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._resolve(message["data"])
                except RedisError as exc:
                    lost = self._give_up_waiting()
                    log.warning(
                        "reply listener: %s; resubscribing (%d requests answered 504)", exc, lost
                    )
                    await asyncio.sleep(0.05)
        finally:
            await pubsub.aclose()

    def _give_up_waiting(self) -> int:
        """The subscription broke: the replies to every queued request may come while nobody
        listens, so answer them now as timed out (504, their outcome readable later) instead of
        making their clients wait out the whole timeout."""
        lost = sum(self._fail(r, MatcherTimeoutError(c)) for _, r, c in self._deadlines)
        self._deadlines.clear()
        return lost

    def _resolve(self, data: bytes) -> None:
        try:
            batch = wire.decode_reply_batch(data)
        except msgspec.DecodeError:
            log.error("undecodable reply batch skipped")
            return
        for reply in batch.replies:
            future = self._waiting.get(reply.request_id)
            if future is not None and not future.done():
                future.set_result(reply)
