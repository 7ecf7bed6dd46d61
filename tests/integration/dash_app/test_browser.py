"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Against a whole running exchange with market data flowing (see ``conftest.py``), it checks that
the chart, depth chart, order book, trades tape and 24 h ticker render with data; signs up, signs
out and back in, deposits and places a limit order through the UI and sees it among the open
orders; shows the edge's refusal of an order; cancels; and watches the "exchange unreachable"
banner come and go as the edge stops and starts. Screenshots go to ``artifacts/screenshots/``.

Only a missing Chromium binary skips it (``.ci/run`` installs one).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.dash_app.conftest import MARKET, DashServer
from tests.integration.edge.conftest import sign_up
from tests.support.cluster import ROOT, Cluster

CHROMIUM = os.environ.get("TIDEWATER_CHROMIUM") or next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None
)
SHOTS = ROOT / "artifacts" / "screenshots"
QUIET = "BTC_USDC"  # the market maker quotes only MARKET

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt-get install chromium)"
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (it is in requirements/lock.txt)"
)

Page = Any  # playwright.sync_api.Page, imported lazily above


@pytest.fixture
def page(browser: Any, dash_server: DashServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{dash_server.url}/?market={MARKET}")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def plot_data(page: Page, graph_id: str) -> list[dict[str, Any]]:
    """The traces plotly drew in ``dcc.Graph(id=graph_id)``."""
    data: list[dict[str, Any]] = page.evaluate(
        """id => {
            const plot = document.querySelector(`#${id} .js-plotly-plot`);
            return plot && plot.data ? plot.data.map(t => ({type: t.type, name: t.name,
                x: Array.from(t.x || []), y: Array.from(t.y || []),
                open: Array.from(t.open || [])})) : [];
        }""",
        graph_id,
    )
    return data


def wait_for_traces(page: Page, graph_id: str, types: set[str]) -> list[dict[str, Any]]:
    page.wait_for_function(
        """([id, types]) => {
            const plot = document.querySelector(`#${id} .js-plotly-plot`);
            return plot && plot.data && types.every(
                ty => plot.data.some(t => t.type === ty && (t.x || []).length > 0));
        }""",
        arg=[graph_id, sorted(types)],
    )
    return plot_data(page, graph_id)


def test_market_view_renders_live_data(page: Page) -> None:
    candles = wait_for_traces(page, "candles-chart", {"candlestick", "bar"})
    price = next(t for t in candles if t["type"] == "candlestick")
    assert [o for o in price["open"] if o is not None], "no candle with a price"
    volume = next(t for t in candles if t["type"] == "bar")
    assert sum(volume["y"]) > 0

    depth = wait_for_traces(page, "depth-chart", {"scatter"})
    sides = {t["name"]: t for t in depth}
    assert max(sides["bids"]["y"]) > 0
    assert max(sides["asks"]["y"]) > 0

    page.wait_for_selector("#trades-table tr.trade-row")
    assert page.locator("#trades-table tr.trade-row").count() >= 1
    assert page.locator("#order-book-table tr.bid").count() >= 1
    assert page.locator("#order-book-table tr.ask").count() >= 1

    last = page.locator("#ticker-bar .ticker-value").first
    page.wait_for_function(
        "() => /\\d/.test(document.querySelector('#ticker-bar .ticker-value').textContent)"
    )
    Decimal(last.inner_text())  # the API's decimal string, shown as is
    trades = page.locator("#ticker-bar .ticker-item").last.locator(".ticker-value").inner_text()
    assert int(trades) > 0
    assert not page.locator("#edge-banner").is_visible()
    shot(page, "01-market")


def _below_book(exchange: Cluster) -> str:
    """A bid price well under the best bid: the order rests instead of trading."""
    depth = httpx.get(f"{exchange.base_url}/api/v1/depth", params={"symbol": MARKET}).json()
    best = Decimal(depth["bids"][-1][0]) if depth["bids"] else Decimal(depth["asks"][0][0])
    return str((best * Decimal("0.8")).quantize(Decimal("0.01")))


def test_sign_up_deposit_place_and_cancel_through_the_ui(page: Page, exchange: Cluster) -> None:
    username, password = f"ui{uuid.uuid4().hex[:10]}", "correct horse battery"
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#signup-button")
    page.wait_for_selector(f"#signed-in-as:has-text('Signed in as {username}')")

    # Sign out and back in, as a returning user would.
    page.click("#signout-button")
    page.wait_for_selector("#signin-button", state="visible")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#signin-button")
    page.wait_for_selector(f"#signed-in-as:has-text('Signed in as {username}')")

    page.fill("#deposit-amount", "100000")
    page.click("#deposit-button")
    page.wait_for_selector("#deposit-message:has-text('Deposited 100000 INR')")
    page.wait_for_selector("#balances-table td:has-text('INR')")

    price = _below_book(exchange)
    page.fill("#order-price", price)
    page.fill("#order-quantity", "3")
    page.click("#place-order-button")
    page.wait_for_selector("#order-message:has-text('new')")
    row = page.locator("#open-orders-table tr.open-order", has_text=price)
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[:5] == [MARKET, "buy", "limit", price, "3"]
    shot(page, "02-order-placed")

    # The edge's refusal reaches the user word for word.
    page.click("#order-side label:has-text('Sell')")
    page.wait_for_selector("#place-order-button:has-text('Sell TATA')")
    page.fill("#order-price", price)
    page.fill("#order-quantity", "999999")
    page.click("#place-order-button")
    page.wait_for_selector("#order-message.error")
    assert page.inner_text("#order-message") == "needs 999999 TATA atoms, 0 available"

    row.locator("button:has-text('Cancel')").click()
    page.wait_for_selector("#order-message:has-text('canceled')")
    row.wait_for(state="detached")
    page.wait_for_selector("#open-orders .empty:has-text('No open orders')")


def test_a_full_trade_from_sign_up_to_fill_through_the_ui(
    page: Page, exchange: Cluster, dash_server: DashServer
) -> None:
    # A resting ask of our own on the market the market maker leaves alone.
    price = f"{2000 + uuid.uuid4().int % 1000}.00"
    with httpx.Client(base_url=f"{exchange.base_url}/api/v1", timeout=10) as api:
        seller = sign_up(api, {"BTC": "1"})
        ask = {"market": QUIET, "kind": "sell", "type": "limit", "price": price,
               "quantity": "0.0005"}  # fmt: skip
        assert api.post("/order", headers=seller, json=ask).is_success
    page.goto(f"{dash_server.url}/?market={QUIET}")
    page.fill("#username", f"tr{uuid.uuid4().hex[:10]}")
    page.fill("#password", "correct horse battery")
    page.click("#signup-button")
    page.wait_for_selector("#signed-in-as:has-text('Signed in as')")
    page.fill("#deposit-amount", "100000")
    page.click("#deposit-button")
    page.wait_for_selector("#balances-table td:has-text('USDC')")
    page.wait_for_selector("#order-available:has-text('Available: 100000.000000 USDC')")
    shot(page, "10-signed-up-and-funded")

    # Take the ask's price from the book: the form turns to a buy at that price.
    page.locator("#order-book tr.ask", has_text=price).click()
    page.wait_for_function("want => document.querySelector('#order-price').value === want",
                           arg=price)  # fmt: skip
    page.wait_for_selector("#place-order-button:has-text('Buy BTC')")
    # 25 % of the USDC at that price, rounded down to the lot (0.0001 BTC).
    page.click("button:has-text('25%')")
    lots = (Decimal("25000") / Decimal(price) / Decimal("0.0001")).to_integral_value(ROUND_DOWN)
    expected = str(lots * Decimal("0.0001"))
    page.wait_for_function("want => document.querySelector('#order-quantity').value === want",
                           arg=expected)  # fmt: skip
    page.fill("#order-quantity", "0.0002")
    shot(page, "11-order-form-from-the-book")
    page.click("#place-order-button")
    page.wait_for_selector("#order-message:has-text('filled')")
    # The fill comes back by the private stream, once stored.
    page.wait_for_selector("#fill-notice:has-text('Bought 0.0002 BTC at " + price + "')")
    page.wait_for_selector("#history-table tr.history-order td:has-text('filled')")
    page.click("text=My fills")
    page.wait_for_selector("#fills-table tr.fill-row td:has-text('taker')")
    shot(page, "12-filled")


def test_banner_while_the_edge_is_down(page: Page, exchange: Cluster) -> None:
    page.wait_for_selector("#trades-table tr.trade-row")
    exchange.edge.stop()
    try:
        page.wait_for_selector("#edge-banner", state="visible")
        assert "Exchange unreachable" in page.inner_text("#edge-banner")
        # The last data stays on screen while the edge is away.
        assert page.locator("#trades-table tr.trade-row").count() >= 1
        shot(page, "03-edge-down")
    finally:
        exchange.edge.start()
        exchange.wait_ready()
    page.wait_for_selector("#edge-banner", state="hidden")
    page.wait_for_selector("#trades-table tr.trade-row")


def test_analytics_tab(page: Page) -> None:
    page.click("text=Analytics")
    page.wait_for_selector("#analytics-stats .ticker-item")
    wait_for_traces(page, "analytics-price-chart", {"scatter"})
    shot(page, "04-analytics")
