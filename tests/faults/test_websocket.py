"""Depth clients through a lossy proxy while the edge restarts: every client notices the gaps,
resyncs from the REST snapshot, and ends holding the server's book; clients on a clean line that
keep up see no gap at all (a restart only makes them reconnect and sync again)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve

from infra.embedded import free_port
from tests.faults.conftest import Size, sizes, users
from tests.integration.edge.conftest import fresh_database, fresh_redis_url
from tests.support.cluster import Cluster
from tests.support.load import LoadGenerator
from tests.support.market_data import DepthClient, GapError

MARKET = "TATA_INR"


async def _lossy_proxy(upstream: str, port: int, drop: float, seed: int) -> Any:
    """A WebSocket proxy that forwards everything but drops ``drop`` of the pushed messages."""
    rng = random.Random(seed)

    async def handle(client: ServerConnection) -> None:
        try:
            async with websockets.connect(upstream) as server:

                async def up() -> None:
                    async for message in client:
                        await server.send(message)

                async def down() -> None:
                    async for message in server:
                        if '"stream"' in str(message)[:20] and rng.random() < drop:
                            continue
                        await client.send(message)

                tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    task.cancel()
        except (OSError, websockets.WebSocketException):
            pass  # the edge is down: the client sees its connection close and comes back

    return await serve(handle, "127.0.0.1", port)


@dataclass
class _Stats:
    gaps: int = 0
    syncs: int = 0
    reconnects: int = 0


async def _follow(ws_url: str, api: str, stats: _Stats, book: list[DepthClient]) -> None:
    """Follow ``depth@MARKET`` for ever: snapshot + buffered diffs, resync on a gap."""
    async with httpx.AsyncClient(base_url=api, timeout=5) as http:
        while True:
            try:
                async with websockets.connect(ws_url, open_timeout=5) as ws:
                    await ws.send(
                        json.dumps({"method": "SUBSCRIBE", "params": [f"depth@{MARKET}"]})
                    )
                    await _sync_loop(ws, http, stats, book)
            except (OSError, websockets.WebSocketException, httpx.HTTPError, TimeoutError):
                stats.reconnects += 1
                await asyncio.sleep(0.2)


async def _sync_loop(ws: Any, http: httpx.AsyncClient, stats: _Stats, book: list[Any]) -> None:
    buffered: list[dict[str, Any]] = []
    while True:  # one pass per (re)sync
        snapshot = (await http.get("/depth", params={"symbol": MARKET, "limit": 1000})).json()
        client = DepthClient(
            {Decimal(p): Decimal(q) for p, q in snapshot["bids"]},
            {Decimal(p): Decimal(q) for p, q in snapshot["asks"]},
            int(snapshot["lastUpdateId"]),
        )
        stats.syncs += 1
        book[:] = [client]
        try:
            for diff in buffered:
                client.apply(diff)
            buffered = []
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                except TimeoutError:
                    # A second of silence: a lost last diff shows only against the snapshot.
                    latest = (
                        await http.get("/depth", params={"symbol": MARKET, "limit": 1})
                    ).json()
                    if int(latest["lastUpdateId"]) > client.last:
                        raise GapError("behind the snapshot after a quiet second") from None
                    continue
                if "stream" in message:
                    client.apply(message["data"])
        except GapError:
            stats.gaps += 1
            buffered = []


async def _levels(api: str) -> tuple[int, dict[str, dict[Decimal, Decimal]]]:
    async with httpx.AsyncClient(base_url=api, timeout=5) as http:
        snap = (await http.get("/depth", params={"symbol": MARKET, "limit": 1000})).json()
    sides = {
        s: {Decimal(p): Decimal(q) for p, q in snap[k]} for s, k in (("b", "bids"), ("a", "asks"))
    }
    return int(snap["lastUpdateId"]), sides


def _sides(client: DepthClient) -> dict[str, dict[Decimal, Decimal]]:
    return {"b": dict(client.side("b")), "a": dict(client.side("a"))}


@pytest.mark.parametrize("size", sizes(Size(15, 60, 3, users=10), Size(600, 200, 3, users=1000)))
def test_depth_clients_resync_through_drops_and_edge_restarts(
    size: Size, redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    lossy_clients, clean_clients = (size.users, 5)
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, with_flow=True)
        cluster.start()
        try:
            traders = users(cluster, 10)
            api = f"{cluster.base_url}/api/v1"
            ws_url = cluster.base_url.replace("http://", "ws://") + "/ws"
            lossy: list[_Stats] = []
            clean: list[_Stats] = []
            books: list[list[DepthClient]] = []

            async def scenario() -> None:
                proxy_port = free_port()
                proxy = await _lossy_proxy(ws_url, proxy_port, drop=0.01, seed=8)
                followers = []
                for n in range(lossy_clients + clean_clients):
                    stats, book = _Stats(), []
                    (lossy if n < lossy_clients else clean).append(stats)
                    books.append(book)
                    url = f"ws://127.0.0.1:{proxy_port}" if n < lossy_clients else ws_url
                    followers.append(asyncio.create_task(_follow(url, api, stats, book)))
                load = LoadGenerator(
                    cluster.base_url, traders, rate=size.rate, seed=8, markets=(MARKET,)
                ).start()
                for _ in range(size.faults):
                    await asyncio.sleep(size.seconds / (size.faults + 1))
                    await asyncio.to_thread(cluster.edge.stop)
                    await asyncio.to_thread(cluster.edge.start)
                    await asyncio.to_thread(cluster.wait_ready)
                await asyncio.sleep(size.seconds / (size.faults + 1))
                await asyncio.to_thread(load.stop)
                # Quiet now: each follower checks itself against the snapshot when nothing
                # comes for a second, so every book converges on the server's.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    await asyncio.sleep(1)
                    last, sides = await _levels(api)
                    if all(b and b[0].last == last and _sides(b[0]) == sides for b in books):
                        break
                for follower in followers:
                    follower.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await follower
                proxy.close()
                last, sides = await _levels(api)
                for book in books:
                    assert book
                    assert book[0].last == last
                    assert _sides(book[0]) == sides

            asyncio.run(scenario())
        finally:
            cluster.stop()
    record.update(
        lossy_gaps=[s.gaps for s in lossy],
        clean_gaps=[s.gaps for s in clean],
        syncs=sum(s.syncs for s in lossy + clean),
        reconnects=sum(s.reconnects for s in lossy + clean),
    )
    assert all(s.gaps >= 1 for s in lossy), "every client behind the lossy proxy saw a gap"
    assert all(s.gaps == 0 for s in clean), "clients on a clean line never see a gap"
    assert all(s.syncs >= size.faults + 1 for s in lossy + clean)
