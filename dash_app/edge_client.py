"""A small synchronous client of the edge's REST API (``/api/v1``) for the Dash callbacks.

Two failures, two types:

- :class:`EdgeUnavailableError`: the edge did not answer (refused, timed out, dropped the
  connection) or answered 5xx. The page shows "Exchange unreachable — retrying", keeps its
  last data, and the next poll tries again; nothing else is needed to recover.
- :class:`EdgeError`: the edge answered 4xx with its ``{"error": {"code", "message"}}`` body,
  e.g. an order refused for insufficient funds. The page shows ``message`` to the user.

Timeouts are short (the page polls about once a second; a late answer is worth less than the
next one). The client holds no user state: each private call takes the caller's token, which
lives in the browser's session store, never in the server. Dash runs callbacks on several
threads, so each thread gets its own ``httpx.Client`` (and connection pool).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, cast

import httpx

from dash_app.types import Balance, Depth, Kline, Market, Order, Ticker, Token, Trade

__all__ = ["INTERVALS", "EdgeClient", "EdgeError", "EdgeUnavailableError"]

#: Candle intervals the edge serves (``GET /klines``), with their length in milliseconds.
INTERVALS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "1d": 86_400_000,
    "1w": 604_800_000,
}

_TIMEOUT = httpx.Timeout(3.0, connect=1.0)


class EdgeUnavailableError(Exception):
    """The edge cannot be reached or failed on its side (5xx): retry later."""


class EdgeError(Exception):
    """The edge refused a request (4xx); ``message`` is its explanation for the user."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class EdgeClient:
    """The REST calls the dashboard makes; ``base_url`` is the edge's root (no ``/api/v1``)."""

    def __init__(
        self,
        base_url: str,
        timeout: httpx.Timeout = _TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport  # tests pass an httpx.MockTransport
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                base_url=f"{self.base_url}/api/v1", timeout=self._timeout, transport=self._transport
            )
            self._local.client = client
        return client

    def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            response = self._client().request(
                method, path, params=params, json=body, headers=headers
            )
        except httpx.HTTPError as exc:  # connect/read errors, timeouts, protocol errors
            raise EdgeUnavailableError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise EdgeUnavailableError(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response)
        try:
            return response.json()
        except ValueError:
            raise EdgeUnavailableError(f"{method} {path}: the answer is not JSON") from None

    # Market data (public)

    def markets(self) -> list[Market]:
        """Every market with its grid (tick and step sizes) and fees."""
        return cast("list[Market]", self._request("GET", "/markets"))

    def depth(self, symbol: str, limit: int = 100) -> Depth:
        """The L2 book, best levels first."""
        return cast(
            "Depth", self._request("GET", "/depth", params={"symbol": symbol, "limit": limit})
        )

    def trades(self, symbol: str, limit: int = 50) -> list[Trade]:
        """The most recent trades, newest first."""
        return cast(
            "list[Trade]",
            self._request("GET", "/trades", params={"symbol": symbol, "limit": limit}),
        )

    def ticker(self, symbol: str) -> Ticker:
        """24-hour statistics of one market."""
        return cast("Ticker", self._request("GET", "/ticker", params={"symbol": symbol}))

    def tickers(self) -> list[Ticker]:
        """24-hour statistics of every market."""
        return cast("list[Ticker]", self._request("GET", "/tickers"))

    def klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[Kline]:
        """Candles of one interval, oldest first, open time in ``[start_ms, end_ms)``."""
        params: dict[str, str | int] = {"symbol": symbol, "interval": interval, "limit": limit}
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        return cast("list[Kline]", self._request("GET", "/klines", params=params))

    # Accounts and trading (private: each takes the caller's token)

    def signup(self, username: str, password: str) -> Token:
        """Create an account and sign it in."""
        body = {"username": username, "password": password}
        return cast("Token", self._request("POST", "/signup", body=body))

    def signin(self, username: str, password: str) -> Token:
        """Exchange a username and password for a token."""
        body = {"username": username, "password": password}
        return cast("Token", self._request("POST", "/signin", body=body))

    def balances(self, token: str) -> dict[str, Balance]:
        """Available and locked balance per asset."""
        return cast("dict[str, Balance]", self._request("GET", "/balances", token=token))

    def onramp(self, token: str, asset: str, amount: str) -> dict[str, Balance]:
        """Deposit test funds (``amount`` as the user typed it); returns the new balances."""
        body = {"asset": asset, "amount": amount}
        return cast("dict[str, Balance]", self._request("POST", "/onramp", token=token, body=body))

    def place_order(self, token: str, order: Mapping[str, Any]) -> Order:
        """``POST /order`` with the body as given (prices and quantities as typed strings)."""
        return cast("Order", self._request("POST", "/order", token=token, body=order))

    def open_orders(self, token: str, market: str | None = None) -> list[Order]:
        """Your open orders in one market, or in all."""
        params = {"market": market} if market else None
        return cast("list[Order]", self._request("GET", "/orders/open", token=token, params=params))

    def cancel_order(self, token: str, order_id: str) -> Order:
        """Cancel one of your open orders."""
        return cast("Order", self._request("DELETE", f"/order/{order_id}", token=token))


def _refusal(response: httpx.Response) -> EdgeError:
    """The ``EdgeError`` a 4xx answer stands for (its JSON ``error`` if it has one)."""
    code, message, field = f"HTTP_{response.status_code}", response.reason_phrase, None
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = str(error.get("code", code))
        message = str(error.get("message", message))
        field = error.get("field")
    return EdgeError(response.status_code, code, message, field if isinstance(field, str) else None)
