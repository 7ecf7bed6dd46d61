"""REST market data end to end: orders through the edge, the matcher, the persist agent and the
Bytewax flow, read back as depth, trades, candles and tickers."""

from __future__ import annotations

import datetime as dt

import httpx

from tests.integration.edge.conftest import sign_up
from tests.support.cluster import Cluster
from tests.support.waiting import eventually


def test_depth_trades_candles_and_ticker(full: Cluster) -> None:
    with httpx.Client(base_url=f"{full.base_url}/api/v1", timeout=10) as api:
        seller, buyer = sign_up(api, {"TATA": "100"}), sign_up(api, {"INR": "10000"})
        for price, qty in (("20.00", "5"), ("21.00", "3")):
            api.post("/order", headers=seller, json={
                "market": "TATA_INR", "kind": "sell", "type": "limit", "price": price,
                "quantity": qty})  # fmt: skip
        api.post("/order", headers=buyer, json={
            "market": "TATA_INR", "kind": "buy", "type": "limit", "price": "19.00",
            "quantity": "4"})  # fmt: skip
        bought = api.post("/order", headers=buyer, json={
            "market": "TATA_INR", "kind": "buy", "type": "market", "quantity": "2"})  # fmt: skip
        assert bought.json()["status"] == "filled"

        want = {"bids": [["19.00", "4"]], "asks": [["20.00", "3"], ["21.00", "3"]]}
        depth = eventually(
            lambda: api.get("/depth", params={"symbol": "TATA_INR"}).json(),
            lambda d: {"bids": d["bids"], "asks": d["asks"]} == want,
        )
        assert {"bids": depth["bids"], "asks": depth["asks"]} == want
        assert int(depth["lastUpdateId"]) >= 4
        assert depth["timestamp"] > 10**15  # microseconds

        bars = eventually(
            lambda: api.get("/klines", params={"symbol": "TATA_INR", "interval": "1m"}).json(),
            lambda b: len(b) == 1,
        )
        assert [(b["open"], b["close"], b["volume"], b["trades"]) for b in bars] == [
            ("20.00", "20.00", "2", "1")
        ]
        # Backpack's bar times: UTC text, the end one interval after the start.
        opened = dt.datetime.strptime(bars[0]["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        closes = dt.datetime.strptime(bars[0]["end"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        assert closes - opened == dt.timedelta(minutes=1)
        # startTime and endTime are seconds: a window around the bar finds it, one after it not.
        at = int(opened.timestamp())
        window = {"symbol": "TATA_INR", "interval": "1m", "startTime": at, "endTime": at + 60}
        assert api.get("/klines", params=window).json() == bars
        later = {**window, "startTime": at + 60, "endTime": at + 120}
        assert api.get("/klines", params=later).json() == []
        # A millisecond value is refused, naming the field, rather than finding nothing.
        in_ms = api.get("/klines", params={**window, "startTime": at * 1000})
        assert in_ms.status_code == 400
        assert in_ms.json()["error"]["field"] == "startTime"
        ticker = eventually(
            lambda: api.get("/ticker", params={"symbol": "TATA-INR"}).json(),
            lambda t: t["trades"] == "1",
        )
        assert (ticker["lastPrice"], ticker["volume"], ticker["quoteVolume"]) == (
            "20.00", "2", "40.00")  # fmt: skip
        tickers = {t["symbol"]: t for t in api.get("/tickers").json()}
        assert (tickers["BTC_USDC"]["trades"], tickers["BTC_USDC"]["priceChangePercent"]) == (
            "0", "0.000000")  # fmt: skip
        assert tickers["TATA_INR"]["lastPrice"] == "20.00"
        assert (
            api.get("/klines", params={"symbol": "TATA_INR", "interval": "2m"}).status_code == 400
        )
        assert api.get("/depth", params={"symbol": "NOPE_X"}).status_code == 400
        # Backpack's /trades/history pages back from the newest by offset.
        recent = eventually(
            lambda: api.get("/trades", params={"symbol": "TATA_INR"}).json(),
            lambda t: len(t) == 1,
        )
        newest = {"symbol": "TATA_INR", "limit": 1, "offset": 0}
        assert api.get("/trades/history", params=newest).json() == recent
        older = {"symbol": "TATA_INR", "limit": 1, "offset": 1}
        assert api.get("/trades/history", params=older).json() == []
        too_deep = {"symbol": "TATA_INR", "offset": -1}
        assert api.get("/trades/history", params=too_deep).status_code == 400
