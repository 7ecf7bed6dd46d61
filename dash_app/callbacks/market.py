"""Market data, live: the browser's WebSocket client (``dash_app/assets/live.js``) keeps the
chosen market's book, trades, ticker and candles from the edge's streams and writes them to the
``live-market`` store; the callback here renders what it holds (header, chart, depth chart, order
book, trades tape). Nothing here reads the edge for market data; the market list is read once.

When the browser's socket to the edge drops, the live client says "reconnecting" and the banner
"Exchange unreachable — retrying" appears; every output keeps its last value until the socket is
back and the client has started again from fresh snapshots.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import msgspec
from dash import ClientsideFunction, Dash, Input, Output, State
from dash.exceptions import PreventUpdate

from client import ApiError, Client
from dash_app import ids
from dash_app.callbacks._wiring import callback, clientside
from dash_app.components import order_book, ticker_bar, trades_tape
from dash_app.figures import candles_figure, depth_figure
from dash_app.format import format_time
from dash_app.layout import HIDDEN, SHOWN
from dash_app.types import markets_from_store, to_store
from model.api import DepthView, KlineView, MarketView, TickerView, TradeView
from model.intervals import INTERVAL_US, IntervalName, is_interval

__all__ = [
    "LiveTrade",
    "MarketSnapshot",
    "interval_ms",
    "pick_market",
    "register",
    "render_charts",
    "render_panels",
    "snapshot_from_store",
]

log = logging.getLogger("tidewater.dash")


class LiveTrade(msgspec.Struct, rename="camel", frozen=True):
    """A trade as the live client keeps it (the tape needs no quote amount)."""

    id: int
    price: str
    quantity: str
    timestamp: int
    is_buyer_maker: bool


class MarketSnapshot(msgspec.Struct, rename="camel", frozen=True):
    """What the live client holds of one market, in the REST API's shapes."""

    symbol: str
    interval: IntervalName
    ticker: TickerView | None
    depth: DepthView
    trades: list[LiveTrade]
    klines: list[KlineView]


def interval_ms(interval: IntervalName) -> int:
    """The length of one bar of ``interval`` in milliseconds (the API's unit)."""
    return INTERVAL_US[interval] // 1000


def snapshot_from_store(data: Any) -> MarketSnapshot | None:
    """The live client's store, decoded (``None`` before it has a snapshot, or if malformed)."""
    if not data:
        return None
    try:
        return msgspec.convert(data, MarketSnapshot)
    except msgspec.ValidationError:
        log.warning("the live client sent a market snapshot that does not decode")
        return None


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


def render_panels(snapshot: MarketSnapshot, market: MarketView | None) -> tuple[Any, ...]:
    """The ticker, order book and trades tape for one snapshot."""
    base = market.base_symbol if market else ""
    quote = market.quote_symbol if market else ""
    last = snapshot.trades[0].price if snapshot.trades else None
    if last is None and snapshot.ticker is not None:
        last = snapshot.ticker.last_price
    trades = [
        TradeView(
            id=t.id, price=t.price, quantity=t.quantity,
            quote_quantity=str(Decimal(t.price) * Decimal(t.quantity)), timestamp=t.timestamp,
            is_buyer_maker=t.is_buyer_maker,
        )
        for t in snapshot.trades
    ]  # fmt: skip
    return (
        ticker_bar(snapshot.ticker, base, quote),
        order_book(snapshot.depth, last_price=last),
        trades_tape(trades),
    )


def render_charts(snapshot: MarketSnapshot) -> tuple[Any, ...]:
    """The candles and depth charts for one snapshot."""
    revision = f"{snapshot.symbol}:{snapshot.interval}"
    return (
        candles_figure(snapshot.klines, interval_ms(snapshot.interval), revision),
        depth_figure(snapshot.depth, snapshot.symbol),
    )


def register(app: Dash, client: Client) -> None:
    """Wire the market list, the live client and the rendering of what it holds to ``app``."""

    @callback(
        app,
        Output(ids.MARKETS, "data"),
        Output(ids.MARKET, "options"),
        Output(ids.MARKET, "value"),
        Output(ids.TICK, "disabled"),
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
            raise PreventUpdate from None  # the banner says the edge is away; retry next tick
        options = [{"label": m.symbol.replace("_", " / "), "value": m.symbol} for m in markets]
        return to_store(markets), options, pick_market(markets, search, current), True

    # The browser follows the chosen market and interval (and the user's stream once signed in).
    clientside(
        app,
        ClientsideFunction(namespace="tidewater", function_name="follow"),
        Output(ids.LIVE_FOLLOW, "data"),
        Input(ids.MARKET, "value"),
        Input(ids.INTERVAL, "value"),
        Input(ids.SESSION, "data"),
        State(ids.LIVE_CONFIG, "data"),
    )

    # Two callbacks, so the light panels (ticker, book, tape) do not wait for the charts.
    @callback(
        app,
        Output(ids.TICKER, "children"),
        Output(ids.BOOK, "children"),
        Output(ids.TAPE, "children"),
        Input(ids.LIVE_MARKET, "data"),
        State(ids.MARKETS, "data"),
    )
    def refresh_panels(data: Any, markets: Any) -> tuple[Any, ...]:
        snapshot = snapshot_from_store(data)
        if snapshot is None or not is_interval(snapshot.interval):
            raise PreventUpdate
        return render_panels(snapshot, _market(markets_from_store(markets), snapshot.symbol))

    @callback(
        app,
        Output(ids.CANDLES, "figure"),
        Output(ids.DEPTH, "figure"),
        Input(ids.LIVE_MARKET, "data"),
    )
    def refresh_charts(data: Any) -> tuple[Any, ...]:
        snapshot = snapshot_from_store(data)
        if snapshot is None or not is_interval(snapshot.interval):
            raise PreventUpdate
        return render_charts(snapshot)

    @callback(
        app,
        Output(ids.BANNER, "style"),
        Output(ids.STATUS, "children"),
        Input(ids.LIVE_STATUS, "data"),
    )
    def status(data: Any) -> tuple[Any, ...]:
        state = (data or {}).get("state")
        if state == "reconnecting":
            return SHOWN, "reconnecting…"
        if state == "live":
            return HIDDEN, f"live since {format_time(int(data.get('at', 0)))} UTC"
        return HIDDEN, "connecting…"
