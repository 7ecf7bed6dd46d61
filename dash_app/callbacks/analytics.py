"""The analytics tab: VWAP, log returns and rolling volatility of the chosen market, computed
by ``analytics/`` from the stored candles, refreshed every few seconds while the tab is open.

Without a database (none configured, or it does not answer) the tab shows why, in words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dash import Dash, Input, Output, html
from dash.exceptions import PreventUpdate

from analytics import parse_interval
from dash_app import ids
from dash_app.analytics_view import AnalyticsUnavailableError, AnalyticsView, load_view
from dash_app.callbacks._wiring import callback, clientside
from dash_app.figures import empty_figure, line_figure
from dash_app.theme import ACCENT, UP
from model.config import MarketConfig

__all__ = ["STATS_SHOWN", "register", "render"]

#: Summary figures shown above the charts, in order (keys of ``MarketSummary.display``).
STATS_SHOWN = (
    "open",
    "high",
    "low",
    "close",
    "change %",
    "volume",
    "quote volume",
    "trades",
    "VWAP",
    "volatility",
)


#: The analytics charts show at least this many bars' width of time.
MIN_BARS_SPAN = 30


def render(view: AnalyticsView) -> tuple[Any, ...]:
    """Stats, and the price/VWAP, returns and volatility figures of one view."""
    revision = f"{view.symbol}:{view.interval}"
    stats = [
        html.Div(
            [
                html.Span(name, className="ticker-label"),
                html.Span(view.stats.get(name, "-"), className="ticker-value"),
            ],
            className="ticker-item",
        )
        for name in STATS_SHOWN
    ]
    span = MIN_BARS_SPAN * parse_interval(view.interval).length
    price = line_figure(
        view.times, {"close": view.close, "VWAP": view.vwap}, revision,
        colors=(UP, ACCENT), min_span=span,
    )  # fmt: skip
    returns = line_figure(
        view.times, {"log return": view.returns}, revision, colors=("#3b82f6",),
        min_span=span, empty="Returns need two bars",
    )  # fmt: skip
    vol = line_figure(
        view.times, {f"volatility ({view.window} bars)": view.volatility}, revision,
        colors=(ACCENT,), min_span=span, empty=f"Volatility needs {view.window + 1} bars",
    )  # fmt: skip
    return stats, price, returns, vol


def register(app: Dash, database_url: str | None, markets: MarketConfig) -> None:
    """Wire the analytics tab to ``app``, reading bars from ``database_url``."""

    # The refresh timer runs only while the tab is shown: a dashboard on the trade tab sends the
    # server nothing (a callback that declines still costs a request).
    clientside(
        app,
        "function (tab) { return tab !== 'analytics'; }",
        Output(ids.AN_REFRESH, "disabled"),
        Input(ids.TABS, "value"),
    )

    @callback(
        app,
        Output(ids.AN_MESSAGE, "children"),
        Output(ids.AN_MESSAGE, "className"),
        Output(ids.AN_STATS, "children"),
        Output(ids.AN_PRICE, "figure"),
        Output(ids.AN_RETURNS, "figure"),
        Output(ids.AN_VOLATILITY, "figure"),
        Input(ids.AN_REFRESH, "n_intervals"),
        Input(ids.TABS, "value"),
        Input(ids.MARKET, "value"),
        Input(ids.AN_INTERVAL, "value"),
        Input(ids.AN_WINDOW, "value"),
    )
    def analytics(
        _: int | None, tab: str, symbol: str | None, interval: str, window: int
    ) -> tuple[Any, ...]:
        if tab != "analytics" or not symbol:
            raise PreventUpdate  # nothing to compute while nobody looks
        spec = markets.market(symbol)
        if spec is None:
            raise PreventUpdate
        try:
            view = load_view(database_url, spec, interval, int(window), dt.datetime.now(dt.UTC))
        except AnalyticsUnavailableError as exc:
            blank = empty_figure(str(exc), "unavailable", height=300)
            return str(exc), "message error", [], blank, blank, blank
        note = "" if view.times else f"No trades in {spec.symbol} in this window yet"
        return (note, "message", *render(view))
