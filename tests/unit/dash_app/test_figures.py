"""dash_app/figures.py: the analytics figures, empty states included (the market's charts are
drawn in the browser: tests/integration/dash_app/test_market_view.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dash_app.figures import NO_TRADES, TEMPLATE, empty_figure, line_figure, plotly_template


def _message(fig: Any) -> str:
    return str(fig.layout.annotations[0].text)


def test_line_figure_empty_and_full() -> None:
    assert _message(line_figure([], {"close": []}, "r")) == NO_TRADES
    times = [dt.datetime(2026, 1, 5, tzinfo=dt.UTC) + dt.timedelta(minutes=i) for i in range(3)]
    fig = line_figure(times, {"close": [1.0, 2.0, None], "VWAP": [1.0, 1.5, 1.5]}, "r")
    assert [t.name for t in fig.data] == ["close", "VWAP"]
    assert fig.layout.showlegend is True


def test_empty_figure_hides_its_axes() -> None:
    fig = empty_figure("Exchange unreachable")
    assert fig.layout.xaxis.visible is False
    assert _message(fig) == "Exchange unreachable"


def test_line_figure_widens_a_short_span_and_reports_no_values() -> None:
    times = [dt.datetime(2026, 1, 5, tzinfo=dt.UTC)]
    fig = line_figure(times, {"close": [1.0]}, "r", min_span=dt.timedelta(minutes=30))
    start, end = (dt.datetime.fromisoformat(str(v)) for v in fig.layout.xaxis.range)
    assert end - start > dt.timedelta(minutes=30)
    nothing = line_figure(times, {"log return": [None]}, "r", empty="Returns need two bars")
    assert _message(nothing) == "Returns need two bars"


def test_the_browsers_charts_get_the_same_template_as_data() -> None:
    template = plotly_template()
    assert (
        empty_figure("x").layout.template.layout.paper_bgcolor
        == (template["layout"]["paper_bgcolor"])
    )
    assert TEMPLATE == "plotly_dark"
