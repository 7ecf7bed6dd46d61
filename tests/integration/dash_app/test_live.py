"""The dashboard is live: a trade reaches the page by the WebSocket, not by polling.

A trade placed through the API shows in the page's trades tape; the page notes when (its
``Date.now()``, the same clock as this process's ``time.time()``). The latency from just before
the taker's order is sent to the row appearing is written to ``artifacts/dashboard-latency.json``
and printed (a figure, not a pass mark: speed is for benchmarks). The test asserts that every
trade arrived, and that the page asked the REST API for trades once, at its start.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.dash_app.conftest import DashServer
from tests.integration.dash_app.test_browser import CHROMIUM
from tests.integration.edge.conftest import sign_up
from tests.support.cluster import ROOT, Cluster

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary")

QUIET = "BTC_USDC"  # the market maker quotes only MARKET: trades here are the test's own
TRADES = 40

_WATCH_TAPE = """() => {
    window.tapeSeen = [];
    const tape = document.querySelector('#trades-tape');
    new MutationObserver(() => {
        const at = Date.now();
        for (const row of tape.querySelectorAll('.trade-row td:first-child')) {
            const price = row.textContent;
            if (!window.tapeSeen.some(s => s.price === price)) window.tapeSeen.push({price, at});
        }
    }).observe(tape, {childList: true, subtree: true, characterData: true});
}"""


def _open(context: Any, url: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_function(
        "() => (document.querySelector('#edge-status') || {}).textContent?.startsWith('live')"
    )
    return page


def test_a_trade_reaches_the_page_by_push(
    browser: Any, dash_server: DashServer, exchange: Cluster
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = _open(context, f"{dash_server.url}/?market={QUIET}")
    page.evaluate(_WATCH_TAPE)
    latencies: list[float] = []
    with httpx.Client(base_url=f"{exchange.base_url}/api/v1", timeout=10) as api:
        seller = sign_up(api, {"BTC": "10"})
        buyer = sign_up(api, {"USDC": "1000000"})
        base = 1000 + uuid.uuid4().int % 1000  # prices of this run only
        for i in range(TRADES):
            price = f"{base + i}.00"
            order = {"market": QUIET, "type": "limit", "price": price, "quantity": "0.0001"}
            assert api.post("/order", headers=seller, json={**order, "kind": "sell"}).is_success
            sent = time.time() * 1000
            bought = api.post("/order", headers=buyer, json={**order, "kind": "buy"}).json()
            assert bought["status"] == "filled", bought
            page.wait_for_function(
                "price => window.tapeSeen.some(s => s.price === price)", arg=price
            )
            seen = page.evaluate("price => window.tapeSeen.find(s => s.price === price).at", price)
            latencies.append(seen - sent)
    # The REST snapshots were taken once, when the page started; every trade came by push.
    rest = page.evaluate(
        "api => performance.getEntriesByType('resource').filter(e => e.name.startsWith(api))"
        ".map(e => e.name)",
        f"{exchange.base_url}/api/v1/trades",
    )
    assert len(rest) == 1, rest
    context.close()
    ordered = sorted(latencies)
    figures = {
        "trades": len(latencies),
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max_ms": ordered[-1],
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "dashboard-latency.json").write_text(json.dumps(figures, indent=2))
    print(f"\ntrade placed -> row in the page's tape: {figures}")
    assert len(latencies) == TRADES
