"""Market data by short polling: every tick, read ticker, depth, trades and candles from the edge
and redraw the header, chart, depth chart, order book and trades tape.

When the edge does not answer, the banner "Exchange unreachable — retrying" appears and every
other output keeps its last value (``no_update``); the next tick that gets an answer hides the
banner again, so recovery needs nothing from the user.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from client import ApiError, Client
from dash_app import ids
from dash_app.callbacks._wiring import callback
from dash_app.components import order_book, ticker_bar, trades_tape
from dash_app.figures import candles_figure, depth_figure
from dash_app.format import format_time
from dash_app.layout import HIDDEN, SHOWN
from dash_app.types import markets_from_store, to_store
from model.api import DepthView, KlineView, MarketView, TickerView, TradeView
from model.intervals import INTERVAL_US, IntervalName, is_interval

__all__ = [
    "CANDLES_SHOWN",
    "MarketSnapshot",
    "fetch_market",
    "interval_ms",
    "pick_market",
    "register",
]

log = logging.getLogger("tidewater.dash")

#: How many bars of the chosen interval the chart asks for.
CANDLES_SHOWN = 120
_DEPTH_LEVELS = 100
_TAPE_TRADES = 40


@dataclass(frozen=True)
class MarketSnapshot:
    """One poll's worth of a market's data, as the edge returned it."""

    symbol: str
    interval: IntervalName
    ticker: TickerView
    depth: DepthView
    trades: list[TradeView]
    klines: list[KlineView]


def interval_ms(interval: IntervalName) -> int:
    """The length of one bar of ``interval`` in milliseconds (the API's unit)."""
    return INTERVAL_US[interval] // 1000


def fetch_market(
    client: Client, symbol: str, interval: IntervalName, now_ms: int
) -> MarketSnapshot:
    """Read everything the trade view shows of ``symbol``; raises ``ApiError``."""
    start = now_ms - CANDLES_SHOWN * interval_ms(interval)
    return MarketSnapshot(
        symbol=symbol,
        interval=interval,
        ticker=client.ticker(symbol),
        depth=client.depth(symbol, _DEPTH_LEVELS),
        trades=client.trades(symbol, _TAPE_TRADES),
        klines=client.klines(symbol, interval, start_ms=start, limit=CANDLES_SHOWN + 1),
    )


def pick_market(markets: list[MarketView], search: str | None, current: str | None) -> str | None:
    """The market to show: the current choice, else ``?market=`` from the URL, else the first."""
    symbols = [m.symbol for m in markets]
    if current in symbols:
        return current
    wanted = parse_qs((search or "").lstrip("?")).get("market", [""])[0].upper().replace("-", "_")
    if wanted in symbols:
        return wanted
    return symbols[0] if symbols else None


def _market(markets: list[MarketView], symbol: str) -> MarketView | None:
    return next((m for m in markets if m.symbol == symbol), None)


def render(snapshot: MarketSnapshot, market: MarketView | None) -> tuple[Any, ...]:
    """The trade view's outputs for one snapshot (ticker, candles, depth, book, tape)."""
    base = market.base_symbol if market else ""
    quote = market.quote_symbol if market else ""
    revision = f"{snapshot.symbol}:{snapshot.interval}"
    last = snapshot.trades[0].price if snapshot.trades else snapshot.ticker.last_price
    return (
        ticker_bar(snapshot.ticker, base, quote),
        candles_figure(snapshot.klines, interval_ms(snapshot.interval), revision),
        depth_figure(snapshot.depth, snapshot.symbol),
        order_book(snapshot.depth, last_price=last),
        trades_tape(snapshot.trades),
    )


def register(app: Dash, client: Client) -> None:
    """Wire the market list and the market-data poll to ``app``."""

    @callback(
        app,
        Output(ids.MARKETS, "data"),
        Output(ids.MARKET, "options"),
        Output(ids.MARKET, "value"),
        Input(ids.TICK, "n_intervals"),
        State(ids.MARKETS, "data"),
        State(ids.URL, "search"),
        State(ids.MARKET, "value"),
    )
    def load_markets(
        _: int | None, known: Any, search: str | None, current: str | None
    ) -> tuple[Any, ...]:
        if known:
            raise PreventUpdate  # the list is fixed while the exchange runs
        try:
            markets = client.markets()
        except ApiError:
            raise PreventUpdate from None  # the poll below shows the banner; retry next tick
        options = [{"label": m.symbol.replace("_", " / "), "value": m.symbol} for m in markets]
        return to_store(markets), options, pick_market(markets, search, current)

    @callback(
        app,
        Output(ids.TICKER, "children"),
        Output(ids.CANDLES, "figure"),
        Output(ids.DEPTH, "figure"),
        Output(ids.BOOK, "children"),
        Output(ids.TAPE, "children"),
        Output(ids.BANNER, "style"),
        Output(ids.STATUS, "children"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.MARKET, "value"),
        Input(ids.INTERVAL, "value"),
        State(ids.MARKETS, "data"),
    )
    def refresh(
        _: int | None, symbol: str | None, interval: str | None, markets: Any
    ) -> tuple[Any, ...]:
        keep = (no_update,) * 5
        try:
            if not symbol:
                client.markets()  # no market chosen yet: still find out whether the edge is up
                return (*keep, HIDDEN, "")
            chosen = interval if interval is not None and is_interval(interval) else "1m"
            snapshot = fetch_market(client, symbol, chosen, int(time.time() * 1000))
        except ApiError as exc:
            if exc.unavailable:
                log.info("edge unavailable: %s", exc)
                return (*keep, SHOWN, "reconnecting…")
            log.warning("edge refused a market-data read: %s", exc)
            return (*keep, HIDDEN, exc.message)
        now = format_time(int(time.time() * 1000))
        market = _market(markets_from_store(markets), symbol)
        return (*render(snapshot, market), HIDDEN, f"live · {now} UTC")
