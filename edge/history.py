"""History routes: your orders (``GET /orders``) and your fills (``GET /fills``), from PostgreSQL.

Both read what the persist agent stored (so an order placed a moment ago appears once its events
are stored, a few milliseconds later), only the caller's, newest first, a page at a time.

Paging is by *cursor*, not offset: each page ends with ``nextCursor`` (``null`` on the last), an
opaque string that asks for the rows after the last one shown, so rows arriving meanwhile neither
repeat nor skip a row. A cursor is signed for the user and the route it came from: another user's
cursor, one for the other route, or an altered one is a 400 ``INVALID_CURSOR``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.security.jwt import Token
from psycopg_pool import AsyncConnectionPool

from edge.auth import AuthUser
from edge.errors import ApiError
from edge.openapi import errors
from edge.views import order_view
from model.api import AccountFillView, FillsPage, OrdersPage, OrderView
from model.config import MarketConfig
from model.enums import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from model.events import OrderState
from model.fills import account_fill
from model.ids import OrderId, UserId
from model.timestamps import from_micros, from_millis, to_micros

__all__ = [
    "CURSOR_PATTERN",
    "MAX_MS",
    "ORDER_STATUSES",
    "HistoryController",
    "open_cursor",
    "orders_page",
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
  AND created_at >= %(start)s AND created_at < %(end)s
  AND (created_at, order_id) < (%(after_ts)s, %(after_id)s)
ORDER BY created_at DESC, order_id DESC
LIMIT %(limit)s"""

# As maker and as taker: two index scans (a user is never both sides of one trade).
_FILLS = """
SELECT * FROM (
    (SELECT market, trade_id, ts, price, quantity, quote_amount, taker_side, maker_order_id,
            taker_order_id, maker_user_id, maker_fee, taker_fee
     FROM trades
     WHERE maker_user_id = %(user)s
       AND (%(market)s::text IS NULL OR market = %(market)s)
       AND ts >= %(start)s AND ts < %(end)s
       AND (ts, market, trade_id) < (%(after_ts)s, %(after_market)s, %(after_id)s)
     ORDER BY ts DESC, market DESC, trade_id DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT market, trade_id, ts, price, quantity, quote_amount, taker_side, maker_order_id,
            taker_order_id, maker_user_id, maker_fee, taker_fee
     FROM trades
     WHERE taker_user_id = %(user)s
       AND (%(market)s::text IS NULL OR market = %(market)s)
       AND ts >= %(start)s AND ts < %(end)s
       AND (ts, market, trade_id) < (%(after_ts)s, %(after_market)s, %(after_id)s)
     ORDER BY ts DESC, market DESC, trade_id DESC LIMIT %(limit)s)
) mine
ORDER BY ts DESC, market DESC, trade_id DESC
LIMIT %(limit)s"""
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


def _window(start_time: int, end_time: int) -> tuple[datetime, datetime]:
    if start_time > end_time:
        raise ApiError(400, "INVALID_RANGE", "startTime is after endTime", field="startTime")
    # Both ends inclusive, to the millisecond: rows keep microseconds.
    return from_millis(start_time), from_millis(min(end_time + 1, MAX_MS))


def _market(config: MarketConfig, market: str | None) -> str | None:
    if market is None:
        return None
    spec = config.market(market)
    if spec is None:
        raise ApiError(400, "INVALID_MARKET", f"unknown market {market!r}", field="market")
    return spec.symbol


async def orders_page(
    request: AuthRequest,
    market: str | None,
    status: str | None,
    start_time: int,
    end_time: int,
    limit: int,
    cursor: str | None,
) -> OrdersPage:
    """``GET /orders`` (routed with ``DELETE /orders`` in :mod:`edge.trading`, one handler for
    both methods of the path)."""
    state = request.app.state
    user = request.user.id
    secret = state.settings.jwt_secret
    after_us, after_id = _NEWEST_US, _NEWEST_ID
    if cursor is not None:
        position = open_cursor(secret, "orders", user, cursor)
        if len(position) != 2 or not all(isinstance(p, int) for p in position):
            raise _invalid_cursor()
        after_us, after_id = int(position[0]), int(position[1])
    start, end = _window(start_time, end_time)
    params = {
        "user": user, "market": _market(state.exchange.config, market), "status": status,
        "start": start, "end": end, "after_ts": from_micros(after_us), "after_id": after_id,
        "limit": limit + 1,
    }  # fmt: skip
    pool: AsyncConnectionPool = state.db
    async with pool.connection() as conn:
        rows = await (await conn.execute(_ORDERS, params)).fetchall()
    config: MarketConfig = state.exchange.config
    views: list[OrderView] = []
    for row in rows[:limit]:
        stored = state_from_row(row[0], user, row[1:])
        views.append(order_view(config.markets[stored.market], stored))
    following = None
    if len(rows) > limit:
        last = rows[limit - 1]
        following = seal_cursor(secret, "orders", user, [last[-1], last[0]])
    return OrdersPage(orders=views, next_cursor=following)


class HistoryController(Controller):
    path = "/api/v1"
    tags = ["history"]  # noqa: RUF012

    @get("/fills", responses=errors(400, 401))
    async def fills(
        self,
        request: AuthRequest,
        market: str | None = Parameter(default=None, min_length=3, max_length=32),
        start_time: int = Parameter(
            query="startTime", default=0, ge=0, le=MAX_MS, schema_extra={"minimum": 0}
        ),
        end_time: int = Parameter(
            query="endTime", default=MAX_MS, ge=0, le=MAX_MS, schema_extra={"minimum": 0}
        ),
        limit: int = Parameter(default=100, ge=1, le=1000),
        cursor: str | None = Parameter(
            default=None, min_length=1, max_length=200, pattern=CURSOR_PATTERN
        ),
    ) -> FillsPage:
        """Your trades, newest first, each with your order, your side, your role (maker or
        taker) and the fee you paid (``startTime``/``endTime`` in ms, both inclusive)."""
        state = request.app.state
        user = request.user.id
        secret = state.settings.jwt_secret
        after: list[int | str] = [_NEWEST_US, _NEWEST_MARKET, _NEWEST_ID]
        if cursor is not None:
            after = open_cursor(secret, "fills", user, cursor)
            kinds = [type(p) for p in after]
            if kinds != [int, str, int]:
                raise _invalid_cursor()
        start, end = _window(start_time, end_time)
        params = {
            "user": user, "market": _market(state.exchange.config, market), "start": start,
            "end": end, "after_ts": from_micros(int(after[0])), "after_market": after[1],
            "after_id": after[2], "limit": limit + 1,
        }  # fmt: skip
        pool: AsyncConnectionPool = state.db
        async with pool.connection() as conn:
            rows = await (await conn.execute(_FILLS, params)).fetchall()
        config: MarketConfig = state.exchange.config
        views: list[AccountFillView] = []
        positions: list[list[int | str]] = []
        for (symbol, trade_id, ts, price, quantity, quote_amount, taker_side, maker_order_id,
             taker_order_id, maker_user_id, maker_fee, taker_fee) in rows:  # fmt: skip
            ts_us = to_micros(ts)
            record = (
                trade_id, ts_us, price, quantity, quote_amount, Side(taker_side),
                maker_order_id, taker_order_id, maker_user_id, maker_fee, taker_fee,
            )  # fmt: skip
            views.append(account_fill(config.markets[symbol], record, user))
            positions.append([ts_us, symbol, trade_id])
        following = None
        if len(views) > limit:
            following = seal_cursor(secret, "fills", user, positions[limit - 1])
        return FillsPage(fills=views[:limit], next_cursor=following)
