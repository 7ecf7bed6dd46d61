"""One ticker: REST ``/ticker`` and ``/tickers`` serve exactly the flow's last ``ticker@M`` push.

A real matcher's events on real Redis, the real flow run in steps (resumed from its recovery
store), and the edge app in process over the same Redis: after every step, for every market,
the REST ticker equals the last push, also once minute buckets have left the 24 h window and
once a window has emptied altogether.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from edge.app import create_app
from model.commands import Deposit
from model.ids import UserId
from model.intervals import DAY_US
from model.settings import DEV_JWT_SECRET, EdgeSettings, get_settings
from tests.integration.flows.conftest import MARKETS, SHARD, FlowEnv
from tests.integration.flows.test_market_data import _commands, run_flow


def _fraction(push: dict[str, Any]) -> str:
    """Backpack's priceChangePercent, worked out here from the push's own change and open."""
    if push["o"] is None:
        return "0.000000"
    exact = Decimal(push["p"]) / Decimal(push["o"])
    return str(exact.quantize(Decimal("0.000001"), ROUND_HALF_EVEN))


def _view(push: dict[str, Any]) -> dict[str, Any]:
    """What REST must answer for a ``ticker@M`` data object."""
    return {
        "symbol": push["s"],
        "firstPrice": push["o"],
        "lastPrice": push["c"],
        "high": push["h"],
        "low": push["l"],
        "priceChange": push["p"],
        "priceChangePercent": _fraction(push),
        "volume": push["v"],
        "quoteVolume": push["q"],
        "trades": str(push["n"]),
    }


@pytest.fixture
def rest(flow_env: FlowEnv) -> Iterator[TestClient[Any]]:
    settings = dataclasses.replace(
        get_settings(),
        redis_url=flow_env.redis_url,
        database_url=flow_env.database_url,
        shards=dict.fromkeys(MARKETS, SHARD),
        edge=EdgeSettings(jwt_secret=DEV_JWT_SECRET),
    )
    lane = create_app(settings)
    with TestClient(app=lane.app, base_url="http://testserver") as client:
        yield client


def test_rest_ticker_equals_the_last_push_at_every_step(
    flow_env: FlowEnv, rest: TestClient[Any], tmp_path: Path
) -> None:
    commands = _commands(seed=31, n=4000)
    recovery = tmp_path / "recovery"
    last: dict[str, dict[str, Any]] = {}
    trades_so_far: dict[str, int] = dict.fromkeys(MARKETS, 0)
    slid = emptied = 0
    step = len(commands) // 8
    chunks = [commands[i : i + step] for i in range(0, len(commands), step)]
    # Last: two days later, one deposit: every market's window empties (clock ticks, no trade).
    late = max(c.ts for c in commands) + 2 * DAY_US
    chunks.append([Deposit(user_id=UserId(1), ts=late, asset="INR", amount=1)])
    for chunk in chunks:
        flow_env.run_matcher(chunk)
        for message in run_flow(flow_env, flow_env.database_url, recovery):
            channel, data = message["channel"], message["data"]
            if channel.startswith("md:ticker@"):
                last[data["s"]] = data
            elif channel.startswith("md:trades@"):
                trades_so_far[data["s"]] += 1
        answer = rest.get("/api/v1/tickers")
        assert answer.status_code == 200, answer.text
        tickers = {t["symbol"]: t for t in answer.json()}
        assert sorted(tickers) == MARKETS
        for market in MARKETS:
            one = rest.get("/api/v1/ticker", params={"symbol": market})
            assert one.status_code == 200
            assert one.json() == tickers[market]
            if market not in last:
                assert tickers[market]["trades"] == "0"
                continue
            assert tickers[market] == _view(last[market]), market
            if 0 < last[market]["n"] < trades_so_far[market]:
                slid += 1  # buckets have left this window
            if last[market]["n"] == 0:
                emptied += 1
    assert slid >= 2, "the window edge was crossed"
    assert emptied == len(last) >= 2, "every traded market's window emptied at the end"
    assert all(last[m]["o"] is None and last[m]["c"] is None for m in last)
