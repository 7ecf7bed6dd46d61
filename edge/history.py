"""History routes: your orders (``GET /orders/history``) and your fills (``GET /fills``), from
PostgreSQL; and the same in Backpack's dialect (``GET /wapi/v1/history/orders`` and ``/fills``).

Both read what the persist agent stored (so an order placed a moment ago appears once its events
are stored, a few milliseconds later), only the caller's, newest first, a page at a time.

Our paging is by *cursor*: each page ends with ``nextCursor`` (``null`` on the last), an opaque
string that asks for the rows after the last one shown, so rows arriving meanwhile neither repeat
nor skip a row. A cursor is signed for the user and the route it came from: another user's cursor,
one for the other route, or an altered one is a 400 ``INVALID_CURSOR``. Backpack's routes page by
``offset`` (rows arriving meanwhile shift the pages), with its field names and shapes
(``model.backpack``). Both dialects run the same two queries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.security.jwt import Token
from psycopg_pool import AsyncConnectionPool

from edge.auth import AuthUser
from edge.errors import ApiError
from edge.openapi import errors
from model.api import (
    AccountFillView,
    BackpackFillView,
    BackpackHistoryOrderView,
    FillsPage,
    OrdersPage,
    OrderView,
)
from model.backpack import fill_object, history_order
from model.config import MarketConfig
from model.enums import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from model.events import OrderState
from model.fills import account_fill
from model.ids import OrderId, UserId
from model.timestamps import from_micros, from_millis, to_micros
from model.views import order_view

__all__ = [
    "CURSOR_PATTERN",
    "MAX_MS",
    "MAX_OFFSET",
    "ORDER_STATUSES",
    "BackpackHistoryController",
    "HistoryController",
    "open_cursor",
    "seal_cursor",
    "state_from_row",
    "stored_order",
]

AuthRequest = Request[AuthUser, Token, Any]
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant PostgreSQL dates
ORDER_STATUSES = "|".join(s.value for s in OrderStatus)

_ORDERS = """
SELECT order_id, market, side, type, tif, price, quantity, remaining, executed_qty,
       executed_quote, status, client_order_id, post_only, stp,
       (extract(epoch from created_at) * 1000000)::bigint
FROM orders
WHERE user_id = %(user)s
  AND (%(market)s::text IS NULL OR market = %(market)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(order_id)s::bigint IS NULL OR order_id = %(order_id)s)
  AND created_at >= %(start)s AND created_at < %(end)s
  AND (created_at, order_id) < (%(after_ts)s, %(after_id)s)
ORDER BY created_at DESC, order_id DESC
LIMIT %(limit)s OFFSET %(offset)s"""

# As maker and as taker: two index scans (a user is never both sides of one trade).
_FILLS = """
SELECT * FROM (
    (SELECT market, trade_id, ts, price, quantity, quote_amount, taker_side, maker_order_id,
            taker_order_id, maker_user_id, maker_fee, taker_fee
     FROM trades
     WHERE maker_user_id = %(user)s
       AND (%(market)s::text IS NULL OR market = %(market)s)
       AND (%(order_id)s::bigint IS NULL OR maker_order_id = %(order_id)s)
       AND ts >= %(start)s AND ts < %(end)s
       AND (ts, market, trade_id) < (%(after_ts)s, %(after_market)s, %(after_id)s)
     ORDER BY ts DESC, market DESC, trade_id DESC LIMIT %(limit)s + %(offset)s)
    UNION ALL
    (SELECT market, trade_id, ts, price, quantity, quote_amount, taker_side, maker_order_id,
            taker_order_id, maker_user_id, maker_fee, taker_fee
     FROM trades
     WHERE taker_user_id = %(user)s
       AND (%(market)s::text IS NULL OR market = %(market)s)
       AND (%(order_id)s::bigint IS NULL OR taker_order_id = %(order_id)s)
       AND ts >= %(start)s AND ts < %(end)s
       AND (ts, market, trade_id) < (%(after_ts)s, %(after_market)s, %(after_id)s)
     ORDER BY ts DESC, market DESC, trade_id DESC LIMIT %(limit)s + %(offset)s)
) mine
ORDER BY ts DESC, market DESC, trade_id DESC
LIMIT %(limit)s OFFSET %(offset)s"""
# Past every real row: the first page's "after".
_NEWEST_US = MAX_MS * 1000 + 999
_NEWEST_ID = 2**63 - 1
_NEWEST_MARKET = "\U0010ffff"

#: What a cursor looks like (what makes it valid is its signature, which no schema can state).
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
_cursor_encoder = msgspec.msgpack.Encoder()
_cursor_decoder = msgspec.msgpack.Decoder(list[int | str])


_STORED_ORDER = """
SELECT market, side, type, tif, price, quantity, remaining, executed_qty, executed_quote, status,
       client_order_id, post_only, stp, (extract(epoch from created_at) * 1000000)::bigint
FROM orders WHERE order_id = %s AND user_id = %s"""


async def stored_order(
    pool: AsyncConnectionPool, order_id: OrderId, user: UserId
) -> OrderState | None:
    """An order as the persist agent stored it (only the owner's)."""
    async with pool.connection() as conn:
        row = await (await conn.execute(_STORED_ORDER, (order_id, user))).fetchone()
    return None if row is None else state_from_row(order_id, user, row)


def state_from_row(order_id: int, user: int, row: Sequence[Any]) -> OrderState:
    """An ``orders`` row (the columns of ``_STORED_ORDER``, in order) as the engine's view."""
    (market, side, type_, tif, price, quantity, remaining, executed, executed_quote, status,
     client_order_id, post_only, stp, created_us) = row  # fmt: skip
    return OrderState(
        market=market,
        order_id=OrderId(order_id),
        user_id=UserId(user),
        side=Side(side),
        type=OrderType(type_),
        tif=TimeInForce(tif),
        price=price,
        quantity=quantity,
        remaining=remaining,
        executed_quantity=executed,
        executed_quote=executed_quote,
        status=OrderStatus(status),
        client_order_id=client_order_id,
        post_only=post_only,
        ts=created_us,
        stp=SelfTradePrevention(stp),
    )


def _invalid_cursor() -> ApiError:
    return ApiError(400, "INVALID_CURSOR", "cursor is not one this route gave you", field="cursor")


def seal_cursor(secret: str, route: str, user: int, position: list[int | str]) -> str:
    """An opaque cursor for ``user`` on ``route`` pointing after ``position``."""
    body = _cursor_encoder.encode([route, user, *position])
    tag = hmac.new(secret.encode(), body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(tag + body).decode().rstrip("=")


def open_cursor(secret: str, route: str, user: int, cursor: str) -> list[int | str]:
    """The position a cursor of :func:`seal_cursor` holds; 400 unless it is this user's and
    this route's, unaltered."""
    invalid = _invalid_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    tag, body = raw[:16], raw[16:]
    if not hmac.compare_digest(tag, hmac.new(secret.encode(), body, hashlib.sha256).digest()[:16]):
        raise invalid
    try:
        decoded = _cursor_decoder.decode(body)
    except msgspec.DecodeError:
        raise invalid from None
    if decoded[:2] != [route, user]:
        raise invalid
    return decoded[2:]


def _window(start_time: int, end_time: int, field: str = "startTime") -> tuple[datetime, datetime]:
    if start_time > end_time:
        raise ApiError(400, "INVALID_RANGE", f"{field} is after the end", field=field)
    # Both ends inclusive, to the millisecond: rows keep microseconds.
    return from_millis(start_time), from_millis(min(end_time + 1, MAX_MS))


def _market(config: MarketConfig, market: str | None, field: str = "market") -> str | None:
    if market is None:
        return None
    spec = config.market(market)
    if spec is None:
        raise ApiError(400, "INVALID_MARKET", f"unknown market {market!r}", field=field)
    return spec.symbol


def _order_id(raw: str | None) -> int | None:
    """A history filter's ``orderId`` (its pattern is checked by the route's parameter)."""
    return None if raw is None else min(int(raw), _NEWEST_ID)


class _Query(msgspec.Struct, frozen=True, kw_only=True):
    """What both history queries take, in either dialect."""

    user: int
    market: str | None
    start: datetime
    end: datetime
    limit: int
    offset: int = 0
    order_id: int | None = None


async def _order_views(
    request: AuthRequest, query: _Query, status: str | None, after: tuple[int, int]
) -> tuple[list[OrderView], list[Any]]:
    """The caller's orders, newest first (``limit + 1`` of them, to tell a last page), after
    ``after`` (created µs, order id); and the stored rows they came from."""
    params = {
        **msgspec.structs.asdict(query), "status": status,
        "after_ts": from_micros(after[0]), "after_id": after[1],
    }  # fmt: skip
    pool: AsyncConnectionPool = request.app.state.db
    async with pool.connection() as conn:
        rows = await (await conn.execute(_ORDERS, params)).fetchall()
    config: MarketConfig = request.app.state.exchange.config
    views = []
    for row in rows:
        stored = state_from_row(row[0], query.user, row[1:])
        views.append(order_view(config.markets[stored.market], stored))
    return views, rows


async def _fill_views(
    request: AuthRequest, query: _Query, after: list[int | str]
) -> tuple[list[AccountFillView], list[list[int | str]]]:
    """The caller's fills, newest first, after ``after`` (µs, market, trade id); and each one's
    position (for a cursor)."""
    params = {
        **msgspec.structs.asdict(query), "after_ts": from_micros(int(after[0])),
        "after_market": after[1], "after_id": after[2],
    }  # fmt: skip
    pool: AsyncConnectionPool = request.app.state.db
    async with pool.connection() as conn:
        rows = await (await conn.execute(_FILLS, params)).fetchall()
    config: MarketConfig = request.app.state.exchange.config
    views: list[AccountFillView] = []
    positions: list[list[int | str]] = []
    for (symbol, trade_id, ts, price, quantity, quote_amount, taker_side, maker_order_id,
         taker_order_id, maker_user_id, maker_fee, taker_fee) in rows:  # fmt: skip
        ts_us = to_micros(ts)
        record = (
            trade_id, ts_us, price, quantity, quote_amount, Side(taker_side),
            maker_order_id, taker_order_id, maker_user_id, maker_fee, taker_fee,
        )  # fmt: skip
        views.append(account_fill(config.markets[symbol], record, query.user))
        positions.append([ts_us, symbol, trade_id])
    return views, positions


_Limit = Parameter(default=100, ge=1, le=1000)
_Cursor = Parameter(default=None, min_length=1, max_length=200, pattern=CURSOR_PATTERN)
_MarketParam = Parameter(default=None, min_length=3, max_length=32)


def _start(query: str = "startTime") -> Any:
    return Parameter(query=query, default=0, ge=0, le=MAX_MS, schema_extra={"minimum": 0})


def _end(query: str = "endTime") -> Any:
    return Parameter(query=query, default=MAX_MS, ge=0, le=MAX_MS, schema_extra={"minimum": 0})


class HistoryController(Controller):
    path = "/api/v1"
    tags = ["history"]  # noqa: RUF012

    @get("/orders/history", responses=errors(400, 401))
    async def orders(
        self,
        request: AuthRequest,
        market: str | None = _MarketParam,
        status: str | None = Parameter(default=None, pattern=f"^({ORDER_STATUSES})$"),
        start_time: int = _start(),
        end_time: int = _end(),
        limit: int = _Limit,
        cursor: str | None = _Cursor,
    ) -> OrdersPage:
        """Your orders, open and closed, newest first, a page at a time (``startTime``/
        ``endTime`` in ms, both inclusive, on when the order was placed)."""
        state = request.app.state
        user = request.user.id
        secret = state.settings.jwt_secret
        after = (_NEWEST_US, _NEWEST_ID)
        if cursor is not None:
            position = open_cursor(secret, "orders", user, cursor)
            if len(position) != 2 or not all(isinstance(p, int) for p in position):
                raise _invalid_cursor()
            after = (int(position[0]), int(position[1]))
        start, end = _window(start_time, end_time)
        query = _Query(
            user=user, market=_market(state.exchange.config, market), start=start, end=end,
            limit=limit + 1,
        )  # fmt: skip
        views, rows = await _order_views(request, query, status, after)
        following = None
        if len(rows) > limit:
            last = rows[limit - 1]
            following = seal_cursor(secret, "orders", user, [last[-1], last[0]])
        return OrdersPage(orders=views[:limit], next_cursor=following)

    @get("/fills", responses=errors(400, 401))
    async def fills(
        self,
        request: AuthRequest,
        market: str | None = _MarketParam,
        start_time: int = _start(),
        end_time: int = _end(),
        limit: int = _Limit,
        cursor: str | None = _Cursor,
    ) -> FillsPage:
        """Your trades, newest first, each with your order, your side, your role (maker or
        taker) and the fee you paid (``startTime``/``endTime`` in ms, both inclusive)."""
        state = request.app.state
        user = request.user.id
        secret = state.settings.jwt_secret
        after: list[int | str] = [_NEWEST_US, _NEWEST_MARKET, _NEWEST_ID]
        if cursor is not None:
            after = open_cursor(secret, "fills", user, cursor)
            if [type(p) for p in after] != [int, str, int]:
                raise _invalid_cursor()
        start, end = _window(start_time, end_time)
        query = _Query(
            user=user, market=_market(state.exchange.config, market), start=start, end=end,
            limit=limit + 1,
        )  # fmt: skip
        views, positions = await _fill_views(request, query, after)
        following = None
        if len(views) > limit:
            following = seal_cursor(secret, "fills", user, positions[limit - 1])
        return FillsPage(fills=views[:limit], next_cursor=following)


#: Backpack's history pages by offset; this bounds how far back (the rows skipped are read).
MAX_OFFSET = 100_000
_Offset = Parameter(default=0, ge=0, le=MAX_OFFSET)
_OrderIdParam = Parameter(query="orderId", default=None, pattern=r"^[0-9]{1,19}$")
_SymbolParam = Parameter(default=None, min_length=3, max_length=32)
_SortDirection = Parameter(
    query="sortDirection",
    default="Desc",
    description="Newest first (Desc) is the only order offered",
)


class BackpackHistoryController(Controller):
    """Backpack's history routes, on its paths: arrays in its shapes, paged by offset."""

    path = "/wapi/v1/history"
    tags = ["history"]  # noqa: RUF012

    @get("/orders", responses=errors(400, 401))
    async def orders(
        self,
        request: AuthRequest,
        symbol: str | None = _SymbolParam,
        order_id: str | None = _OrderIdParam,
        limit: int = _Limit,
        offset: int = _Offset,
        sort_direction: Literal["Desc"] = _SortDirection,
    ) -> list[BackpackHistoryOrderView]:
        """Backpack's order history: your orders, open and closed, newest first."""
        query = _Query(
            user=request.user.id, market=_market(request.app.state.exchange.config, symbol,
            "symbol"), start=from_millis(0), end=from_millis(MAX_MS), limit=limit, offset=offset,
            order_id=_order_id(order_id),
        )  # fmt: skip
        views, _ = await _order_views(request, query, None, (_NEWEST_US, _NEWEST_ID))
        return [history_order(view) for view in views]

    @get("/fills", responses=errors(400, 401))
    async def fills(
        self,
        request: AuthRequest,
        symbol: str | None = _SymbolParam,
        order_id: str | None = _OrderIdParam,
        start_time: int = _start("from"),
        end_time: int = _end("to"),
        limit: int = _Limit,
        offset: int = _Offset,
        sort_direction: Literal["Desc"] = _SortDirection,
    ) -> list[BackpackFillView]:
        """Backpack's fill history: your trades, newest first (``from``/``to`` in ms, both
        inclusive)."""
        start, end = _window(start_time, end_time, "from")
        query = _Query(
            user=request.user.id, market=_market(request.app.state.exchange.config, symbol,
            "symbol"), start=start, end=end, limit=limit, offset=offset,
            order_id=_order_id(order_id),
        )  # fmt: skip
        views, _ = await _fill_views(request, query, [_NEWEST_US, _NEWEST_MARKET, _NEWEST_ID])
        return [fill_object(view) for view in views]
