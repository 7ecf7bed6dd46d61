"""The WebSocket gateway over a real socket: subscribe, receive what is published, private
orders after AUTH, and hostile input answered or closed without hurting the edge."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import websockets

from model import topics
from model.config import load_markets
from model.enums import Side
from model.events import TradeExecuted
from model.ids import OrderId, TradeId, UserId
from pipeline.flows.payloads import book_ticker_payload, trade_payload
from tests.integration.edge.conftest import fresh_redis_url, sign_up
from tests.support.cluster import Cluster


@pytest.fixture(scope="module")
def live(
    redis_url: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = Cluster(
        fresh_redis_url(redis_url), edge_database_url, tmp_path_factory.mktemp("ws"),
        with_agents=True,
    )  # fmt: skip
    cluster.start()
    yield cluster
    cluster.stop()


def _ws_url(cluster: Cluster) -> str:
    return cluster.base_url.replace("http://", "ws://") + "/ws"


async def _next(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def _until(ws: Any, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            message = await _next(ws, timeout)
            if predicate(message):
                return message


def test_subscribe_receive_unsubscribe(live: Cluster) -> None:
    publisher = redis.Redis.from_url(live.matcher.env["REDIS_URL"])

    async def scenario() -> None:
        async with websockets.connect(_ws_url(live)) as ws:
            await ws.send(
                json.dumps({"method": "SUBSCRIBE", "params": ["trades@TATA-INR"], "id": 1})
            )
            assert await _next(ws) == {"id": 1, "result": None}
            payload = {"e": "trade", "t": 7, "p": "10.00", "q": "1", "m": True, "T": 1}
            await asyncio.to_thread(publisher.publish, "md:trades@TATA_INR", json.dumps(payload))
            assert await _next(ws) == {"stream": "trades@TATA-INR", "data": payload}
            await ws.send(
                json.dumps({"method": "UNSUBSCRIBE", "params": ["trades@TATA-INR"], "id": 2})
            )
            assert await _next(ws) == {"id": 2, "result": None}
            await ws.send(json.dumps({"method": "PING", "id": 3}))
            assert await _next(ws) == {"id": 3, "result": "pong"}

    asyncio.run(scenario())
    publisher.close()


def test_one_stream_two_names_each_in_its_own_shape(live: Cluster) -> None:
    """``trades@M`` and Backpack's ``trade.M`` follow one channel; each name gets the flow's
    push in its own shape, on one socket, in order."""
    publisher = redis.Redis.from_url(live.matcher.env["REDIS_URL"])
    spec = load_markets().markets["TATA_INR"]
    trades = [
        trade_payload(spec, TradeExecuted(
            seq=i, ts=1_767_571_200_000_000 + i * 1000, market="TATA_INR", trade_id=TradeId(i),
            price=spec.parse_price("10.00"), quantity=spec.parse_quantity("1"),
            taker_side=Side.BUY, maker_order_id=OrderId(100 + i), taker_order_id=OrderId(200 + i),
            maker_user_id=UserId(1), taker_user_id=UserId(2), base_amount=0, quote_amount=0,
            maker_fee=0, taker_fee=0, taker_refund=0, maker_remaining=0, taker_remaining=0))
        for i in (1, 2)
    ]  # fmt: skip

    async def scenario() -> None:
        async with websockets.connect(_ws_url(live)) as ws:
            names = ["trades@TATA_INR", "trade.TATA_INR", "depth.TATA_INR", "kline.1m.TATA_INR",
                     "ticker.TATA_INR"]  # fmt: skip
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}))
            assert await _next(ws) == {"id": 1, "result": None}
            for payload in trades:
                await asyncio.to_thread(publisher.publish, "md:trades@TATA_INR", payload)
            got = [await _next(ws) for _ in range(4)]
            ours = [m["data"] for m in got if m["stream"] == "trades@TATA_INR"]
            theirs = [m["data"] for m in got if m["stream"] == "trade.TATA_INR"]
            assert ours == [json.loads(p) for p in trades]
            assert [(t["t"], t["b"], t["a"], t["m"]) for t in theirs] == [
                (1, "201", "101", False), (2, "202", "102", False)]  # fmt: skip
            assert theirs[0]["E"] == ours[0]["E"] * 1000  # microseconds, as Backpack's
            # The best bid and ask: ours and Backpack's names of one stream.
            await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 2, "params": [
                "bookTicker@TATA_INR", "bookTicker.TATA_INR"]}))  # fmt: skip
            assert await _next(ws) == {"id": 2, "result": None}
            top = book_ticker_payload(spec, ((1000, 2), None), 77, 1_767_571_200_000_000)
            await asyncio.to_thread(publisher.publish, "md:bookTicker@TATA_INR", top)
            pushed = {m["stream"]: m["data"] for m in [await _next(ws), await _next(ws)]}
            assert pushed["bookTicker@TATA_INR"] == json.loads(top)
            assert pushed["bookTicker.TATA_INR"] == {
                "e": "bookTicker", "E": 1_767_571_200_000_000, "s": "TATA_INR", "b": "10.00",
                "B": "2", "a": None, "A": None, "u": "77", "T": 1_767_571_200_000_000,
            }  # fmt: skip
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["bookTicker.NOPE_X"],
                                      "id": 3}))  # fmt: skip
            assert (await _next(ws))["error"]["code"] == "UNKNOWN_STREAM"

    asyncio.run(scenario())
    publisher.close()


def test_shared_frames_and_compressed_clients_get_the_same_pushes_in_order(live: Cluster) -> None:
    """Uncompressed clients are written frames built once for all; a client that negotiated
    permessage-deflate gets its pushes through its own sender. Each under its own stream name."""
    publisher = redis.Redis.from_url(live.matcher.env["REDIS_URL"])
    names = ["trades@TATA_INR", "trades@TATA-INR", "trades@TATA_INR"]
    compressions: list[str | None] = [None, None, "deflate"]

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(websockets.connect(_ws_url(live), compression=c))
                for c in compressions
            ]
            for n, (ws, name) in enumerate(zip(clients, names, strict=True)):
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [name], "id": n}))
                assert await _next(ws) == {"id": n, "result": None}
            payloads = [{"e": "trade", "t": t, "p": "10.00", "q": "1"} for t in range(500)]
            pipe = publisher.pipeline(transaction=False)
            for payload in payloads:
                pipe.publish("md:trades@TATA_INR", json.dumps(payload))
            await asyncio.to_thread(pipe.execute)
            for ws, name in zip(clients, names, strict=True):
                got = [await _next(ws) for _ in payloads]
                assert got == [{"stream": name, "data": p} for p in payloads]
        assert [ws.protocol.extensions != [] for ws in clients] == [False, False, True]

    asyncio.run(scenario())
    publisher.close()


def test_private_orders_after_auth(live: Cluster) -> None:
    with httpx.Client(base_url=f"{live.base_url}/api/v1", timeout=10) as api:
        user = sign_up(api, {"INR": "1000"})
        token = user["Authorization"].split()[1]

        async def scenario() -> None:
            async with websockets.connect(_ws_url(live)) as ws:
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["orders"], "id": 1}))
                assert (await _next(ws))["error"]["code"] == "UNKNOWN_STREAM"
                await ws.send(json.dumps({"method": "AUTH", "params": ["forged.token.x"], "id": 2}))
                assert (await _next(ws))["error"]["code"] == "UNAUTHORIZED"
                await ws.send(json.dumps({"method": "AUTH", "params": [token], "id": 3}))
                assert await _next(ws) == {"id": 3, "result": None}
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["orders"], "id": 4}))
                assert await _next(ws) == {"id": 4, "result": None}
                placed = await asyncio.to_thread(api.post, "/order", headers=user, json={
                    "market": "TATA_INR", "kind": "buy", "type": "limit", "price": "5",
                    "quantity": "2"})  # fmt: skip
                order_id = placed.json()["orderId"]
                update = await _until(
                    ws, lambda m: m.get("stream") == "orders" and m["data"].get("e") == "order"
                )
                data = update["data"]
                assert (data["change"], data["orderId"], data["status"]) == (
                    "accepted", order_id, "new")  # fmt: skip
                # The order as it stood then (its creation time is the stored one).
                shown = {k: v for k, v in data["order"].items() if k != "createdAt"}
                assert shown == {k: v for k, v in placed.json().items() if k != "createdAt"}
                rested = await _until(
                    ws, lambda m: m.get("stream") == "orders" and m["data"].get("e") == "order"
                )
                assert (rested["data"]["change"], rested["data"]["order"]["status"]) == (
                    "rested", "new")  # fmt: skip

        asyncio.run(scenario())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "INVALID_JSON"),
        ("[1, 2]", "INVALID_REQUEST"),
        ('{"method": "EXPLODE", "id": 1}', "UNKNOWN_METHOD"),
        ('{"method": "SUBSCRIBE", "params": ["nonsense@TATA_INR"], "id": 1}', "UNKNOWN_STREAM"),
        ('{"method": "SUBSCRIBE", "params": ["trades@NOPE_X"], "id": 1}', "UNKNOWN_STREAM"),
        ('{"method": "SUBSCRIBE", "params": [1, 2], "id": 1}', "INVALID_REQUEST"),
        ('{"method": "SUBSCRIBE", "params": ["trades@TATA_INR"], "id": "x"}', "INVALID_REQUEST"),
    ],
)
def test_bad_messages_get_an_error(live: Cluster, frame: str, code: str) -> None:
    async def scenario() -> None:
        async with websockets.connect(_ws_url(live)) as ws:
            await ws.send(frame)
            assert (await _next(ws))["error"]["code"] == code

    asyncio.run(scenario())


async def _closed_with(ws: Any) -> int | None:
    try:
        while True:
            await _next(ws)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def test_abuse_is_refused_or_closed_and_the_edge_lives_on(live: Cluster) -> None:
    async def scenario() -> None:
        async with websockets.connect(_ws_url(live)) as ws:
            # 10,000 subscriptions: in one frame it is too big; in small frames the cap answers.
            names = [f"depth@X{i:05d}" for i in range(10_000)]
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}))
            assert await _closed_with(ws) == 1009
        async with websockets.connect(_ws_url(live)) as ws:
            streams = [
                f"{kind}@{m}"
                for kind in ("trades", "depth", "ticker")
                for m in ("TATA_INR", "BTC_USDC", "ETH_USDC")
            ] + [
                f"kline.{i}@{m}"
                for i in ("1m", "5m", "15m", "1h", "1d", "1w")
                for m in (
                    "TATA_INR",
                    "BTC_USDC",
                    "ETH_USDC",
                    "TATA-INR",
                    "BTC-USDC",
                    "ETH-USDC",
                    "tata_inr",
                    "btc_usdc",
                    "eth_usdc",
                )
            ]
            replies = []
            for n, start in enumerate(range(0, len(streams), 5)):
                await ws.send(
                    json.dumps(
                        {"method": "SUBSCRIBE", "params": streams[start : start + 5], "id": n}
                    )
                )
                replies.append(await _next(ws))
            assert any(r.get("error", {}).get("code") == "TOO_MANY_SUBSCRIPTIONS" for r in replies)
        async with websockets.connect(_ws_url(live), max_size=2**20) as ws:
            await ws.send("x" * 100_000)
            assert await _closed_with(ws) == 1009
        async with websockets.connect(_ws_url(live)) as ws:
            for i in range(40):
                await ws.send(json.dumps({"method": "PING", "id": i}))
            assert await _closed_with(ws) == 1008

    asyncio.run(scenario())
    assert httpx.get(f"{live.base_url}/healthz").status_code == 200


def test_clients_subscribing_at_once_get_every_stream(
    redis_url: str, edge_database_url: str, tmp_path: Any
) -> None:
    cluster = Cluster(fresh_redis_url(redis_url), edge_database_url, tmp_path)
    cluster.start()
    publisher = redis.Redis.from_url(cluster.matcher.env["REDIS_URL"])
    streams = ["trades@BTC_USDC", "depth@BTC_USDC", "ticker@BTC_USDC"]

    async def client(ready: asyncio.Barrier) -> set[str]:
        async with websockets.connect(_ws_url(cluster)) as ws:
            await ready.wait()  # every client subscribes at the same moment
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": streams, "id": 1}))
            assert await _next(ws) == {"id": 1, "result": None}
            await ready.wait()
            seen: set[str] = set()
            with contextlib.suppress(TimeoutError):
                while seen != set(streams):
                    seen.add((await _next(ws, timeout=3))["stream"])
            return seen

    async def scenario() -> list[set[str]]:
        ready = asyncio.Barrier(11)
        clients = [asyncio.create_task(client(ready)) for _ in range(10)]
        await ready.wait()
        await ready.wait()
        for _ in range(3):
            for name in streams:
                await asyncio.to_thread(publisher.publish, f"md:{name}", '{"x":1}')
            await asyncio.sleep(0.05)
        return list(await asyncio.gather(*clients))

    try:
        assert asyncio.run(scenario()) == [set(streams)] * 10
    finally:
        publisher.close()
        cluster.stop()


def test_a_client_that_stops_reading_is_disconnected_and_others_keep_up(live: Cluster) -> None:
    """A client whose socket is full falls behind; past the bound it is closed with 1008 and
    told to resync, while a client that reads keeps receiving every message."""
    published = 4000
    pad = "x" * 8000  # large messages fill the kernel's socket buffers quickly

    async def scenario() -> None:
        host, port = live.base_url.removeprefix("http://").split(":")
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect((host, int(port)))
        raw.setblocking(False)
        async with (
            websockets.connect(_ws_url(live), sock=raw, max_queue=4, compression=None) as slow,
            websockets.connect(_ws_url(live), max_size=2**20) as fast,
        ):
            for ws in (slow, fast):
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["trades@ETH_USDC"]}))
                assert (await _next(ws)).get("error") is None
            publisher = redis.Redis.from_url(live.redis_url)
            channel = topics.trades_stream("ETH_USDC")

            async def read_all() -> int:
                received = 0
                while received < published:
                    message = await _next(fast, 30)
                    assert message["data"]["n"] == received  # in order, none missing
                    received += 1
                return received

            reader = asyncio.create_task(read_all())
            for start in range(0, published, 100):
                pipe = publisher.pipeline(transaction=False)
                for n in range(start, start + 100):
                    pipe.publish(channel, json.dumps({"e": "trade", "n": n, "pad": pad}))
                pipe.execute()
                await asyncio.sleep(0.01)
            assert await reader == published
            publisher.close()
            # Now read what the slow client was sent: a prefix of the messages, then the close.
            seen, closed = 0, None
            try:
                while True:
                    message = await _next(slow, 30)
                    assert message["data"]["n"] == seen
                    seen += 1
            except websockets.ConnectionClosed as error:
                closed = error.rcvd
            assert closed is not None
            assert closed.code == 1008
            assert "slow consumer" in closed.reason
            assert seen < published

    asyncio.run(scenario())
    assert httpx.get(f"{live.base_url}/healthz").status_code == 200
