"""Plotly figures of the analytics tab, and the empty chart the page starts with: pure
functions, no I/O. (The market's candles and depth charts are drawn in the browser, by
``assets/market_view.js``.)

A chart is not money: values become floats here, for plotting only. Each figure carries a
``uirevision`` so a user's zoom and pan survive the next refresh; it changes with what is shown,
so a new view starts fresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type hints
import plotly.io as pio  # type: ignore[import-untyped]

from dash_app.theme import DOWN, GRID, MUTED, PANEL, TEXT, UP

__all__ = ["NO_TRADES", "TEMPLATE", "empty_figure", "line_figure", "plotly_template"]

NO_TRADES = "No trades yet"
#: The Plotly template of every chart, here and in the browser's (:func:`plotly_template`).
TEMPLATE = "plotly_dark"


def plotly_template() -> dict[str, Any]:
    """:data:`TEMPLATE`'s layout as plain data, for the charts drawn in the browser (Plotly.js
    knows templates only as objects, not by name)."""
    layout: dict[str, Any] = pio.templates[TEMPLATE].layout.to_plotly_json()
    return {"layout": layout}


def _base_layout(uirevision: str, height: int) -> dict[str, Any]:
    return {
        "template": TEMPLATE,
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
