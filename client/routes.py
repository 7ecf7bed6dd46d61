"""Every REST route of ``/api/v1``, described once for both clients (sans I/O).

A route builder returns a :class:`Call`: the method, the path, the query, the encoded body,
whether the caller must be signed in, and how to decode the 2xx answer into the API's own types
(``model.api``, the structs the edge encodes). :class:`client.Client` and
:class:`client.AsyncClient` only carry calls over HTTP; neither spells a path or a shape again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote as url_quote

import msgspec

from model.api import (
    BalanceView,
    CancelAllResponse,
    DepthView,
    FillsPage,
    KlineView,
    MarketView,
    OrderRequest,
    OrdersPage,
    OrderView,
    QuoteRequest,
    QuoteView,
    TickerView,
    TokenView,
    TradeView,
)
from model.intervals import IntervalName

__all__ = [
    "API_PREFIX",
    "Call",
    "balances",
    "cancel",
    "cancel_all",
    "depth",
    "klines",
    "markets",
    "onramp",
    "open_orders",
    "order",
    "place",
    "quote",
    "signin",
    "signup",
    "ticker",
    "tickers",
    "trades",
]

T = TypeVar("T")

#: Where the REST API lives under the edge's root URL.
API_PREFIX = "/api/v1"

Params = dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to the API and the type of its 2xx answer."""

    method: str
    path: str
    """Under :data:`API_PREFIX`."""
    decode: Callable[[bytes], T]
    """The 2xx body (JSON) into the API's type."""
    params: Params | None = None
    body: bytes | None = None
    """JSON, already encoded (decimals as strings)."""
    private: bool = False
    """The caller must be signed in (a bearer token)."""
    idempotent: bool = True
    """Sending it twice does no more than once, so a client may retry it on its own. Placing an
    order, depositing and signing up are not: a retry after a lost answer could do it twice."""


def _decoder(kind: type[T]) -> Callable[[bytes], T]:
    return msgspec.json.Decoder(kind).decode


_markets = _decoder(list[MarketView])
_depth = _decoder(DepthView)
_trades = _decoder(list[TradeView])
_ticker = _decoder(TickerView)
_tickers = _decoder(list[TickerView])
_klines = _decoder(list[KlineView])
_token = _decoder(TokenView)
_balances = _decoder(dict[str, BalanceView])
_order = _decoder(OrderView)
_orders = _decoder(list[OrderView])
_canceled = _decoder(CancelAllResponse)
_orders_page = _decoder(OrdersPage)
_fills_page = _decoder(FillsPage)
_quote = _decoder(QuoteView)
_json = msgspec.json.Encoder().encode


def _segment(text: str) -> str:
    """``text`` as one path segment: ``"../orders"`` must not become another route."""
    return url_quote(text, safe="")


def _present(params: dict[str, str | int | None]) -> Params:
    return {key: value for key, value in params.items() if value is not None}


def _market_param(market: str | None) -> Params | None:
    return {"market": market} if market is not None else None


# --- market data (public) -----------------------------------------------------------------


def markets() -> Call[list[MarketView]]:
    """Every market with its grid (tick and step sizes), limits and fees."""
    return Call("GET", "/markets", _markets)


def depth(symbol: str, limit: int = 100) -> Call[DepthView]:
    """The L2 book (each side by ascending price, as Backpack's), with its ``lastUpdateId``."""
    return Call("GET", "/depth", _depth, {"symbol": symbol, "limit": limit})


def trades(symbol: str, limit: int = 100) -> Call[list[TradeView]]:
    """The most recent trades, newest first."""
    return Call("GET", "/trades", _trades, {"symbol": symbol, "limit": limit})


def ticker(symbol: str) -> Call[TickerView]:
    """24-hour statistics of one market."""
    return Call("GET", "/ticker", _ticker, {"symbol": symbol})


def tickers() -> Call[list[TickerView]]:
    """24-hour statistics of every market."""
    return Call("GET", "/tickers", _tickers)


def klines(
    symbol: str,
    interval: IntervalName,
    start_s: int | None = None,
    end_s: int | None = None,
    limit: int = 500,
) -> Call[list[KlineView]]:
    """Candles of one interval, oldest first, opening in ``[start_s, end_s)``: seconds since
    the epoch, as Backpack's ``/klines`` takes them."""
    params: Params = {"symbol": symbol, "interval": interval, "limit": limit}
    if start_s is not None:
        params["startTime"] = start_s
    if end_s is not None:
        params["endTime"] = end_s
    return Call("GET", "/klines", _klines, params)


# --- accounts -------------------------------------------------------------------------------


def signup(username: str, password: str) -> Call[TokenView]:
    """Create an account; the answer signs it in."""
    body = _json({"username": username, "password": password})
    return Call("POST", "/signup", _token, body=body, idempotent=False)


def signin(username: str, password: str) -> Call[TokenView]:
    """Exchange a username and password for a token."""
    return Call("POST", "/signin", _token, body=_json({"username": username, "password": password}))


def balances() -> Call[dict[str, BalanceView]]:
    """Available and locked balance per asset."""
    return Call("GET", "/balances", _balances, private=True)


def onramp(asset: str, amount: str | Decimal) -> Call[dict[str, BalanceView]]:
    """Deposit test funds (an exact decimal amount of ``asset``); answers the new balances."""
    body = _json({"asset": asset, "amount": amount})
    return Call("POST", "/onramp", _balances, body=body, private=True, idempotent=False)


# --- trading --------------------------------------------------------------------------------


def place(order: OrderRequest | Mapping[str, Any]) -> Call[OrderView]:
    """Place an order: an :class:`OrderRequest`, or its JSON fields (``market``, ``kind``...).

    With a ``clientOrderId`` the call is idempotent (a resend within the exchange's retry window
    answers the first order and never places a second), so it is retried like a read; without
    one it is not, since a resend after a lost answer could trade twice.
    """
    client_id = (
        order.client_order_id if isinstance(order, OrderRequest) else order.get("clientOrderId")
    )
    return Call(
        "POST", "/order", _order, body=_json(order), private=True, idempotent=bool(client_id)
    )


def quote(request: QuoteRequest | Mapping[str, Any]) -> Call[QuoteView]:
    """What a market order would get now, without placing it."""
    return Call("POST", "/order/quote", _quote, body=_json(request), private=True)


def order(order_id: str) -> Call[OrderView]:
    """One of the caller's orders, open or recently closed."""
    return Call("GET", f"/order/{_segment(order_id)}", _order, private=True)


def cancel(order_id: str) -> Call[OrderView]:
    """Cancel one of the caller's open orders (404 ``UNKNOWN_ORDER`` once it is closed)."""
    return Call("DELETE", f"/order/{_segment(order_id)}", _order, private=True)


def cancel_all(market: str | None = None) -> Call[CancelAllResponse]:
    """Cancel the caller's open orders in one market, or in all."""
    return Call("DELETE", "/orders", _canceled, _market_param(market), private=True)


def open_orders(market: str | None = None) -> Call[list[OrderView]]:
    """The caller's open orders in one market, or in all."""
    return Call("GET", "/orders/open", _orders, _market_param(market), private=True)


def order_history(
    market: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Call[OrdersPage]:
    """A page of the caller's orders, open and closed, newest first (``cursor``: the previous
    page's ``next_cursor``)."""
    params = {"market": market, "status": status, "limit": limit, "cursor": cursor}
    return Call("GET", "/orders/history", _orders_page, _present(params), private=True)


def fills(
    market: str | None = None, limit: int = 100, cursor: str | None = None
) -> Call[FillsPage]:
    """A page of the caller's fills, newest first."""
    params = {"market": market, "limit": limit, "cursor": cursor}
    return Call("GET", "/fills", _fills_page, _present(params), private=True)
