"""client/ against a running exchange (matcher, edge, persist agent and market-data flow): a
trader's whole round trip through the sync client, the async client with the WebSocket streams,
and refusals arriving as ``ApiError`` with the API's codes."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import TypeVar

import pytest

from client import (
    ORDERS_STREAM,
    Account,
    ApiError,
    AsyncClient,
    AsyncStreams,
    Client,
    Push,
    Streams,
    depth_name,
    trades_name,
)
from model.api import OrderRequest
from model.enums import OrderStatus, OrderType, Side
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

MARKET = "TATA_INR"
PASSWORD = "correct horse battery"
T = TypeVar("T")


def _account() -> Account:
    return Account(f"c{uuid.uuid4().hex[:12]}", PASSWORD)


def test_a_round_trip_through_the_sync_client(full: Cluster) -> None:
    alice, bob = _account(), _account()
    with Client(full.base_url) as api:
        assert MARKET in {m.symbol for m in api.markets()}
        api.sign_up_or_in(alice)
        api.sign_up_or_in(bob)
        assert alice.user_id is not None
        assert alice.user_id != bob.user_id
        api.onramp(alice, "INR", "10000.00")
        api.onramp(bob, "TATA", Decimal(50))

        bid = api.place(
            alice,
            OrderRequest(market=MARKET, kind=Side.BUY, type=OrderType.LIMIT,
                         price=Decimal("100.00"), quantity=Decimal(10), client_order_id="a-1"),
        )  # fmt: skip
        assert (bid.status, bid.price, bid.remaining_qty) == (OrderStatus.NEW, "100.00", "10")
        assert api.balances(alice)["INR"].locked != "0.00"
        quote = api.quote(bob, {"market": MARKET, "kind": "sell", "quantity": "4"})
        assert (quote.fully_filled, quote.average_price) == (True, "100.00")

        sold = api.place(bob, {"market": MARKET, "kind": "sell", "type": "market", "quantity": 4})
        assert (sold.status, sold.executed_qty) == (OrderStatus.FILLED, "4")
        assert [(f.price, f.quantity, f.is_maker) for f in sold.fills] == [("100.00", "4", False)]
        mine = api.order(alice, bid.order_id)
        assert (mine.status, mine.executed_qty) == (OrderStatus.PARTIALLY_FILLED, "4")
        assert [o.order_id for o in api.open_orders(alice, MARKET)] == [bid.order_id]

        depth = eventually(lambda: api.depth(MARKET), lambda d: d.bids == [["100.00", "6"]])
        assert depth.bids == [["100.00", "6"]]
        trades = eventually(lambda: api.trades(MARKET), bool)
        assert [(t.price, t.quantity, t.is_buyer_maker) for t in trades] == [("100.00", "4", True)]
        ticker = eventually(lambda: api.ticker(MARKET), lambda t: t.trades == "1")
        assert (ticker.last_price, ticker.volume) == ("100.00", "4")
        klines = eventually(lambda: api.klines(MARKET, "1m"), bool)
        assert (klines[-1].close, klines[-1].volume) == ("100.00", "4")

        canceled = api.cancel(alice, bid.order_id)
        assert (canceled.status, canceled.executed_qty) == (OrderStatus.CANCELED, "4")
        assert api.balances(alice)["INR"].locked == "0.00"
        with pytest.raises(ApiError) as gone:
            api.cancel(alice, bid.order_id)
        assert (gone.value.status, gone.value.code) == (404, "UNKNOWN_ORDER")
        assert api.cancel_all(alice).canceled == []


def test_refusals_carry_the_apis_codes(full: Cluster) -> None:
    carol = _account()
    with Client(full.base_url) as api:
        api.sign_up_or_in(carol)
        with pytest.raises(ApiError) as broke:
            api.place(carol, {"market": MARKET, "kind": "buy", "type": "limit",
                              "price": "100.00", "quantity": "1"})  # fmt: skip
        assert (broke.value.status, broke.value.code) == (422, "INSUFFICIENT_FUNDS")
        assert broke.value.order_id is not None
        assert not broke.value.transient
        with pytest.raises(ApiError) as off_grid:
            api.place(carol, {"market": MARKET, "kind": "buy", "type": "limit",
                              "price": "100.001", "quantity": "1"})  # fmt: skip
        assert (off_grid.value.status, off_grid.value.field) == (400, "price")
        with pytest.raises(ApiError) as taken:
            api.sign_up(carol.username, PASSWORD)
        assert taken.value.status == 409
        with pytest.raises(ApiError) as wrong:
            api.sign_in(carol.username, "not the password")
        assert wrong.value.status == 401
        with pytest.raises(ApiError) as forged:
            api.balances("not-a-token")
        assert (forged.value.status, forged.value.code) == (401, "UNAUTHORIZED")
        assert api.open_orders(carol) == []


def test_the_async_client_and_the_streams(full: Cluster) -> None:
    maker, taker = _account(), _account()

    async def scenario() -> tuple[list[Push], list[Push]]:
        async with AsyncClient(full.base_url) as api:
            await api.sign_up_or_in(maker)
            await api.sign_up_or_in(taker)
            await api.onramp(maker, "TATA", "20")
            await api.onramp(taker, "INR", "5000.00")
            async with AsyncStreams(full.base_url) as market, AsyncStreams(full.base_url) as own:
                await market.subscribe(trades_name(MARKET), depth_name(MARKET))
                assert maker.token is not None
                await own.auth(maker.token)
                await own.subscribe(ORDERS_STREAM)
                await own.ping()
                ask = await api.place(maker, {"market": MARKET, "kind": "sell", "type": "limit",
                                              "price": "101.50", "quantity": "3"})  # fmt: skip
                await api.place(taker, {"market": MARKET, "kind": "buy", "type": "limit",
                                        "price": "101.50", "quantity": "2"})  # fmt: skip
                async with asyncio.timeout(20):
                    pushes = [await market.recv()]
                    while not any(p.stream == trades_name(MARKET) for p in pushes):
                        pushes.append(await market.recv())
                    private = [await own.recv()]
                    while not any(p.data.get("e") == "fill" for p in private):
                        private.append(await own.recv())
            left = await api.cancel_all(maker, MARKET)
            assert [o.order_id for o in left.canceled] == [ask.order_id]
            return pushes, private

    pushes, private = asyncio.run(scenario())
    trade = next(p.data for p in pushes if p.stream == trades_name(MARKET))
    assert (trade["e"], trade["p"], trade["q"], trade["m"]) == ("trade", "101.50", "2", False)
    assert any(p.stream == depth_name(MARKET) and p.data["e"] == "depth" for p in pushes)
    assert {p.stream for p in private} == {ORDERS_STREAM}
    fill = next(p.data for p in private if p.data.get("e") == "fill")
    assert fill["tradeId"] == trade["t"]


def test_a_refused_subscription_is_an_api_error(full: Cluster) -> None:
    with Streams(full.base_url) as ws:
        with pytest.raises(ApiError) as private:
            ws.subscribe(ORDERS_STREAM)
        assert private.value.code == "UNKNOWN_STREAM"
        assert "AUTH or sign first" in private.value.message
        with pytest.raises(ApiError) as unknown:
            ws.subscribe("trades@NOPE_NOPE")
        assert unknown.value.code == "UNKNOWN_STREAM"
        ws.subscribe(trades_name(MARKET))
        ws.unsubscribe(trades_name(MARKET))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
