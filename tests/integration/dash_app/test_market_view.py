"""dash_app/assets/market_view.js, in Chromium: what the browser draws of the live market.

The clientside callbacks are called as Dash calls them, with what the live client keeps and the
page's own live config (``dash_app.layout.live_config``); their answers are Dash components and
Plotly figures as JSON, checked here. Money on the page stays exact: running totals and the
spread are summed on the API's decimal strings, never through a float.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dash_app.layout import live_config
from dash_app.theme import DOWN, UP
from tests.integration.dash_app.test_browser import CHROMIUM
from tests.support.cluster import ROOT

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary")

ASSET = ROOT / "dash_app" / "assets" / "market_view.js"
CONFIG = live_config("http://127.0.0.1:8000")
MINUTE = 60_000
T0 = 1_767_571_200_000

TICKER = {"symbol": "TATA_INR", "firstPrice": "20.00", "lastPrice": "19.00", "high": "20.00",
          "low": "19.00", "priceChange": "-1.00", "priceChangePercent": "-5.00", "volume": "2",
          "quoteVolume": "39.00", "trades": 2}  # fmt: skip
MARKETS = [{"symbol": "TATA_INR", "baseSymbol": "TATA", "quoteSymbol": "INR"}]


def _kline(start: int, o: str, h: str, lo: str, c: str, v: str) -> dict[str, Any]:
    return {"start": start, "open": o, "high": h, "low": lo, "close": c, "volume": v,
            "quoteVolume": "0", "trades": 1, "closed": True}  # fmt: skip


def _live(**changes: Any) -> dict[str, Any]:
    """What live.js writes to the live-market store."""
    data = {
        "symbol": "TATA_INR", "interval": "1m", "ticker": TICKER,
        "depth": {"symbol": "TATA_INR", "lastUpdateId": 3,
                  "bids": [["99.00", "4"], ["98.50", "0.5"]],
                  "asks": [["101.00", "3"], ["101.50", "2"]]},
        "trades": [
            {"id": 2, "price": "101.00", "quantity": "5", "timestamp": T0, "isBuyerMaker": False},
            {"id": 1, "price": "99.00", "quantity": "2", "timestamp": T0 + 1000,
             "isBuyerMaker": True},
        ],
        "klines": [_kline(T0, "100.00", "101.00", "99.50", "100.50", "3"),
                   _kline(T0 + MINUTE, "100.50", "100.75", "99.00", "99.25", "0.5")],
        "at": T0,
    }  # fmt: skip
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def view(browser: Any) -> Iterator[Any]:
    """A page with the panels' containers and the asset loaded, as the dashboard has them.

    ``set_props`` records what a click would set in the order form."""
    ids = CONFIG["ids"]
    page = browser.new_page()
    page.set_content(
        f"<html><body><div id='{ids['ticker']}'></div><div id='{ids['book']}'></div>"  # type: ignore[index]
        f"<div id='{ids['tape']}'></div></body></html>"  # type: ignore[index]
    )
    page.evaluate(
        "() => { window.props = []; window.dash_clientside = {no_update: {noUpdate: true},"
        " set_props: (id, props) => window.props.push([id, props])}; }"
    )
    page.add_script_tag(path=str(ASSET))
    yield page
    page.close()


def _draw(view: Any, data: Any) -> dict[str, Any]:
    """Draw ``data`` into the containers; read back each table's rows as cell texts."""
    return dict(
        view.evaluate(
            """([config, market, data]) => {
                window.tidewaterMarketView.drawPanels(config, market, data);
                const rows = (selector) => Array.from(document.querySelectorAll(selector),
                    (row) => Array.from(row.cells, (cell) => cell.textContent));
                const value = (item) => item.querySelector('.ticker-value');
                return {
                    asks: rows('#order-book-table tr.ask'),
                    bids: rows('#order-book-table tr.bid'),
                    mid: rows('#order-book-table tr.mid'),
                    book: document.getElementById(config.ids.book).textContent,
                    bars: Array.from(document.querySelectorAll('#order-book-table tr[data-price]'),
                        (row) => row.style.backgroundSize),
                    tape: rows('#trades-table tr.trade-row'),
                    tapeText: document.getElementById(config.ids.tape).textContent,
                    colours: Array.from(document.querySelectorAll('.trade-row td:first-child'),
                        (cell) => getComputedStyle(cell).color),
                    ticker: Array.from(document.querySelectorAll('.ticker-item'), (item) =>
                        [item.querySelector('.ticker-label').textContent,
                         value(item).textContent, value(item).className]),
                };
            }""",
            [CONFIG, MARKETS[0], data],
        )
    )


def _charts(view: Any, data: Any) -> list[Any]:
    return list(
        view.evaluate("([d, c]) => window.dash_clientside.tidewater.charts(d, c)", [data, CONFIG])
    )


def _rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_the_ladder_sums_exactly(view: Any) -> None:
    drawn = _draw(view, _live())
    # Asks above with the best nearest the middle; running totals exact.
    assert drawn["asks"] == [["101.50", "2", "5"], ["101.00", "3", "3"]]
    assert drawn["bids"] == [["99.00", "4", "4"], ["98.50", "0.5", "4.5"]]
    # The last trade's price in the middle, and the spread, exact.
    assert drawn["mid"] == [["101.00", "spread 2.00"]]
    # The deepest total fills the bar; the others in proportion.
    assert drawn["bars"] == ["100% 100%", "60% 100%", "80% 100%", "90% 100%"]


def test_a_click_on_a_level_takes_its_price_and_the_side_against_it(view: Any) -> None:
    _draw(view, _live())
    view.evaluate("() => { window.props = []; }")
    view.click("#order-book-table tr.ask >> text=101.50")
    view.click("#order-book-table tr.bid >> text=98.50")
    ids = CONFIG["ids"]
    assert view.evaluate("() => window.props") == [
        [ids["price"], {"value": "101.50"}], [ids["side"], {"value": "buy"}],  # type: ignore[index]
        [ids["price"], {"value": "98.50"}], [ids["side"], {"value": "sell"}],  # type: ignore[index]
    ]  # fmt: skip
    # Drawn again (every push), the book still takes one click once.
    _draw(view, _live())
    view.evaluate("() => { window.props = []; }")
    view.click("#order-book-table tr.bid >> text=99.00")
    assert len(view.evaluate("() => window.props")) == 2


def test_running_totals_are_not_floats(view: Any) -> None:
    depth = {"symbol": "TATA_INR", "lastUpdateId": 1, "asks": [],
             "bids": [["100.00", "0.1"], ["99.99", "0.2"], ["99.98", "0.0001"],
                      ["99.97", "12345678901234567.89"]]}  # fmt: skip
    drawn = _draw(view, _live(depth=depth, trades=[]))
    # As floats 0.1 + 0.2 is 0.30000000000000004, and 17 digits do not survive a double.
    totals = [row[2] for row in drawn["bids"]]
    assert totals == ["0.1", "0.3", "0.3001", "12345678901234568.1901"]
    # No trade yet: the middle shows the ticker's last price; one side only: no spread.
    assert drawn["mid"] == [["19.00", ""]]


def test_an_empty_market(view: Any) -> None:
    empty_ticker = {**TICKER, "firstPrice": None, "lastPrice": None, "high": None, "low": None,
                    "priceChange": "0", "priceChangePercent": "0", "volume": "0",
                    "quoteVolume": "0.00", "trades": 0}  # fmt: skip
    depth = {"symbol": "TATA_INR", "lastUpdateId": 0, "bids": [], "asks": []}
    drawn = _draw(view, _live(ticker=empty_ticker, depth=depth, trades=[]))
    assert drawn["mid"] == [["—", ""]]
    assert drawn["book"].endswith("No orders in the book")
    assert drawn["tapeText"] == "No trades yet"
    values = {label: value for label, value, _ in drawn["ticker"]}
    assert values["Last price"] == "—"
    assert values["24h volume INR"] == "0.00"
    assert values["24h trades"] == "0"
    candles, depth_chart = _charts(view, _live(klines=[], depth=depth))
    assert candles["data"] == []
    assert candles["layout"]["annotations"][0]["text"] == "No trades yet"
    assert depth_chart["layout"]["annotations"][0]["text"] == "No orders in the book"


def test_the_tape_newest_first_coloured_by_the_taker(view: Any) -> None:
    drawn = _draw(view, _live())
    assert drawn["tape"] == [["101.00", "5", "00:00:00"], ["99.00", "2", "00:00:01"]]
    assert drawn["colours"] == [_rgb(UP), _rgb(DOWN)]  # the first taker bought, the second sold


def test_the_ticker_colours_the_change_and_names_the_assets(view: Any) -> None:
    ticker = _draw(view, _live())["ticker"]
    assert ticker[0][1:] == ["19.00", "ticker-value down"]
    assert ticker[1][1] == "-1.00 (-5.00%)"
    assert [label for label, _, _ in ticker][4:6] == ["24h volume TATA", "24h volume INR"]
    rising = _draw(view, _live(ticker={**TICKER, "priceChange": "1.00",
                                       "priceChangePercent": "5.00"}))["ticker"]  # fmt: skip
    assert rising[1][1:] == ["+1.00 (+5.00%)", "ticker-value up"]


def test_before_the_first_snapshot_only_an_empty_ticker(view: Any) -> None:
    _draw(view, _live())
    drawn = _draw(view, None)
    assert [value for _, value, _ in drawn["ticker"]] == ["—"] * 7
    assert drawn["tape"]  # the rest keeps what it showed
    assert _charts(view, None) == [{"noUpdate": True}, {"noUpdate": True}]


def test_candles_over_volume(view: Any) -> None:
    candles, _ = _charts(view, _live())
    price, volume = candles["data"]
    assert (price["type"], volume["type"]) == ("candlestick", "bar")
    # One empty bar after the last sets the candle width to one interval.
    assert price["open"] == [100.0, 100.5, None]
    assert price["close"] == [100.5, 99.25, None]
    assert price["x"] == [T0, T0 + MINUTE, T0 + 2 * MINUTE]
    assert volume["y"] == [3.0, 0.5]
    assert volume["width"] == MINUTE * 0.7
    assert volume["marker"]["color"] == [UP, DOWN]  # rose, fell
    layout = candles["layout"]
    assert layout["uirevision"] == "TATA_INR:1m"
    assert layout["xaxis"]["type"] == "date"
    assert layout["template"] == CONFIG["theme"]["template"]  # type: ignore[index]


def test_a_lone_first_bar_is_framed_among_room_for_more(view: Any) -> None:
    candles, _ = _charts(view, _live(klines=[_kline(T0, "10", "10", "10", "10", "1")]))
    start, end = candles["layout"]["xaxis"]["range"]
    assert end - start >= 40 * MINUTE


def test_depth_is_cumulative_from_the_best_level(view: Any) -> None:
    depth = {"symbol": "BTC_USDC", "lastUpdateId": 1,
             "bids": [["100.00", "0.1"], ["99.00", "0.2"], ["98.00", "0.3"]],
             "asks": [["101.00", "0.5"], ["102.00", "0.25"]]}  # fmt: skip
    _, chart = _charts(view, _live(symbol="BTC_USDC", depth=depth))
    bids, asks = chart["data"]
    # Bids ascend in price left to right; the first point is the tail past the deepest level.
    assert bids["x"][1:] == [98.0, 99.0, 100.0]
    # Totals are summed as decimals (0.1 + 0.2 is 0.3 exactly) before becoming floats.
    assert bids["y"] == [0.6, 0.6, 0.3, 0.1]
    assert asks["x"][:-1] == [101.0, 102.0]
    assert asks["y"] == [0.5, 0.75, 0.75]
    assert bids["x"][0] < 98.0
    assert asks["x"][-1] > 102.0
    assert chart["layout"]["uirevision"] == "BTC_USDC"
    one_side = {"symbol": "X_Y", "lastUpdateId": 1, "bids": [], "asks": [["5.00", "2"]]}
    _, chart = _charts(view, _live(depth=one_side))
    assert chart["data"][0]["x"] == []
    assert chart["data"][1]["y"] == [2.0, 2.0]
