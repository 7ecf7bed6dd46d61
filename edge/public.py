"""Routes anyone may call: markets, health and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Response

from edge.schemas import MarketView
from edge.views import market_view

__all__ = ["HealthController", "MarketsController"]

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
