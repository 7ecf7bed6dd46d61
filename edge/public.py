"""Routes anyone may call: markets, health and readiness."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from litestar import Controller, MediaType, Request, get
from litestar.params import Parameter
from litestar.response import Response

from edge.openapi import errors
from edge.views import asset_view, market_view
from model import topics
from model.api import (
    AssetView,
    DepthView,
    KlineView,
    MarketView,
    StatusView,
    TickerView,
    TradeView,
)
from model.intervals import INTERVAL_PATTERN, INTERVAL_US, is_interval
from model.numbers import MarketSpec
from model.ticker import TICKER_DATA_FIELD, change_fraction, decode_ticker, ticker_push
from model.timestamps import from_seconds

__all__ = [
    "UNOFFERED",
    "HealthController",
    "MarketDataController",
    "MarketsController",
    "PublicTradesController",
    "SystemController",
]

_PUBLIC = {"exclude_from_auth": True}


class MarketsController(Controller):
    path = "/api/v1"
    tags = ["market data"]  # noqa: RUF012
    opt = _PUBLIC

    @get("/markets", responses=errors(429))
    async def markets(self, request: Request[Any, Any, Any]) -> list[MarketView]:
        """Every market with its grid, limits and fees (also as Backpack's ``filters``)."""
        exchange = request.app.state.exchange
        return [
            market_view(spec, exchange.shards[symbol])
            for symbol, spec in sorted(exchange.config.markets.items())
        ]

    @get("/market", responses=errors(400, 429))
    async def market(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
    ) -> MarketView:
        """One market, as ``/markets`` lists it."""
        exchange = request.app.state.exchange
        spec = exchange.market(symbol, field="symbol")
        return market_view(spec, exchange.shards[spec.symbol])

    @get("/assets", responses=errors(429))
    async def assets(self, request: Request[Any, Any, Any]) -> list[AssetView]:
        """Every asset, Backpack's shape (no chain tokens: funds come as test deposits)."""
        assets = request.app.state.exchange.config.assets
        return [asset_view(asset) for _, asset in sorted(assets.items())]


_RECENT_TRADES = """
SELECT trade_id, price, quantity, quote_amount, taker_side,
       (extract(epoch from ts) * 1000)::bigint
FROM trades WHERE market = %s ORDER BY ts DESC, trade_id DESC LIMIT %s OFFSET %s"""
#: Backpack's ``/trades/history`` pages by offset; deeper than this, ask by time (``/klines``).
MAX_TRADES_OFFSET = 1_000_000


class PublicTradesController(Controller):
    path = "/api/v1"
    tags = ["market data"]  # noqa: RUF012
    opt = _PUBLIC

    @get("/trades", responses=errors(400, 429))
    async def trades(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> list[TradeView]:
        """The market's most recent trades, newest first (as stored by the persist agent)."""
        return await _trades(request, symbol, limit, 0)

    @get("/trades/history", responses=errors(400, 429))
    async def history(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=MAX_TRADES_OFFSET, schema_extra={"minimum": 0}),
    ) -> list[TradeView]:
        """Older trades, newest first, ``offset`` trades back from the newest (Backpack's)."""
        return await _trades(request, symbol, limit, offset)


async def _trades(
    request: Request[Any, Any, Any], symbol: str, limit: int, offset: int
) -> list[TradeView]:
    """A page of a market's trades, newest first, ``offset`` back from the newest."""
    exchange = request.app.state.exchange
    spec = exchange.market(symbol, field="symbol")
    async with request.app.state.db.connection() as conn:
        rows = await (await conn.execute(_RECENT_TRADES, (spec.symbol, limit, offset))).fetchall()
    return [
        TradeView(
            id=trade_id,
            price=spec.format_price(price),
            quantity=spec.format_quantity(quantity),
            quote_quantity=spec.quote.format(quote),
            timestamp=ms,
            is_buyer_maker=taker_side == "sell",
        )
        for trade_id, price, quantity, quote, taker_side, ms in rows
    ]


MAX_SECONDS = 2**42 // 1000  # the year 2109, in seconds: a millisecond value is far beyond

_KLINES = """
SELECT open_time, open, high, low, close, volume, quote_volume, trades, closed
FROM candles
WHERE market = %s AND interval = %s AND open_time >= %s AND open_time < %s
ORDER BY open_time LIMIT %s"""


def _bar_time(moment: datetime) -> str:
    """A bar's start or end as Backpack writes it: UTC, ``"2026-01-05 00:01:00"``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ticker(spec: MarketSpec, raw: bytes | None) -> TickerView:
    """The REST view of the flow's last ``ticker@M`` push (``md:ticker:{market}``), field by
    field; a market the flow has not pushed a ticker for has had no trade."""
    push = decode_ticker(raw) if raw is not None else ticker_push(spec, None, 0, 0)
    return TickerView(
        symbol=spec.symbol,
        first_price=push.open,
        last_price=push.last,
        high=push.high,
        low=push.low,
        price_change=push.change,
        price_change_percent=change_fraction(push),
        volume=push.volume,
        quote_volume=push.quote_volume,
        trades=str(push.trades),
    )


class MarketDataController(Controller):
    path = "/api/v1"
    tags = ["market data"]  # noqa: RUF012
    opt = _PUBLIC

    @get("/depth", responses=errors(400, 429))
    async def depth(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> DepthView:
        """The L2 book as the market-data flow last published it, with ``lastUpdateId``: the
        best ``limit`` levels of each side, each side by ascending price, as Backpack's.

        Sync: buffer ``depth@M`` diffs, read this, drop diffs with ``u <= lastUpdateId``, apply
        the first with ``U <= lastUpdateId + 1 <= u``, then each whose ``U`` follows ``u``.
        """
        spec = request.app.state.exchange.market(symbol, field="symbol")
        raw: dict[bytes, bytes] = await request.app.state.redis.hgetall(
            topics.depth_book(spec.symbol)
        )
        bids: list[tuple[Decimal, str]] = []
        asks: list[tuple[Decimal, str]] = []
        for key, value in raw.items():
            side, _, price = key.decode().partition(":")
            if side in ("b", "a") and value != b"0":
                (bids if side == "b" else asks).append((Decimal(price), value.decode()))
        bids.sort()
        asks.sort()
        return DepthView(
            symbol=spec.symbol,
            last_update_id=raw.get(b"lastUpdateId", b"0").decode(),
            timestamp=int(raw.get(b"timestamp", b"0")),
            bids=[[str(p), q] for p, q in bids[-limit:]],
            asks=[[str(p), q] for p, q in asks[:limit]],
        )

    @get("/klines", responses=errors(400, 429))
    async def klines(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
        interval: str = Parameter(pattern=f"^({INTERVAL_PATTERN})$"),
        # Seconds, as Backpack's: a millisecond value is past the bound, a 400 naming the field.
        # Plain ints with defaults, not ``int | None``: Litestar would read "?startTime=null"
        # as None. ``schema_extra``: Litestar leaves ``ge=0`` out of the document (0 is falsy).
        start_time: int = Parameter(
            query="startTime",
            default=0,
            ge=0,
            le=MAX_SECONDS,
            description="Seconds since the epoch (not milliseconds)",
            schema_extra={"minimum": 0},
        ),
        end_time: int = Parameter(
            query="endTime",
            default=MAX_SECONDS,
            ge=0,
            le=MAX_SECONDS,
            description="Seconds since the epoch (not milliseconds)",
            schema_extra={"minimum": 0},
        ),
        limit: int = Parameter(default=500, ge=1, le=1000),
    ) -> list[KlineView]:
        """Candles of one interval opening in ``[startTime, endTime)``, oldest first, each with
        its ``start`` and ``end`` (UTC, ``"2026-01-05 00:01:00"``), as Backpack's."""
        assert is_interval(interval)  # the pattern admits only intervals
        spec = request.app.state.exchange.market(symbol, field="symbol")
        start, end = from_seconds(start_time), from_seconds(end_time)
        length = timedelta(microseconds=INTERVAL_US[interval])
        async with request.app.state.db.connection() as conn:
            rows = await (
                await conn.execute(_KLINES, (spec.symbol, interval, start, end, limit))
            ).fetchall()
        return [
            KlineView(
                start=_bar_time(opened),
                end=_bar_time(opened + length),
                open=spec.format_price(o),
                high=spec.format_price(h),
                low=spec.format_price(lo),
                close=spec.format_price(c),
                volume=spec.format_quantity(v),
                quote_volume=spec.quote.format(q),
                trades=str(n),
                closed=closed,
            )
            for opened, o, h, lo, c, v, q, n, closed in rows
        ]

    @get("/tickers", responses=errors(429))
    async def tickers(self, request: Request[Any, Any, Any]) -> list[TickerView]:
        """24-hour statistics of every market: the last ``ticker@M`` push of each."""
        specs = sorted(request.app.state.exchange.config.markets.items())
        async with request.app.state.redis.pipeline(transaction=False) as pipe:
            for symbol, _ in specs:
                pipe.hget(topics.ticker_book(symbol), TICKER_DATA_FIELD)
            raws: list[bytes | None] = await pipe.execute()
        return [_ticker(spec, raw) for (_, spec), raw in zip(specs, raws, strict=True)]

    @get("/ticker", responses=errors(400, 429))
    async def ticker(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
    ) -> TickerView:
        """24-hour statistics of one market, on event time: the last ``ticker@M`` push."""
        spec = request.app.state.exchange.market(symbol, field="symbol")
        raw = await request.app.state.redis.hget(topics.ticker_book(spec.symbol), TICKER_DATA_FIELD)
        return _ticker(spec, raw)


class HealthController(Controller):
    opt = _PUBLIC
    include_in_schema = False

    @get("/healthz")
    async def healthz(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """Redis, PostgreSQL and the reply readers all answer."""
        checks = await _readiness(request.app.state)
        ready = all(checks.values())
        return Response({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def _readiness(state: Any) -> dict[str, bool]:
    """Whether Redis, PostgreSQL and the matchers' reply readers answer."""
    checks: dict[str, bool] = {}
    try:
        checks["redis"] = bool(await state.redis.ping())
    except Exception:
        checks["redis"] = False
    try:
        async with state.db.connection() as conn:
            await conn.execute("SELECT 1")
        checks["postgres"] = True
    except Exception:
        checks["postgres"] = False
    checks["replies"] = state.exchange.gateway.ready
    return checks


#: Backpack's public routes for products this exchange does not run (perpetuals, lending,
#: prediction markets, stocks): answered as Backpack answers for none of them, an empty list, so
#: a Backpack client's start-up does not stop on a 404.
UNOFFERED = (
    "/markPrices", "/openInterest", "/fundingRates", "/borrowLend/markets",
    "/borrowLend/markets/history", "/collateral", "/prediction", "/prediction/tags",
    "/market-sessions", "/securities",
)  # fmt: skip


class SystemController(Controller):
    """Backpack's system routes: status, ping, server time; and the products we do not run."""

    path = "/api/v1"
    tags = ["system"]  # noqa: RUF012
    opt = _PUBLIC

    @get("/status", responses=errors(429))
    async def status(self, request: Request[Any, Any, Any]) -> StatusView:
        """``Ok``, or ``Maintenance`` with what does not answer (as ``/readyz`` checks it)."""
        checks = await _readiness(request.app.state)
        down = sorted(name for name, ok in checks.items() if not ok)
        if not down:
            return StatusView(status="Ok", message=None)
        return StatusView(status="Maintenance", message=f"not answering: {', '.join(down)}")

    @get("/ping", media_type=MediaType.TEXT, responses=errors(429))
    async def ping(self) -> str:
        """``pong``, as plain text."""
        return "pong"

    @get("/time", media_type=MediaType.TEXT, responses=errors(429))
    async def server_time(self) -> str:
        """The server's clock in milliseconds since the epoch, as plain text."""
        return str(time.time_ns() // 1_000_000)

    @get(list(UNOFFERED), responses=errors(429))
    async def unoffered(self) -> list[Any]:
        """Backpack lists perpetuals, lending and other products here; this exchange runs spot
        markets only, so each list is empty."""
        return []
