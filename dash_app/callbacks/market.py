"""Market data, live: the browser's WebSocket client (``dash_app/assets/live.js``) keeps the
chosen market's book, trades, ticker and candles from the edge's streams, and
``dash_app/assets/market_view.js`` draws them in the browser, with no request to the Dash server or
the edge: the header ticker, order book and trades tape at once, the candles and depth charts (a
clientside callback on the ``live-market`` store) at most once a second. The market list is read
once, here.

When the browser's socket to the edge drops, the live client says "reconnecting" and the banner
"Exchange unreachable — retrying" appears; every output keeps its last value until the socket is
back and the client has started again from fresh snapshots.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from dash import ClientsideFunction, Dash, Input, Output, State
from dash.exceptions import PreventUpdate

from client import ApiError, Client
from dash_app import ids
from dash_app.callbacks._wiring import callback, clientside
from dash_app.format import format_time
from dash_app.layout import HIDDEN, SHOWN
from dash_app.types import to_store
from model.api import MarketView

__all__ = ["pick_market", "register"]


def pick_market(markets: list[MarketView], search: str | None, current: str | None) -> str | None:
    """The market to show: the current choice, else ``?market=`` from the URL, else the first."""
    symbols = [m.symbol for m in markets]
    if current in symbols:
        return current
    wanted = parse_qs((search or "").lstrip("?")).get("market", [""])[0].upper().replace("-", "_")
    if wanted in symbols:
        return wanted
    return symbols[0] if symbols else None


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

    # The browser follows the chosen market and interval (and the user's stream once signed in);
    # when a tab comes back, it draws the panels into their new containers.
    clientside(
        app,
        ClientsideFunction(namespace="tidewater", function_name="follow"),
        Output(ids.LIVE_FOLLOW, "data"),
        Input(ids.MARKET, "value"),
        Input(ids.INTERVAL, "value"),
        Input(ids.SESSION, "data"),
        Input(ids.TABS, "value"),
        State(ids.LIVE_CONFIG, "data"),
        State(ids.MARKETS, "data"),
    )

    # The ticker, ladder and tape are drawn by the live client itself (market_view.js); the
    # charts, at most once a second, from the store it publishes.
    clientside(
        app,
        ClientsideFunction(namespace="tidewater", function_name="charts"),
        Output(ids.CANDLES, "figure"),
        Output(ids.DEPTH, "figure"),
        Input(ids.LIVE_MARKET, "data"),
        State(ids.LIVE_CONFIG, "data"),
    )

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
