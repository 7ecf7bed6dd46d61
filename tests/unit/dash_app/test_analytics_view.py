"""dash_app/analytics_view.py and the analytics tab's rendering, on frames made here."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from analytics import BAR_SCHEMA
from dash_app.analytics_view import AnalyticsUnavailableError, build_view, load_view
from dash_app.callbacks.analytics import STATS_SHOWN, render
from model.config import load_markets

SPEC = load_markets().markets["TATA_INR"]
T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def _bars(closes: dict[int, int]) -> pl.DataFrame:
    """1m bars at minute offsets with these closes (ticks), one lot each."""
    rows = [
        (T0 + m * MINUTE, c, c, c, c, 1, c * SPEC.quote_atoms_per_tick_lot, 1, True)
        for m, c in sorted(closes.items())
    ]
    return pl.DataFrame(rows, schema=BAR_SCHEMA, orient="row")


def test_view_of_bars_with_a_gap() -> None:
    view = build_view(_bars({0: 10000, 1: 10100, 3: 10000}), SPEC, "1m", 2, T0 + 5 * MINUTE)
    # The empty minute 2 becomes a flat bar, so returns are per minute.
    assert view.times == [T0 + m * MINUTE for m in range(4)]
    assert view.close == [100.0, 101.0, 101.0, 100.0]
    assert view.returns[0] is None
    assert view.returns[1] == pytest.approx(math.log(101 / 100))
    assert view.returns[2] == 0.0
    assert view.volatility[0] is None
    assert view.volatility[3] is not None
    # Anchored VWAP: (100 + 101 + 100) / 3 = 100.333..., to a tenth of a tick.
    assert view.vwap[-1] == pytest.approx(100.333)
    assert view.stats["close"] == "100.00"
    assert view.stats["trades"] == "3"


def test_view_of_an_empty_market() -> None:
    view = build_view(pl.DataFrame(schema=BAR_SCHEMA), SPEC, "5m", 20, T0)
    assert view.times == []
    assert view.stats["close"] == "-"
    stats, price, _, _ = render(view)
    assert len(stats) == len(STATS_SHOWN)
    assert price.layout.annotations[0].text == "No trades yet"


def test_render_names_the_series() -> None:
    view = build_view(_bars({0: 10000, 1: 10100}), SPEC, "1m", 10, T0 + 2 * MINUTE)
    _, price, returns, vol = render(view)
    assert [t.name for t in price.data] == ["close", "VWAP"]
    assert [t.name for t in returns.data] == ["log return"]
    # Two bars make one return: not enough for a 10-bar volatility yet.
    assert vol.layout.annotations[0].text == "Volatility needs 11 bars"
    longer = build_view(_bars({m: 10000 + m for m in range(12)}), SPEC, "1m", 10, T0 + 20 * MINUTE)
    assert [t.name for t in render(longer)[3].data] == ["volatility (10 bars)"]
    assert price.layout.uirevision == "TATA_INR:1m"


def test_no_database_configured() -> None:
    with pytest.raises(AnalyticsUnavailableError, match="DATABASE_URL"):
        load_view(None, SPEC, "1m", 20, T0)


def test_database_unreachable() -> None:
    from infra.embedded import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    with pytest.raises(AnalyticsUnavailableError, match="Cannot read the analytics database"):
        load_view(url, SPEC, "1m", 20, T0)
