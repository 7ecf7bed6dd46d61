"""Plotly figures built from the edge's payloads: pure functions, no I/O.

A chart is not money: values become floats here, for plotting only. Running totals of the book
are summed exactly first (:func:`dash_app.format.cumulative`) and converted at the last step.
Each figure carries a ``uirevision`` so a user's zoom and pan survive the next poll; it changes
with the market (and interval), so a new market starts with a fresh view.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type hints
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from dash_app.format import cumulative
from dash_app.theme import DOWN, GRID, MUTED, PANEL, TEXT, UP
from model.api import DepthView, KlineView
from model.timestamps import from_millis

__all__ = [
    "MIN_BARS_SHOWN",
    "NO_ORDERS",
    "NO_TRADES",
    "candles_figure",
    "depth_figure",
    "empty_figure",
    "line_figure",
]

NO_TRADES = "No trades yet"
NO_ORDERS = "No orders in the book"


def _base_layout(uirevision: str, height: int) -> dict[str, Any]:
    return {
        "template": "plotly_dark",
        "paper_bgcolor": PANEL,
        "plot_bgcolor": PANEL,
        "font": {"color": TEXT, "size": 11},
        "margin": {"l": 8, "r": 56, "t": 8, "b": 24},
        "height": height,
        "uirevision": uirevision,
        "showlegend": False,
        "hovermode": "x unified",
    }


def _axis() -> dict[str, Any]:
    return {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": GRID}


def empty_figure(message: str, uirevision: str = "empty", height: int = 420) -> Any:
    """A blank chart that says why it is blank (no trades yet, nothing to show)."""
    fig = go.Figure()
    fig.update_layout(
        **_base_layout(uirevision, height),
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 16, "color": MUTED},
            }
        ],
    )
    return fig


#: The chart shows at least this many bars' width of time, so a new market's first bar is a
#: candle and not a slab spread over the whole chart.
MIN_BARS_SHOWN = 40


def candles_figure(
    klines: list[KlineView], interval_ms: int, uirevision: str, height: int = 420
) -> Any:
    """Candlesticks over volume bars (green when the bar closed at or above its open)."""
    if not klines:
        return empty_figure(NO_TRADES, uirevision, height)
    times = [from_millis(k.start) for k in klines]
    last = klines[-1].start
    first = min(klines[0].start, last - (MIN_BARS_SHOWN - 1) * interval_ms)
    x_range = [from_millis(first - interval_ms), from_millis(last + 2 * interval_ms)]
    rising = [Decimal(k.close) >= Decimal(k.open) for k in klines]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.76, 0.24], vertical_spacing=0.03
    )
    # Plotly sizes candles by the smallest gap between x values: an empty bar at the next open
    # time makes that gap one interval, so a lone first bar is a candle, not a hairline.
    gap = [from_millis(last + interval_ms)]
    nothing: list[float | None] = [None]
    fig.add_trace(
        go.Candlestick(
            x=times + gap,
            open=[float(k.open) for k in klines] + nothing,
            high=[float(k.high) for k in klines] + nothing,
            low=[float(k.low) for k in klines] + nothing,
            close=[float(k.close) for k in klines] + nothing,
            increasing={"line": {"color": UP}, "fillcolor": UP},
            decreasing={"line": {"color": DOWN}, "fillcolor": DOWN},
            name="price",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=times,
            y=[float(k.volume) for k in klines],
            width=interval_ms * 0.7,
            marker={"color": [UP if up else DOWN for up in rising], "opacity": 0.6},
            name="volume",
        ),
        row=2,
        col=1,
    )
    fig.update_layout(**_base_layout(uirevision, height), xaxis_rangeslider_visible=False)
    fig.update_xaxes(**_axis(), range=x_range)
    fig.update_yaxes(**_axis(), side="right")
    return fig


#: Levels per side the depth chart frames at first (the user can zoom out to the rest).
DEPTH_LEVELS_FRAMED = 20


def depth_figure(depth: DepthView, uirevision: str, height: int = 300) -> Any:
    """Cumulative bids (green, left) and asks (red, right) against price.

    The view frames the best ``DEPTH_LEVELS_FRAMED`` levels of each side, so one far-away order
    does not squash the book near the spread into a sliver.
    """
    if not depth.bids and not depth.asks:
        return empty_figure(NO_ORDERS, uirevision, height)
    bids = cumulative(depth.bids)
    asks = cumulative(depth.asks)
    prices = [float(level.price) for level in (*bids, *asks)]
    # Each side runs on a little past its last level, so the deepest step shows as a step.
    tail = (max(prices) - min(prices)) * 0.05 or max(prices) * 0.01
    bid_x = [float(level.price) for level in reversed(bids)]
    bid_y = [float(level.total) for level in reversed(bids)]
    ask_x = [float(level.price) for level in asks]
    ask_y = [float(level.total) for level in asks]
    if bids:
        bid_x.insert(0, bid_x[0] - tail)
        bid_y.insert(0, bid_y[0])
    if asks:
        ask_x.append(ask_x[-1] + tail)
        ask_y.append(ask_y[-1])
    fig = go.Figure()
    # Bids run from the best (highest) price down; plot them left to right, ascending.
    fig.add_trace(
        go.Scatter(
            x=bid_x,
            y=bid_y,
            mode="lines",
            line={"color": UP, "shape": "vh"},
            fill="tozeroy",
            fillcolor="rgba(14, 203, 129, 0.2)",
            name="bids",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=ask_x,
            y=ask_y,
            mode="lines",
            line={"color": DOWN, "shape": "hv"},
            fill="tozeroy",
            fillcolor="rgba(246, 70, 93, 0.2)",
            name="asks",
        )
    )
    near = [
        float(side[min(len(side), DEPTH_LEVELS_FRAMED) - 1].price) for side in (bids, asks) if side
    ]
    near += [float(side[0].price) for side in (bids, asks) if side]
    pad = (max(near) - min(near)) * 0.05 or max(near) * 0.01
    x_range = [min(near) - pad, max(near) + pad]
    fig.update_layout(**_base_layout(uirevision, height))
    fig.update_xaxes(**_axis(), range=x_range, title={"text": "price", "font": {"color": MUTED}})
    fig.update_yaxes(**_axis(), side="right", title={"text": "cumulative quantity"})
    return fig


def line_figure(
    x: list[dt.datetime],
    series: dict[str, list[float | None]],
    uirevision: str,
    *,
    colors: tuple[str, ...] = (UP, "#f0b90b", "#3b82f6", DOWN),
    height: int = 300,
    empty: str = NO_TRADES,
    min_span: dt.timedelta | None = None,
) -> Any:
    """One line per named series over shared times (the analytics charts).

    With no value at all it is an empty state saying ``empty``; ``min_span`` widens the time
    axis to at least that much (ending just after the last point), so a few points are not
    stretched across milliseconds.
    """
    if not x or all(v is None for values in series.values() for v in values):
        return empty_figure(empty, uirevision, height)
    fig = go.Figure()
    for (name, values), color in zip(series.items(), colors, strict=False):
        mode = "lines" if len(x) > 30 else "lines+markers"  # a few points: show each one
        fig.add_trace(go.Scatter(x=x, y=values, mode=mode, name=name, line={"color": color}))
    layout = _base_layout(uirevision, height)
    layout["showlegend"] = len(series) > 1
    layout["legend"] = {"orientation": "h", "y": 1.08, "x": 0}
    fig.update_layout(**layout)
    axis = _axis()
    if min_span is not None and x[-1] - x[0] < min_span:
        axis["range"] = [x[-1] - min_span, x[-1] + min_span / 20]
    fig.update_xaxes(**axis)
    fig.update_yaxes(**_axis(), side="right")
    return fig
