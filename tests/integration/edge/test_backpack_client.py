"""A client written from Backpack's public documentation (docs.backpack.exchange), not from our
code, pointed at Tidewater by its base URL: it starts as a Backpack client starts, follows
``depth.M`` with the documented sync procedure, and trades with a signed API key in Backpack's
own bodies and on its own paths (``side: Bid``, ``orderType``, ``clientId``, ``/capital``,
``/wapi/v1/history/...``), against a trader who uses ours.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.integration.edge.conftest import sign_up
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

SYMBOL = "ETH_USDC"
TRADED = "BTC_USDC"


class BackpackClient:
    """The calls a Backpack client makes, with its request signing."""

    def __init__(self, base_url: str, key: Ed25519PrivateKey | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.key = key
        self.ws_url = base_url.replace("http", "ws", 1) + "/ws"

    def public(self, path: str, **params: Any) -> Any:
        answer = self.http.get(f"/api/v1/{path}", params=params)
        answer.raise_for_status()
        return answer.json() if "json" in answer.headers["content-type"] else answer.text

    def _signed(self, instruction: str, params: dict[str, Any]) -> dict[str, str]:
        assert self.key is not None
        stamp, window = int(time.time() * 1000), 5000
        fields = [f"instruction={instruction}"]
        for name, value in sorted(params.items()):
            fields.append(f"{name}={str(value).lower() if isinstance(value, bool) else value}")
        text = "&".join([*fields, f"timestamp={stamp}", f"window={window}"])
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "X-API-Key": base64.b64encode(public).decode(),
            "X-Signature": base64.b64encode(self.key.sign(text.encode())).decode(),
            "X-Timestamp": str(stamp),
            "X-Window": str(window),
        }

    def get(self, path: str, instruction: str, **params: Any) -> Any:
        """A signed GET; ``path`` from the root (``/api/v1/...``, ``/wapi/v1/...``)."""
        headers = self._signed(instruction, params)
        answer = self.http.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def subscription(self, streams: list[str], request_id: int) -> dict[str, Any]:
        """A SUBSCRIBE to private streams, signed as Backpack signs it."""
        headers = self._signed("subscribe", {})
        signature = [headers[h] for h in ("X-API-Key", "X-Signature", "X-Timestamp", "X-Window")]
        return {"method": "SUBSCRIBE", "params": streams, "signature": signature,
                "id": request_id}  # fmt: skip

    def send(self, method: str, path: str, instruction: str, body: dict[str, Any]) -> Any:
        headers = {**self._signed(instruction, body), "Content-Type": "application/json"}
        return self.http.request(method, path, content=json.dumps(body), headers=headers)


def test_a_backpack_client_starts_reads_and_follows_the_book(full: Cluster) -> None:
    client = BackpackClient(full.base_url)
    # A client's start: status, server time, markets, assets, and the lists of products
    # (perpetuals, lending) a spot venue has none of.
    assert client.public("status") == {"status": "Ok", "message": None}
    assert client.public("ping") == "pong"
    assert abs(int(client.public("time")) - time.time() * 1000) < 10_000
    market = client.public("market", symbol=SYMBOL)
    assert market["marketType"] == "SPOT"
    tick = Decimal(market["filters"]["price"]["tickSize"])
    step = Decimal(market["filters"]["quantity"]["stepSize"])
    assert {"ETH", "USDC"} <= {a["symbol"] for a in client.public("assets")}
    for listing in ("markPrices", "fundingRates", "borrowLend/markets", "openInterest"):
        assert client.public(listing) == []

    with httpx.Client(base_url=f"{full.base_url}/api/v1", timeout=10) as api:
        seller, buyer = sign_up(api, {"ETH": "10"}), sign_up(api, {"USDC": "100000"})

        def order(who: dict[str, str], kind: str, price: Decimal, qty: Decimal) -> None:
            body = {"market": SYMBOL, "kind": kind, "type": "limit", "price": str(price),
                    "quantity": str(qty)}  # fmt: skip
            assert api.post("/order", headers=who, json=body).is_success

        async def follow() -> dict[str, dict[str, str]]:
            async with websockets.connect(client.ws_url) as ws:
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [f"depth.{SYMBOL}"],
                                          "id": 1}))  # fmt: skip
                assert json.loads(await ws.recv()) == {"id": 1, "result": None}
                # The book moves while the client syncs.
                for i in range(3):
                    await asyncio.to_thread(order, seller, "sell", 2000 + i * tick, 2 * step)
                snapshot = await asyncio.to_thread(client.public, "depth", symbol=SYMBOL)
                book = {side: dict(snapshot[side]) for side in ("bids", "asks")}
                last = int(snapshot["lastUpdateId"])
                await asyncio.to_thread(order, buyer, "buy", 2000 + tick, 3 * step)
                await asyncio.to_thread(order, buyer, "buy", Decimal("1900.00"), step)
                # Where the book ends: the flow has stored the last order's level.
                final = await asyncio.to_thread(
                    eventually,
                    lambda: client.public("depth", symbol=SYMBOL),
                    lambda d: ["1900.00", str(step)] in d["bids"],
                )
                target = int(final["lastUpdateId"])
                # Apply diffs: skip those the snapshot holds; each next one starts at u + 1.
                while last < target:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    diff = message["data"]
                    assert message["stream"] == f"depth.{SYMBOL}"
                    assert diff["E"] > 10**15  # microseconds
                    if diff["u"] <= last:
                        continue
                    assert diff["U"] == last + 1, (diff, last)  # no gap
                    for side, key in (("bids", "b"), ("asks", "a")):
                        for price, qty in diff[key]:
                            if Decimal(qty) == 0:
                                book[side].pop(price, None)
                            else:
                                book[side][price] = qty
                    last = diff["u"]
                assert last == target
                return book

        book = asyncio.run(follow())
    # The book followed from the stream is the book the server shows.
    fresh = client.public("depth", symbol=SYMBOL)
    assert book == {side: dict(fresh[side]) for side in ("bids", "asks")}
    trades = eventually(lambda: client.public("trades", symbol=SYMBOL), lambda t: len(t) >= 2)
    assert client.public("trades/history", symbol=SYMBOL, limit=1, offset=1) == trades[1:2]
    bars = eventually(lambda: client.public("klines", symbol=SYMBOL, interval="1m",
                                            startTime=int(time.time()) - 3600), bool)  # fmt: skip
    assert bars[-1]["start"] < bars[-1]["end"]
    ticker = client.public("ticker", symbol=SYMBOL)
    assert ticker["lastPrice"] is not None


def test_a_backpack_client_trades_with_a_signed_key(full: Cluster) -> None:
    # A market of its own: the other test leaves orders in SYMBOL's book.
    key = Ed25519PrivateKey.generate()
    client = BackpackClient(full.base_url, key)
    with httpx.Client(base_url=f"{full.base_url}/api/v1", timeout=10) as api:
        owner = sign_up(api, {"USDC": "1000"})
        seller = sign_up(api, {"BTC": "10"})  # speaks our dialect, with a JWT
        public = base64.b64encode(
            key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ).decode()
        assert api.post("/apiKey", headers=owner, json={"publicKey": public}).status_code == 201

        def bid(price: str, quantity: str, client_id: int, **extra: Any) -> dict[str, Any]:
            body = {"symbol": TRADED, "side": "Bid", "orderType": "Limit", "price": price,
                    "quantity": quantity, "clientId": client_id, **extra}  # fmt: skip
            answer = client.send("POST", "/api/v1/order", "orderExecute", body)
            assert answer.status_code == 200, answer.text
            placed: dict[str, Any] = answer.json()
            return placed

        first = bid("10.00", "1.0000", 42, timeInForce="GTC", selfTradePrevention="RejectMaker")
        assert {k: first[k] for k in ("symbol", "side", "orderType", "status", "clientId",
                                      "price", "quantity", "executedQuantity",
                                      "selfTradePrevention", "timeInForce", "postOnly")} == {
            "symbol": TRADED, "side": "Bid", "orderType": "Limit", "status": "New",
            "clientId": 42, "price": "10.00", "quantity": "1.0000", "executedQuantity": "0.0000",
            "selfTradePrevention": "RejectMaker", "timeInForce": "GTC", "postOnly": False,
        }  # fmt: skip
        assert abs(first["createdAt"] - time.time() * 1000) < 60_000  # milliseconds
        second = bid("9.00", "2.0000", 43)
        # Reading it back: all open orders, one by id, one by clientId; the funds it holds.
        opened = client.get("/api/v1/orders", "orderQueryAll", symbol=TRADED)
        assert {o["id"] for o in opened} == {first["id"], second["id"]}
        by_id = client.get("/api/v1/order", "orderQuery", symbol=TRADED, orderId=first["id"])
        assert by_id == first
        assert client.get("/api/v1/order", "orderQuery", symbol=TRADED, clientId=43) == second
        capital = client.get("/api/v1/capital", "balanceQuery")
        assert capital["USDC"] == {"available": "972.000000", "locked": "28.000000", "staked": "0"}
        # A refusal in Backpack's error shape, which changes nothing.
        refused = client.send("POST", "/api/v1/order", "orderExecute",
                              {"symbol": TRADED, "side": "Bid", "orderType": "Limit",
                               "price": "10.001", "quantity": "1.0000"})  # fmt: skip
        assert refused.status_code == 400
        assert refused.json()["code"] == "INVALID_PRICE", refused.text
        assert client.get("/api/v1/capital", "balanceQuery") == capital

        # Someone who speaks our dialect sells into the first bid.
        sold = api.post("/order", headers=seller, json={
            "market": TRADED, "kind": "sell", "type": "limit", "price": "10.00",
            "quantity": "1.0000"})  # fmt: skip
        assert sold.json()["status"] == "filled", sold.text
        # Cancel the other by clientId, then everything left (nothing).
        canceled = client.send("DELETE", "/api/v1/order", "orderCancel",
                               {"symbol": TRADED, "clientId": 43})  # fmt: skip
        assert canceled.status_code == 200, canceled.text
        assert (canceled.json()["id"], canceled.json()["status"]) == (second["id"], "Cancelled")
        gone = client.send("DELETE", "/api/v1/order", "orderCancel",
                           {"symbol": TRADED, "orderId": second["id"]})  # fmt: skip
        assert (gone.status_code, gone.json()["code"]) == (404, "UNKNOWN_ORDER"), gone.text
        swept = client.send("DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": TRADED})
        assert (swept.status_code, swept.json()) == (200, [])

    # History, Backpack's: newest first, paged by offset; UTC times without a zone.
    orders = eventually(
        lambda: client.get("/wapi/v1/history/orders", "orderHistoryQueryAll", symbol=TRADED),
        lambda rows: [o["status"] for o in rows] == ["Cancelled", "Filled"],
    )
    assert [o["id"] for o in orders] == [second["id"], first["id"]]
    assert orders[1]["executedQuantity"] == "1.0000"
    created = time.gmtime(first["createdAt"] // 1000)  # the day it was placed, UTC
    assert orders[1]["createdAt"].startswith(time.strftime("%Y-%m-%dT", created))
    page = client.get("/wapi/v1/history/orders", "orderHistoryQueryAll", symbol=TRADED,
                      limit=1, offset=1)  # fmt: skip
    assert page == orders[1:]
    fills = eventually(
        lambda: client.get("/wapi/v1/history/fills", "fillHistoryQueryAll", symbol=TRADED),
        lambda rows: len(rows) == 1,
    )
    fill = fills[0]
    assert {k: fill[k] for k in ("orderId", "symbol", "side", "price", "quantity", "isMaker",
                                 "feeSymbol")} == {
        "orderId": first["id"], "symbol": TRADED, "side": "Bid", "price": "10.00",
        "quantity": "1.0000", "isMaker": True, "feeSymbol": "BTC",
    }  # fmt: skip
    capital = client.get("/api/v1/capital", "balanceQuery")
    assert capital["USDC"] == {"available": "990.000000", "locked": "0.000000", "staked": "0"}
    assert Decimal(capital["BTC"]["available"]) == Decimal("1.0000") - Decimal(fill["fee"])


def test_a_backpack_client_follows_its_orders_on_account_order_update(full: Cluster) -> None:
    key = Ed25519PrivateKey.generate()
    client = BackpackClient(full.base_url, key)
    market = "TATA_INR"
    with httpx.Client(base_url=f"{full.base_url}/api/v1", timeout=10) as api:
        owner = sign_up(api, {"INR": "10000"})
        seller = sign_up(api, {"TATA": "10"})
        public = base64.b64encode(
            key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ).decode()
        assert api.post("/apiKey", headers=owner, json={"publicKey": public}).status_code == 201

        def bid(price: str, client_id: int) -> str:
            body = {"symbol": market, "side": "Bid", "orderType": "Limit", "price": price,
                    "quantity": "2", "clientId": client_id}  # fmt: skip
            answer = client.send("POST", "/api/v1/order", "orderExecute", body)
            assert answer.status_code == 200, answer.text
            order_id: str = answer.json()["id"]
            return order_id

        async def follow() -> list[dict[str, Any]]:
            async with websockets.connect(client.ws_url) as ws:
                # Unsigned, or signed by a stranger's key: refused.
                await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 1,
                                          "params": ["account.orderUpdate"]}))  # fmt: skip
                assert json.loads(await ws.recv())["error"]["code"] == "UNKNOWN_STREAM"
                stranger = BackpackClient(full.base_url, Ed25519PrivateKey.generate())
                await ws.send(json.dumps(stranger.subscription(["account.orderUpdate"], 2)))
                assert json.loads(await ws.recv())["error"]["code"] == "UNAUTHORIZED"
                forged = client.subscription(["account.orderUpdate"], 3)
                forged["signature"][3] = "6000"  # another window than the one signed
                await ws.send(json.dumps(forged))
                assert json.loads(await ws.recv())["error"]["code"] == "INVALID_SIGNATURE"
                subscribe = client.subscription([f"account.orderUpdate.{market}"], 4)
                await ws.send(json.dumps(subscribe))
                assert json.loads(await ws.recv()) == {"id": 4, "result": None}
                first = await asyncio.to_thread(bid, "100.00", 1)
                second = await asyncio.to_thread(bid, "99.00", 2)
                sold = await asyncio.to_thread(api.post, "/order", headers=seller, json={
                    "market": market, "kind": "sell", "type": "limit", "price": "100.00",
                    "quantity": "2"})  # fmt: skip
                assert sold.json()["status"] == "filled", sold.text
                canceled = await asyncio.to_thread(
                    client.send,
                    "DELETE",
                    "/api/v1/order",
                    "orderCancel",
                    {"symbol": market, "orderId": second},
                )
                assert canceled.status_code == 200, canceled.text
                updates: list[dict[str, Any]] = []
                while not any(u["e"] == "orderCancelled" for u in updates):
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert message["stream"] == f"account.orderUpdate.{market}"
                    updates.append(message["data"])
                return [u | {"first": u["i"] == first} for u in updates]

        updates = asyncio.run(follow())
    assert [(u["e"], u["first"], u["X"]) for u in updates] == [
        ("orderAccepted", True, "New"),
        ("orderAccepted", False, "New"),
        ("orderFill", True, "Filled"),
        ("orderCancelled", False, "Cancelled"),
    ]
    accepted, _, fill, cancelled = updates
    assert {k: accepted[k] for k in "scSofqpzZVy"} == {
        "s": market, "c": 1, "S": "Bid", "o": "LIMIT", "f": "GTC", "q": "2", "p": "100.00",
        "z": "0", "Z": "0.00", "V": "RejectTaker", "y": False,
    }  # fmt: skip
    assert accepted["E"] > 10**15  # microseconds
    assert {k: fill[k] for k in "lLmNzZ"} == {
        "l": "2", "L": "100.00", "m": True, "N": "TATA", "z": "2", "Z": "200.00",
    }  # fmt: skip
    stored = eventually(
        lambda: client.get("/wapi/v1/history/fills", "fillHistoryQueryAll", symbol=market),
        lambda rows: len(rows) == 1,
    )
    assert (fill["t"], fill["n"], fill["N"]) == (
        stored[0]["tradeId"], stored[0]["fee"], stored[0]["feeSymbol"])  # fmt: skip
    assert (cancelled["c"], cancelled["z"]) == (2, "0")
