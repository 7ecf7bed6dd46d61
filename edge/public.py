"""Routes anyone may call: markets, health and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Response

from edge.schemas import MarketView, TradeView
from edge.views import market_view

__all__ = ["HealthController", "MarketsController", "PublicTradesController"]

_PUBLIC = {"exclude_from_auth": True}


class MarketsController(Controller):
    path = "/api/v1"
    tags = ["market data"]  # noqa: RUF012
    opt = _PUBLIC

    @get("/markets")
    async def markets(self, request: Request[Any, Any, Any]) -> list[MarketView]:
        """Every market with its grid, limits and fees."""
        exchange = request.app.state.exchange
        return [
            market_view(spec, exchange.shards[symbol])
            for symbol, spec in sorted(exchange.config.markets.items())
        ]


_RECENT_TRADES = """
SELECT trade_id, price, quantity, quote_amount, taker_side,
       (extract(epoch from ts) * 1000)::bigint
FROM trades WHERE market = %s ORDER BY ts DESC, trade_id DESC LIMIT %s"""


class PublicTradesController(Controller):
    path = "/api/v1"
    tags = ["market data"]  # noqa: RUF012
    opt = _PUBLIC

    @get("/trades")
    async def trades(
        self,
        request: Request[Any, Any, Any],
        symbol: str = Parameter(min_length=3, max_length=32),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> list[TradeView]:
        """The market's most recent trades, newest first (as stored by the persist agent)."""
        exchange = request.app.state.exchange
        spec = exchange.market(symbol, field="symbol")
        async with request.app.state.db.connection() as conn:
            rows = await (await conn.execute(_RECENT_TRADES, (spec.symbol, limit))).fetchall()
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
        state = request.app.state
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
        ready = all(checks.values())
        return Response({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
