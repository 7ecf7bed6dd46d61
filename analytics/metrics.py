"""Pure functions on bars and trades frames: resampling, VWAP, returns, volatility, profiles.

Exactness
---------
* Prices, quantities and quote amounts stay integers (ticks, lots, quote atoms). Sums are taken
  in ``Int128`` and cast back to ``Int64`` strictly: a total too large for a signed 64-bit column
  raises instead of wrapping.
* VWAP is ``sum(quote atoms) / (sum(lots) * quote_atoms_per_tick_lot)`` ticks, an exact rational,
  rounded once to **one tenth of a tick, half to even** (:func:`vwap_price`). It is a ``Decimal``
  price (a ``pl.Decimal`` column in frames), never a float.
* Log returns and volatility are dimensionless statistics, computed as ``Float64`` from the
  integer closes: they are not money and are never turned back into prices.

Every frame function takes an eager or a lazy frame and returns the same kind, so a chain of
them on a ``LazyFrame`` runs as one polars query. Inputs need not be sorted; outputs are sorted
by time (or price). An empty input gives an empty output with the same columns.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl

from analytics.frames import TIME, Frame, finish
from analytics.intervals import Interval, parse_interval
from model.numbers import MarketSpec

__all__ = [
    "fill_gaps",
    "log_returns",
    "resample",
    "rolling_volatility",
    "volatility",
    "volume_profile",
    "vwap",
    "vwap_price",
    "vwap_unit",
    "with_vwap",
]

_BAR_VALUES = ("open", "high", "low", "close", "volume", "quote_volume", "trades")


def _interval(every: str | Interval) -> Interval:
    return every if isinstance(every, Interval) else parse_interval(every)


def _exact_sum(column: str) -> pl.Expr:
    """Sum of an integer column, exact: Int128 inside, Int64 out or an error."""
    return pl.col(column).cast(pl.Int128).sum().cast(pl.Int64, strict=True)


def _epoch_us(column: str) -> pl.Expr:
    return pl.col(column).dt.epoch("us")


# --- bars ------------------------------------------------------------------------------------


def resample(bars: Frame, every: str | Interval, *, source: str | Interval | None = None) -> Frame:
    """Merge bars into bars of ``every`` (``"2h"``): OHLCV semantics, no bar for empty time.

    ``open`` is the first bar's open, ``close`` the last bar's close, ``high``/``low`` the
    extremes, ``volume``/``quote_volume``/``trades`` the sums. Bars open on the grid of
    :mod:`analytics.intervals`, as stored bars and ``date_bin`` do. The input bars must each lie
    inside one output bar: give ``source`` (their interval) to have that checked.

    When the input has ``closed``, an output bar is closed once the market's clock has passed its
    end, as the flow decides it. What the frame proves about the clock: it is at least the latest
    bar's ``open_time`` and, when ``source`` is given, the end of every closed input bar.
    """
    target = _interval(every)
    source_iv = None if source is None else _interval(source)
    if source_iv is not None and not target.refines(source_iv):
        raise ValueError(
            f"cannot resample {source_iv.name} bars to {target.name}: "
            f"a {target.name} bar is not a whole run of {source_iv.name} bars"
        )
    frame = bars.lazy()
    has_closed: bool = "closed" in frame.collect_schema()
    us = _epoch_us("open_time")
    start = (us - target.origin_us) // target.micros * target.micros + target.origin_us
    columns = [start.alias("_bin"), pl.col("open_time"), *(pl.col(c) for c in _BAR_VALUES)]
    aggregates = [
        pl.col("open").sort_by("open_time").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").sort_by("open_time").last(),
        _exact_sum("volume"),
        _exact_sum("quote_volume"),
        _exact_sum("trades"),
    ]
    if has_closed:
        proven = us
        if source_iv is not None:
            proven = pl.when(pl.col("closed")).then(us + source_iv.micros).otherwise(us)
        columns.append(proven.max().alias("_clock"))
        aggregates.append(pl.col("_clock").first())
    result = (
        frame.select(columns)
        .group_by("_bin")
        .agg(aggregates)
        .sort("_bin")
        .with_columns(pl.col("_bin").cast(TIME).alias("open_time"))
    )
    if has_closed:
        closes_at = pl.col("_bin") + target.micros
        result = result.with_columns((closes_at <= pl.col("_clock")).alias("closed"))
    names = ["open_time", *_BAR_VALUES, *(["closed"] if has_closed else [])]
    return finish(result.select(names), bars)


def fill_gaps(bars: Frame, every: str | Interval) -> Frame:
    """Add a flat bar for every empty ``every`` interval between the first bar and the last.

    A flat bar has ``open = high = low = close`` = the previous close and zero volume, quote
    volume and trades (and is closed: later bars exist). Statistics per interval (returns,
    volatility) need them: without them a return spans several intervals. The input must be
    bars of ``every``.
    """
    iv = _interval(every)
    frame = bars.lazy().sort("open_time")
    schema = frame.collect_schema()
    us = _epoch_us("open_time")
    grid = frame.select(
        pl.int_range(us.min().fill_null(0), (us.max() + 1).fill_null(0), iv.micros)
        .cast(TIME)
        .alias("open_time")
    )
    filled = grid.join(frame, on="open_time", how="left").sort("open_time")
    previous_close = pl.col("close").forward_fill()
    flat = {name: pl.col(name).fill_null(previous_close) for name in ("open", "high", "low")}
    zero = {name: pl.col(name).fill_null(0) for name in ("volume", "quote_volume", "trades")}
    result = filled.with_columns(close=previous_close, **flat, **zero)
    if "closed" in schema:
        result = result.with_columns(pl.col("closed").fill_null(value=True))
    return finish(result.select(schema.names()), bars)


def log_returns(bars: Frame) -> Frame:
    """The bars with ``log_return = ln(close / previous close)`` (Float64, null on the first bar).

    Returns are between consecutive rows: run :func:`fill_gaps` first for per-interval returns.
    """
    close = pl.col("close").cast(pl.Float64)
    frame = bars.lazy().sort("open_time")
    return finish(frame.with_columns((close / close.shift(1)).log().alias("log_return")), bars)


def rolling_volatility(bars: Frame, window: int | str, *, min_samples: int | None = None) -> Frame:
    """The bars with ``log_return`` and ``volatility``: the rolling sample standard deviation
    (ddof 1) of log returns over ``window`` returns (an ``int``) or a time span (``"1h"``).

    Float64 and not annualised: it is the volatility per bar interval. A row has a value once its
    window holds ``min_samples`` returns (default: the whole window when counted in returns,
    2 when in time).
    """
    returns = pl.col("log_return")
    if isinstance(window, int):
        if window < 2:
            raise ValueError(f"window: need at least 2 returns for a deviation, got {window}")
        rolling = returns.rolling_std(window, min_samples=min_samples or window)
    else:
        parse_interval(window)  # refuse what is not a fixed duration, naming it
        rolling = returns.rolling_std_by("open_time", window, min_samples=min_samples or 2)
    frame = log_returns(bars.lazy())
    return finish(frame.with_columns(rolling.alias("volatility")), bars)


def volatility(bars: pl.DataFrame | pl.LazyFrame) -> float | None:
    """Sample standard deviation (ddof 1) of the bars' log returns; ``None`` under 2 returns."""
    value = log_returns(bars.lazy()).select(pl.col("log_return").std()).collect().item()
    return None if value is None else float(value)


# --- VWAP ------------------------------------------------------------------------------------


def vwap_unit(spec: MarketSpec) -> Decimal:
    """The precision VWAP is given to: one tenth of the market's tick."""
    return spec.tick_size.scaleb(-1)


def vwap_price(quote_atoms: int, lots: int, spec: MarketSpec) -> Decimal | None:
    """``quote_atoms`` paid for ``lots`` as a price, to a tenth of a tick, half to even.

    One lot at one tick costs ``quote_atoms_per_tick_lot`` atoms, so the exact average is
    ``quote_atoms / (lots * quote_atoms_per_tick_lot)`` ticks. ``None`` when nothing traded.
    """
    if lots == 0:
        return None
    tenths = round(Fraction(10 * quote_atoms, lots * spec.quote_atoms_per_tick_lot))
    return vwap_unit(spec) * tenths


def _volume_columns(frame: pl.LazyFrame) -> tuple[str, str]:
    names = frame.collect_schema().names()
    for lots, quote in (("volume", "quote_volume"), ("quantity", "quote_amount")):
        if lots in names and quote in names:
            return lots, quote
    raise ValueError(
        f"need bars (volume, quote_volume) or trades (quantity, quote_amount); got {names}"
    )


def vwap(frame: pl.DataFrame | pl.LazyFrame, spec: MarketSpec) -> Decimal | None:
    """VWAP of a whole bars or trades frame (see :func:`vwap_price`); ``None`` when empty."""
    lazy = frame.lazy()
    lots, quote = _volume_columns(lazy)
    totals = lazy.select(
        pl.col(quote).cast(pl.Int128).sum().alias("quote"),
        pl.col(lots).cast(pl.Int128).sum().alias("lots"),
    ).collect()
    return vwap_price(int(totals["quote"][0]), int(totals["lots"][0]), spec)


def _vwap_scale(spec: MarketSpec) -> tuple[int, int]:
    """``(mantissa, scale)`` with ``vwap_unit(spec) == mantissa * 10**-scale``."""
    unit = vwap_unit(spec)
    exponent = unit.as_tuple().exponent
    assert isinstance(exponent, int), "tick sizes are finite"
    scale = max(0, -exponent)
    return int(unit.scaleb(scale)), scale


def with_vwap(bars: Frame, spec: MarketSpec, *, cumulative: bool = True) -> Frame:
    """The bars with ``vwap``: a ``pl.Decimal`` price to a tenth of a tick (half to even).

    ``cumulative`` (default): the VWAP of everything from the first bar to this one, the
    "anchored VWAP" line traders draw over a window. Otherwise each bar's own VWAP. Null while
    nothing has traded.
    """
    lots, quote = _volume_columns(bars.lazy())
    q = pl.col(quote).cast(pl.Int128)
    v = pl.col(lots).cast(pl.Int128)
    if cumulative:
        q, v = q.cum_sum(), v.cum_sum()
    numerator = q * 10
    denominator = v * spec.quote_atoms_per_tick_lot
    whole = numerator // denominator
    twice_rest = (numerator - whole * denominator) * 2
    round_up = (twice_rest > denominator) | ((twice_rest == denominator) & (whole % 2 == 1))
    tenths = whole + round_up.cast(pl.Int128)
    mantissa, scale = _vwap_scale(spec)
    price = (tenths * mantissa).cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-scale))
    column = pl.when(v > 0).then(price.cast(pl.Decimal(38, scale))).alias("vwap")
    frame = bars.lazy().sort("open_time")
    return finish(frame.with_columns(column), bars)


# --- trades ----------------------------------------------------------------------------------


def volume_profile(
    trades: Frame, *, bucket_ticks: int | None = None, n_buckets: int | None = None
) -> Frame:
    """Volume traded by price bucket, lowest price first; only buckets that traded.

    Give exactly one of ``bucket_ticks`` (buckets ``[k * w, (k + 1) * w)`` ticks, on a fixed
    grid) or ``n_buckets`` (at most that many equal buckets from the lowest traded price up,
    ``w = ceil((high - low + 1) / n)``). Columns: ``price_low``, ``price_high`` (exclusive, ticks),
    ``volume``, ``buy_volume``, ``sell_volume`` (lots, by the taker's side), ``quote_volume``
    (atoms), ``trades``.
    """
    if (bucket_ticks is None) == (n_buckets is None):
        raise ValueError("give exactly one of bucket_ticks and n_buckets")
    size = bucket_ticks if bucket_ticks is not None else n_buckets
    if size is None or size < 1:
        raise ValueError(f"bucket_ticks/n_buckets must be a positive integer, got {size}")
    price = pl.col("price")
    if bucket_ticks is not None:
        width: pl.Expr = pl.lit(bucket_ticks, pl.Int64)
        low = price // bucket_ticks * bucket_ticks
    else:
        floor = price.min()
        width = (price.max() - floor + size) // size
        low = floor + (price - floor) // width * width
    lots = pl.col("quantity").cast(pl.Int128)
    side = pl.col("taker_side")
    result = (
        trades.lazy()
        .with_columns(low.alias("price_low"), width.alias("_width"))
        .group_by("price_low")
        .agg(
            (pl.col("price_low") + pl.col("_width")).first().alias("price_high"),
            lots.sum().cast(pl.Int64, strict=True).alias("volume"),
            lots.filter(side == "buy").sum().cast(pl.Int64, strict=True).alias("buy_volume"),
            lots.filter(side == "sell").sum().cast(pl.Int64, strict=True).alias("sell_volume"),
            _exact_sum("quote_amount").alias("quote_volume"),
            pl.len().cast(pl.Int64).alias("trades"),
        )
        .sort("price_low")
    )
    return finish(result, trades)
