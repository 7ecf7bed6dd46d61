"""The dashboard is live: a trade reaches the page by the WebSocket, not by polling.

A trade placed through the API shows in the page's trades tape; the page notes when (its
``Date.now()``, the same clock as this process's ``time.time()``), and when the trade's push
arrived on its socket. The latency from just before the taker's order is sent to the push and to
the row appearing is written to ``artifacts/dashboard-latency.json`` and printed (figures, not
pass marks: speed is for benchmarks). The test asserts that every trade arrived, and that the
page asked the REST API for trades once, at its start.

With 50 dashboards open on a market that trades, none of them asks the edge's REST API or the
Dash server for anything once live: the REST load does not grow with the number of dashboards.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.integration.dash_app.conftest import DashServer
from tests.integration.dash_app.test_browser import CHROMIUM
from tests.integration.edge.conftest import sign_up
from tests.support.cluster import ROOT, Cluster

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary")

# No other test trades here, and every order here is matched in full: a buy crosses only the
# sell just placed at its price, so each trade shows in the tape at a price of its own.
QUIET = "ETH_USDC"
TRADES = 100

_WATCH_TAPE = """() => {
    // When each trade's push arrived (measured by wrapping the live client's receive).
    window.pushSeen = {};
    const live = window.tidewaterLive;
    const receive = live.receive.bind(live);
    window.received = 0;
    live.receive = (generation, message) => {
        window.received += 1;
        const data = message.data;
        if (data && data.e === 'trade' && !(data.p in window.pushSeen)) {
            window.pushSeen[data.p] = Date.now();
        }
        return receive(generation, message);
    };
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
    pushes: list[float] = []
    with httpx.Client(base_url=f"{exchange.base_url}/api/v1", timeout=10) as api:
        seller = sign_up(api, {"ETH": "10"})
        buyer = sign_up(api, {"USDC": "1000000"})
        base = 1000 + uuid.uuid4().int % 1000  # prices of this run only
        for i in range(TRADES):
            price = f"{base + i}.00"
            order = {"market": QUIET, "type": "limit", "price": price, "quantity": "0.001"}
            assert api.post("/order", headers=seller, json={**order, "kind": "sell"}).is_success
            sent = time.time() * 1000
            bought = api.post("/order", headers=buyer, json={**order, "kind": "buy"}).json()
            assert bought["status"] == "filled", bought
            page.wait_for_function(
                "price => window.tapeSeen.some(s => s.price === price)", arg=price
            )
            seen = page.evaluate("price => window.tapeSeen.find(s => s.price === price).at", price)
            latencies.append(seen - sent)
            pushes.append(page.evaluate("price => window.pushSeen[price]", price) - sent)
    # The REST snapshots were taken once, when the page started; every trade came by push.
    rest = page.evaluate(
        "api => performance.getEntriesByType('resource').filter(e => e.name.startsWith(api))"
        ".map(e => e.name)",
        f"{exchange.base_url}/api/v1/trades",
    )
    assert len(rest) == 1, rest
    context.close()
    figures = {
        "trades": len(latencies),
        "to_the_page": _percentiles(latencies),
        "to_the_socket": _percentiles(pushes),
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "dashboard-latency.json").write_text(json.dumps(figures, indent=2))
    print(f"\ntrade placed -> push on the page's socket, row in its tape (ms): {figures}")
    assert len(latencies) == TRADES


_STATE = """() => ({
    status: document.querySelector('#edge-status').textContent,
    tape: Array.from(document.querySelectorAll('#trades-tape .trade-row td:first-child'),
        (cell) => cell.textContent).slice(0, 5),
    pushes: Object.keys(window.pushSeen).length,
    generation: window.tidewaterLive.generation,
    bookReady: window.tidewaterLive.book.ready,
    socket: window.tidewaterLive.socket.readyState,
    received: window.received,
    visible: document.visibilityState,
})"""


_SHOWN = "price => window.tapeSeen.some(s => s.price === price)"


def _wait_for_trade(page: Any, price: str) -> None:
    """Wait for ``price`` in the page's tape; if it never comes, say what the page holds."""
    try:
        page.wait_for_function(_SHOWN, arg=price)
    except PlaywrightTimeout:
        raise AssertionError(f"{price} never shown: {page.evaluate(_STATE)}") from None


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


DASHBOARDS = 50

_REQUESTS = """([api, dash]) => performance.getEntriesByType('resource')
    .map(e => e.name).filter(n => n.startsWith(api) || n.startsWith(dash + '/_dash-update'))"""


def test_fifty_dashboards_ask_nothing_once_live(
    browser: Any, dash_server: DashServer, exchange: Cluster
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pages = [_open(context, f"{dash_server.url}/?market={QUIET}") for _ in range(DASHBOARDS)]
    api_root = f"{exchange.base_url}/api/v1"
    for page in pages:
        page.evaluate(_WATCH_TAPE)
    asked = [len(page.evaluate(_REQUESTS, [api_root, dash_server.url])) for page in pages]
    with httpx.Client(base_url=api_root, timeout=10) as api:
        seller = sign_up(api, {"ETH": "10"})
        buyer = sign_up(api, {"USDC": "1000000"})
        base = 3000 + uuid.uuid4().int % 1000
        for i in range(10):
            price = f"{base + i}.00"
            order = {"market": QUIET, "type": "limit", "price": price, "quantity": "0.001"}
            assert api.post("/order", headers=seller, json={**order, "kind": "sell"}).is_success
            assert api.post("/order", headers=buyer, json={**order, "kind": "buy"}).is_success
        last = f"{base + 9}.00"
        try:
            for page in pages:  # every dashboard shows every trade...
                _wait_for_trade(page, last)
        except AssertionError as missing:
            shown = sum(p.evaluate(_SHOWN, last) for p in pages)
            raise AssertionError(
                f"{missing}; {shown} of {DASHBOARDS} pages show it; the edge's log ends:\n"
                f"{exchange.edge.output()[-2000:]}"
            ) from None
    # ...and asked neither the edge nor the Dash server for anything to show them.
    after = [len(page.evaluate(_REQUESTS, [api_root, dash_server.url])) for page in pages]
    context.close()
    live = sum(after) - sum(asked)
    print(f"\n{DASHBOARDS} dashboards: requests at start {sum(asked)}, while live {live}")
    assert after == asked
