"""Analytics on a real migrated PostgreSQL: trades and the bars the flow would store from them.

The stored bars come from the flow's own bar logic (``CandleBook``) fed with the same trades, so
"resampled 1m bars equal the stored 5m bars" compares two independent paths to one answer; SQL
``date_bin`` over the trades is a third.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from analytics.frames import BAR_SCHEMA, TRADE_SCHEMA
from analytics.intervals import from_us, parse_interval, to_us
from analytics.load import (
    load_bars,
    load_stored_bars,
    load_summaries,
    load_trade_bars,
    load_trades,
)
from analytics.metrics import resample, volume_profile, vwap_price
from analytics.report import main
from analytics.summaries import MarketSummary
from model.config import load_markets
from model.settings import get_settings
from pipeline.flows.candles import CandleBook
from tests.integration.edge.conftest import fresh_database
from tests.support.bars import T0

CONFIG = load_markets()
BTC = CONFIG.markets["BTC_USDC"]
ETH = CONFIG.markets["ETH_USDC"]
ROOT = Path(__file__).resolve().parents[3]
#: Everything stored lies in [T0, END): 2026-01-05 00:00 to 04:00 UTC.
END = T0 + dt.timedelta(hours=4)
OHLCV = ["open_time", "open", "high", "low", "close", "volume", "quote_volume", "trades"]


@dataclass(frozen=True)
class Trade:
    market: str
    trade_id: int
    ts: dt.datetime
    price: int
    quantity: int
    quote_amount: int
    taker_side: str


def _tape(seed: int) -> list[Trade]:
    """BTC trades from 00:07 on with a 25-minute silence, a few on exact minute and bar
    boundaries, and a handful of ETH trades."""
    rng = random.Random(seed)
    tape: list[Trade] = []
    us = to_us(T0) + 7 * 60_000_000 + 13_000_001
    price = 6_500_000
    for trade_id in range(1, 601):
        if trade_id == 300:
            us += 25 * 60_000_000  # nothing trades for 25 minutes
        elif trade_id % 97 == 0:
            us = (us // 300_000_000 + 1) * 300_000_000  # exactly on a 5-minute boundary
        else:
            us += rng.randrange(1, 30_000_000)
        price = max(1, price + rng.randrange(-300, 301))
        quantity = rng.randrange(1, 50)
        side = rng.choice(("buy", "sell"))
        tape.append(
            Trade(
                "BTC_USDC",
                trade_id,
                from_us(us),
                price,
                quantity,
                BTC.notional(price, quantity),
                side,
            )
        )
    for n, (minute, price) in enumerate([(3, 200_000), (4, 200_150), (61, 199_900), (62, 200_010)]):
        ts = T0 + dt.timedelta(minutes=minute, seconds=17)
        tape.append(Trade("ETH_USDC", n + 1, ts, price, 3, ETH.notional(price, 3), "buy"))
    return tape


TAPE = _tape(seed=11)
assert all(t.ts < END for t in TAPE)


def _stored_rows(tape: list[Trade]) -> list[tuple[Any, ...]]:
    """What the flow upserts into ``candles`` for these trades: every bar it closed, and the open
    bars as they stand after the last trade."""
    rows: list[tuple[Any, ...]] = []
    for market in sorted({t.market for t in tape}):
        book = CandleBook()
        for t in (t for t in tape if t.market == market):
            for interval, bar in book.advance(to_us(t.ts)):
                rows.append((market, interval, bar, True))
            book.trade(t.price, t.quantity, t.quote_amount)
        rows.extend((market, interval, bar, False) for interval, bar in book.bars.items())
    return [
        (
            m,
            iv,
            from_us(b.open_time),
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            b.quote_volume,
            b.trades,
            closed,
        )
        for m, iv, b, closed in rows
    ]


_INSERT_TRADE = """
INSERT INTO trades (market, trade_id, ts, price, quantity, quote_amount, taker_side,
                    maker_order_id, taker_order_id, maker_user_id, taker_user_id, maker_fee,
                    taker_fee, seq)
VALUES (%s, %s, %s, %s, %s, %s, %s, 1, 2, 3, 4, 0, 0, %s)"""
_INSERT_BAR = """
INSERT INTO candles (market, interval, open_time, open, high, low, close, volume, quote_volume,
                     trades, closed)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""


@pytest.fixture(scope="module")
def db_url(database_url: str) -> Iterator[str]:
    """A migrated database holding :data:`TAPE` and the bars the flow makes of it."""
    trade_rows = [
        (t.market, t.trade_id, t.ts, t.price, t.quantity, t.quote_amount, t.taker_side, seq)
        for seq, t in enumerate(TAPE)
    ]
    with fresh_database(database_url, "tw_analytics") as url:
        with psycopg.connect(url) as conn, conn.cursor() as cursor:
            cursor.executemany(_INSERT_TRADE, trade_rows)
            cursor.executemany(_INSERT_BAR, _stored_rows(TAPE))
        yield url


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    # A session time zone far from UTC: times must come out the same whatever it is.
    with psycopg.connect(db_url, autocommit=True, options="-c TimeZone=Asia/Kolkata") as c:
        yield c


def _btc(start: dt.datetime = T0, end: dt.datetime = END) -> list[Trade]:
    return [t for t in TAPE if t.market == "BTC_USDC" and start <= t.ts < end]


# --- bars -------------------------------------------------------------------------------------


def test_stored_bars_load_as_the_flow_wrote_them(conn: psycopg.Connection[Any]) -> None:
    frame = load_stored_bars(conn, "BTC_USDC", "1m", T0, END)
    assert frame.schema == BAR_SCHEMA
    expected = sorted(r[2:] for r in _stored_rows(TAPE) if r[:2] == ("BTC_USDC", "1m"))
    assert frame.rows() == expected
    assert frame["trades"].sum() == len(_btc())
    assert frame["closed"].to_list() == [True] * (len(frame) - 1) + [False]


@pytest.mark.parametrize(("fine", "coarse"), [("1m", "5m"), ("1m", "15m"), ("5m", "1h")])
def test_resampled_bars_equal_the_stored_coarser_bars(
    conn: psycopg.Connection[Any], fine: str, coarse: str
) -> None:
    resampled = resample(load_stored_bars(conn, "BTC_USDC", fine, T0, END), coarse, source=fine)
    stored = load_stored_bars(conn, "BTC_USDC", coarse, T0, END)
    assert len(stored) > 3
    assert_frame_equal(resampled, stored)  # closed flags included


@pytest.mark.parametrize("every", ["5m", "10m", "2h", "90s", "1w"])
def test_bars_of_any_interval_equal_bars_binned_from_trades(
    conn: psycopg.Connection[Any], every: str
) -> None:
    bars = load_bars(conn, "BTC_USDC", every, T0, END)
    binned = load_trade_bars(conn, "BTC_USDC", every, T0, END)
    assert_frame_equal(bars.select(OHLCV), binned.select(OHLCV))
    # And both equal a plain Python binning of the trades.
    iv = parse_interval(every)
    groups: dict[int, list[Trade]] = {}
    for t in _btc():
        groups.setdefault(iv.floor_us(to_us(t.ts)), []).append(t)
    expected = [
        (
            from_us(start),
            g[0].price,
            max(t.price for t in g),
            min(t.price for t in g),
            g[-1].price,
            sum(t.quantity for t in g),
            sum(t.quote_amount for t in g),
            len(g),
        )
        for start, g in sorted(groups.items())
    ]
    assert bars.select(OHLCV).rows() == expected


def test_a_window_holds_the_whole_bars_that_open_in_it(conn: psycopg.Connection[Any]) -> None:
    whole = load_bars(conn, "BTC_USDC", "10m", T0, END)
    start, end = T0 + dt.timedelta(minutes=7), T0 + dt.timedelta(minutes=51)
    inside = whole.filter(pl.col("open_time").is_between(start, end, closed="left"))
    for loader in (load_bars, load_trade_bars):
        window = loader(conn, "BTC_USDC", "10m", start, end)
        assert_frame_equal(window.select(OHLCV), inside.select(OHLCV))
    # 00:07 -> the first bar opening in the window is 00:10 (the 00:00 bar is left out, not cut).
    assert inside["open_time"][0] == T0 + dt.timedelta(minutes=10)
    assert len(inside) == 5  # 00:10, 00:20, 00:30, 00:40, 00:50 (a whole bar past 00:51)


def test_times_in_another_zone_name_the_same_instants(conn: psycopg.Connection[Any]) -> None:
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    utc = load_bars(conn, "BTC_USDC", "15m", T0, END)
    assert_frame_equal(load_bars(conn, "btc-usdc", "15m", T0.astimezone(ist), END), utc)


def test_an_empty_market_loads_empty_frames(conn: psycopg.Connection[Any]) -> None:
    for every in ("1m", "2h", "90s"):
        frame = load_bars(conn, "TATA_INR", every, T0, END)
        assert frame.is_empty()
        assert frame.schema == BAR_SCHEMA
    assert load_trades(conn, "TATA_INR", T0, END).schema == TRADE_SCHEMA
    with pytest.raises(ValueError, match="before it starts"):
        load_trades(conn, "TATA_INR", END, T0)


# --- trades -----------------------------------------------------------------------------------


def test_trades_load_in_a_half_open_window(conn: psycopg.Connection[Any]) -> None:
    on_boundary = next(t for t in _btc() if to_us(t.ts) % 300_000_000 == 0)
    start = on_boundary.ts - dt.timedelta(minutes=5)
    frame = load_trades(conn, "BTC_USDC", start, on_boundary.ts)
    expected = _btc(start, on_boundary.ts)
    assert on_boundary not in expected
    assert frame.rows() == [
        (t.trade_id, t.ts, t.price, t.quantity, t.quote_amount, t.taker_side) for t in expected
    ]
    included = load_trades(conn, "BTC_USDC", on_boundary.ts, END)
    assert included["trade_id"][0] == on_boundary.trade_id
    profile = volume_profile(included, n_buckets=7)
    assert len(profile) <= 7
    assert profile["volume"].sum() == sum(t.quantity for t in _btc(on_boundary.ts))


# --- summaries and the report -----------------------------------------------------------------


def test_summaries_equal_sums_over_the_trades(conn: psycopg.Connection[Any]) -> None:
    btc, eth, tata = load_summaries(conn, [BTC, ETH, CONFIG.markets["TATA_INR"]], "5m", T0, END)
    trades = _btc()
    quote = sum(t.quote_amount for t in trades)
    lots = sum(t.quantity for t in trades)
    assert (btc.open, btc.close) == (trades[0].price, trades[-1].price)
    assert btc.high == max(t.price for t in trades)
    assert btc.low == min(t.price for t in trades)
    assert (btc.volume, btc.quote_volume, btc.trades) == (lots, quote, len(trades))
    assert btc.vwap == vwap_price(quote, lots, BTC)
    assert btc.volatility is not None
    # ETH: 3 lots at 200,000, 200,150, 199,900, 200,010 ticks: VWAP = mean = 200,015 ticks.
    assert eth.vwap is not None
    assert eth.vwap == vwap_price(3 * 10 * 800_060, 12, ETH) == ETH.tick_size * 200_015
    assert (eth.open, eth.close, eth.trades) == (200_000, 200_010, 4)
    assert tata.trades == 0
    assert tata.open is None


def test_report_prints_each_markets_figures(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TIDEWATER_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        window = ["--start", "2026-01-05T00:00:00Z", "--end", "2026-01-05T04:00"]
        assert main(["--market", "BTC_USDC", *window, "--interval", "5m"]) == 0
        one = capsys.readouterr().out.splitlines()
        assert main(["--all", *window, "--interval", "5m"]) == 0
        every = capsys.readouterr().out.splitlines()
    finally:
        get_settings.cache_clear()
    assert one[0] == (
        "5m bars opening in [2026-01-05 00:00:00Z, 2026-01-05 04:00:00Z); volatility per 5m"
    )
    with psycopg.connect(db_url) as conn:
        (btc,) = load_summaries(conn, [BTC], "5m", T0, END)
    _assert_row(one[2], btc)
    assert [line.split()[0] for line in every[2:]] == ["BTC_USDC", "ETH_USDC", "TATA_INR"]
    assert every[2] == one[2]
    assert every[4].split()[1:] == ["-"] * 6 + ["0", "0.00", "0", "-", "-"]


def _assert_row(line: str, summary: MarketSummary) -> None:
    assert line.split() == list(summary.display().values())


def test_python_m_analytics_runs_the_report(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env["DATABASE_URL"] = db_url
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "--market",
            "ETH_USDC",
            "--start",
            "2026-01-05",
            "--end",
            "2026-01-05T02:00Z",
            "--interval",
            "1h",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Hour 0: 200,000 -> 200,150; hour 1: 199,900 -> 200,010. Open 2000.00, close 2000.10;
    # change 10 ticks = 0.005 %, a tie, to the even 0.00 %. Volume 4 x 3 lots = 0.012 ETH;
    # quote 30 x 800,060 = 24,001,800 atoms = 24.0018 USDC; VWAP 200,015 ticks (see above).
    assert lines[2].split()[:11] == [
        "ETH_USDC",
        "2000.00",
        "2001.50",
        "1999.00",
        "2000.10",
        "+0.10",
        "0.00%",
        "0.012",
        "24.001800",
        "4",
        "2000.150",
    ]
