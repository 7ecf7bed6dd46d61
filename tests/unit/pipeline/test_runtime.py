"""The agent runtime in-process: values are acked only after processing, in batches too."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from pipeline.app import App
from pipeline.stream import Stream


def _app() -> App:
    # Never connected: test contexts run on an in-memory source.
    return App("test", aioredis.Redis(host="127.0.0.1", port=1))


async def test_a_value_is_acked_once_the_agent_asks_for_the_next() -> None:
    app = _app()
    seen: list[bytes] = []
    gate = asyncio.Event()

    @app.agent(app.topic("t", lambda f: f[b"v"]), group="g")
    async def collect(stream: Stream[bytes]) -> None:
        async for value in stream:
            seen.append(value)
            await gate.wait()

    async with collect.test_context() as source:
        first = source.put({b"v": b"1"})
        source.put({b"v": b"2"})
        while not seen:
            await asyncio.sleep(0.01)
        assert source.acked == []  # still processing the first value
        gate.set()
        await source.wait_acked(2)
        assert source.acked[0] == first
    assert seen == [b"1", b"2"]


async def test_take_hands_over_batches_and_acks_them_whole() -> None:
    app = _app()
    batches: list[list[int]] = []

    @app.agent(app.topic("t", lambda f: int(f[b"n"])), group="g")
    async def batch(stream: Stream[int]) -> None:
        async for values in stream.take(10, within=0.05):
            batches.append(values)

    async with batch.test_context() as source:
        for n in range(25):
            source.put({b"n": str(n).encode()})
        await source.wait_acked(25)
    assert [v for b in batches for v in b] == list(range(25))
    assert all(len(b) <= 10 for b in batches)
