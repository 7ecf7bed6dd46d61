"""Trading routes: orders, quotes, balances, on-ramp. Each becomes one matcher command.

Every amount is checked against the market's grid here, before anything reaches the matcher;
the matcher checks again (it trusts no one) and its rejections come back as 4xx errors.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from litestar import Controller, HttpMethod, Request, get, post, route
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter
from litestar.security.jwt import Token
from psycopg_pool import AsyncConnectionPool

from edge.auth import AuthUser
from edge.errors import ApiError
from edge.gateway import Answer, MatcherGateway, MatcherTimeoutError, MatcherUnavailableError
from edge.history import CURSOR_PATTERN, MAX_MS, ORDER_STATUSES, orders_page, stored_order
from edge.openapi import errors
from edge.request import invalid
from edge.views import order_placed, order_view, quote_view, raise_if_rejected
from model import stages
from model.api import (
    BalanceView,
    CancelAllResponse,
    OnrampRequest,
    OrderRequest,
    OrdersPage,
    OrderView,
    QuoteRequest,
    QuoteView,
)
from model.commands import (
    Balances,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    GetOrder,
    OpenOrders,
    PlaceOrder,
    Quote,
)
from model.config import MarketConfig
from model.enums import OrderType
from model.events import (
    BalancesResult,
    OpenOrdersResult,
    OrderRepeated,
    OrderState,
    QuoteResult,
)
from model.ids import OrderId, UserId
from model.numbers import MarketSpec, ValidationError
from model.orders import order_shape_problem
from model.rejects import HTTP_STATUS, RejectCode

__all__ = ["TradingController"]

AuthRequest = Request[AuthUser, Token, Any]
#: Any route that waits for the matcher: rate limited, matcher unreachable or slow.
_BUSY = (429, 503, 504)


def _now_us() -> int:
    return time.time_ns() // 1000


def _required(field: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", f"{field} is required", field=field)


class Exchange:
    """What the trading routes need: markets, shards and the gateway."""

    def __init__(
        self,
        config: MarketConfig,
        shards: dict[str, str],
        gateway: MatcherGateway,
        db: AsyncConnectionPool,
    ):
        self.config = config
        self.shards = shards
        self.gateway = gateway
        self.db = db
        self.account_shard = sorted(set(shards.values()))[0]

    def market(self, symbol: str, field: str = "market") -> MarketSpec:
        spec = self.config.market(symbol)
        if spec is None:
            raise ApiError(
                400,
                RejectCode.INVALID_MARKET.value,
                f"unknown market {symbol!r}; see GET /api/v1/markets",
                field=field,
            )
        return spec

    async def call(self, shard: str, command: Command, order_id: OrderId | None = None) -> Answer:
        try:
            return await self.gateway.call(shard, command)
        except MatcherTimeoutError as exc:
            extra: dict[str, Any] = {"commandId": exc.cmd_id}
            if order_id is not None:
                extra["orderId"] = str(order_id)
            raise ApiError(
                504,
                "TIMEOUT",
                "the matcher has the request but did not answer in time; "
                "read the order's outcome with GET /api/v1/order/{orderId}",
                extra=extra,
            ) from None
        except MatcherUnavailableError as exc:
            raise ApiError(
                503, "UNAVAILABLE", f"cannot reach the matcher: {exc}", headers={"Retry-After": "1"}
            ) from None

    async def place(self, data: OrderRequest, user: UserId) -> OrderView:
        """Check an order against its market's grid, send it, and report what it did.

        Shared by the Litestar route and the fast path (``edge.fastpath``).
        """
        spec = self.market(data.market)
        # Request decoding: which fields the body must carry. What makes an order (which
        # fields go with which type) is model.orders', checked below on the parsed command.
        if data.type is OrderType.LIMIT:
            if data.price is None:
                raise _required("price")
            if data.quantity is None:
                raise _required("quantity")
        elif (data.quantity is None) == (data.quote_quantity is None):
            raise ApiError(
                400,
                "INVALID_ORDER",
                "a market order needs exactly one of quantity and quoteQuantity",
                field="quantity",
            )
        try:
            price = 0 if data.price is None else spec.parse_price(data.price)
            quantity = 0 if data.quantity is None else spec.parse_quantity(data.quantity)
            quote_quantity = (
                0 if data.quote_quantity is None else spec.parse_quote_amount(data.quote_quantity)
            )
        except ValidationError as exc:
            raise invalid(exc) from None
        order_id = self.gateway.order_ids.next()
        command = PlaceOrder(
            user_id=user,
            ts=_now_us(),
            order_id=order_id,
            market=spec.symbol,
            side=data.kind,
            type=data.type,
            price=price,
            quantity=quantity,
            quote_quantity=quote_quantity,
            tif=data.time_in_force,
            post_only=data.post_only,
            client_order_id=data.client_order_id,
            stp=data.self_trade_prevention,
        )
        problem = order_shape_problem(command, spec)
        if problem is not None:
            raise ApiError(
                HTTP_STATUS.get(problem.code, 400),
                problem.code.value,
                problem.message,
                field=problem.field,
            )
        if stages.ENABLED:
            stages.mark("command")
        answer = await self.call(self.shards[spec.symbol], command, order_id)
        raise_if_rejected(answer.events)
        repeated = answer.events[0]
        if isinstance(repeated, OrderRepeated):
            return await self._repeated(spec, repeated, user)
        return order_placed(spec, command, answer.events)

    async def _repeated(self, spec: MarketSpec, repeated: OrderRepeated, user: UserId) -> OrderView:
        """A retry's answer: the earlier order under that clientOrderId, as it stands now."""
        state = repeated.state or await stored_order(self.db, repeated.order_id, user)
        if state is None:  # closed, forgotten by the matcher, not yet stored: rare and brief
            raise ApiError(
                503,
                "UNAVAILABLE",
                f"this clientOrderId placed order {repeated.order_id}, whose state is not "
                "readable yet; read it with GET /api/v1/order/{orderId}",
                headers={"Retry-After": "1"},
                extra={"orderId": str(repeated.order_id)},
            )
        return order_view(spec, state)

    async def order_lists(
        self, kind: type[OpenOrders | CancelAll], user: UserId, market: str | None
    ) -> list[OrderView]:
        """Send ``kind`` (open orders, cancel all) for one market's shard or every shard, and
        gather the orders the replies list."""
        symbol = self.market(market).symbol if market is not None else None
        shards = [self.shards[symbol]] if symbol else sorted(set(self.shards.values()))
        views: list[OrderView] = []
        for shard in shards:
            answer = await self.call(shard, kind(user_id=user, ts=_now_us(), market=symbol))
            raise_if_rejected(answer.events)
            for event in answer.events:
                if isinstance(event, OpenOrdersResult):
                    views += [order_view(self.config.markets[o.market], o) for o in event.orders]
        return views

    async def everywhere(self, make: Any) -> list[Answer]:
        """Send a command built per shard to every shard (reads of unknown placement)."""
        shards = sorted(set(self.shards.values()))
        return [await self.call(shard, make()) for shard in shards]


def _exchange(state: State) -> Exchange:
    exchange: Exchange = state.exchange
    return exchange


_ORDER_ID = re.compile(r"^[0-9]{1,19}$")
_MAX_ORDER_ID = 2**63 - 1


def _parse_order_id(raw: str) -> OrderId:
    # ASCII digits only: str.isdigit() also takes "²", which int() then refuses (a 500).
    if _ORDER_ID.fullmatch(raw) is None:
        raise ApiError(
            400, "INVALID_REQUEST", f"orderId {raw!r} is not an order id", field="orderId"
        )
    if int(raw) > _MAX_ORDER_ID:  # well formed, but no order has such an id
        raise ApiError(404, RejectCode.UNKNOWN_ORDER.value, f"no order {raw} of yours")
    return OrderId(int(raw))


#: The path parameter as the OpenAPI document shows it (``_parse_order_id`` checks it).
_OrderIdPath = Annotated[
    str, Parameter(description="An order id", schema_extra={"pattern": _ORDER_ID.pattern})
]


class TradingController(Controller):
    path = "/api/v1"
    tags = ["trading"]  # noqa: RUF012
    dependencies = {"exchange": Provide(_exchange, sync_to_thread=False)}  # noqa: RUF012

    @post("/order", status_code=200, responses=errors(400, 401, 409, 413, 415, 422, *_BUSY))
    async def place(
        self, data: OrderRequest, request: AuthRequest, exchange: Exchange
    ) -> OrderView:
        """Place a limit or market order; answers once the matcher has processed it."""
        return await exchange.place(data, UserId(request.user.id))

    @route(
        "/order/{order_id:str}",
        http_method=[HttpMethod.GET, HttpMethod.DELETE],
        status_code=200,
        responses=errors(400, 401, 404, *_BUSY),
    )
    async def order(
        self, order_id: _OrderIdPath, request: AuthRequest, exchange: Exchange
    ) -> OrderView:
        """GET: one of your orders, open or recently filled/canceled/expired.
        DELETE: cancel one of your open orders."""
        # One handler for both methods: with two, Litestar's automatic OPTIONS answer lists in
        # ``Allow`` the methods of only the first one registered.
        oid = _parse_order_id(order_id)
        user = UserId(request.user.id)
        if request.method == HttpMethod.DELETE:
            return await _cancel_order(exchange, user, oid)
        return await _read_order(exchange, request.app.state.db, user, oid)

    @get("/orders/open", responses=errors(400, 401, *_BUSY))
    async def open_orders(
        self,
        request: AuthRequest,
        exchange: Exchange,
        market: str | None = Parameter(default=None, max_length=32),
    ) -> list[OrderView]:
        """Your open orders, in one market or all."""
        return await exchange.order_lists(OpenOrders, UserId(request.user.id), market)

    @route(
        "/orders",
        http_method=[HttpMethod.GET, HttpMethod.DELETE],
        status_code=200,
        responses=errors(400, 401, *_BUSY),
    )
    async def orders(
        self,
        request: AuthRequest,
        exchange: Exchange,
        market: str | None = Parameter(default=None, min_length=3, max_length=32),
        status: str | None = Parameter(default=None, pattern=f"^({ORDER_STATUSES})$"),
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
    ) -> OrdersPage | CancelAllResponse:
        """GET: your orders, open and closed, newest first, a page at a time (``OrdersPage``;
        from PostgreSQL, ``startTime``/``endTime`` in ms, both inclusive, on when the order was
        placed). DELETE: cancel all your open orders, in ``market`` or all (``CancelAllResponse``;
        the other parameters are for GET)."""
        # One handler for both methods, as for /order/{id}.
        if request.method == HttpMethod.GET:
            return await orders_page(request, market, status, start_time, end_time, limit, cursor)
        canceled = await exchange.order_lists(CancelAll, UserId(request.user.id), market)
        return CancelAllResponse(canceled=canceled)

    @post("/order/quote", status_code=200, responses=errors(400, 401, 413, 415, 422, *_BUSY))
    async def quote(
        self, data: QuoteRequest, request: AuthRequest, exchange: Exchange
    ) -> QuoteView:
        """What a market order would get now, without placing it."""
        spec = exchange.market(data.market)
        if (data.quantity is None) == (data.quote_quantity is None):
            raise ApiError(
                400,
                "INVALID_REQUEST",
                "give exactly one of quantity and quoteQuantity",
                field="quantity",
            )
        try:
            quantity = spec.parse_quantity(data.quantity) if data.quantity is not None else 0
            quote_quantity = (
                spec.parse_quote_amount(data.quote_quantity)
                if data.quote_quantity is not None
                else 0
            )
        except ValidationError as exc:
            raise invalid(exc) from None
        command = Quote(
            user_id=UserId(request.user.id),
            ts=_now_us(),
            market=spec.symbol,
            side=data.kind,
            quantity=quantity,
            quote_quantity=quote_quantity,
        )
        answer = await exchange.call(exchange.shards[spec.symbol], command)
        raise_if_rejected(answer.events)
        result = next(e for e in answer.events if isinstance(e, QuoteResult))
        return quote_view(spec, result)

    @get("/balances", responses=errors(401, *_BUSY))
    async def balances(self, request: AuthRequest, exchange: Exchange) -> dict[str, BalanceView]:
        """Your available and locked balance of every asset."""
        return await _balances(exchange, UserId(request.user.id))

    @post("/onramp", status_code=200, responses=errors(400, 401, 403, 413, 415, 422, *_BUSY))
    async def onramp(
        self, data: OnrampRequest, request: AuthRequest, exchange: Exchange
    ) -> dict[str, BalanceView]:
        """Credit test funds (only where the on-ramp is enabled)."""
        if not request.app.state.settings.onramp_enabled:
            raise ApiError(403, "ONRAMP_DISABLED", "the on-ramp is disabled on this exchange")
        asset = exchange.config.assets.get(data.asset.upper())
        if asset is None:
            raise ApiError(
                400, RejectCode.INVALID_ASSET.value, f"unknown asset {data.asset!r}", field="asset"
            )
        try:
            amount = asset.parse_amount(data.amount)
        except ValidationError as exc:
            raise invalid(exc) from None
        user = UserId(request.user.id)
        answer = await exchange.call(
            exchange.account_shard,
            Deposit(user_id=user, ts=_now_us(), asset=asset.code, amount=amount),
        )
        raise_if_rejected(answer.events)
        return await _balances(exchange, user)


async def _read_order(
    exchange: Exchange, pool: AsyncConnectionPool, user: UserId, oid: OrderId
) -> OrderView:
    for answer in await exchange.everywhere(
        lambda: GetOrder(user_id=user, ts=_now_us(), order_id=oid)
    ):
        for event in answer.events:
            if isinstance(event, OrderState):
                return order_view(exchange.config.markets[event.market], event)
    # The matcher forgets closed orders after a while; the persist agent keeps them all.
    stored = await stored_order(pool, oid, user)
    if stored is not None:
        return order_view(exchange.config.markets[stored.market], stored)
    raise ApiError(404, RejectCode.UNKNOWN_ORDER.value, f"no order {oid} of yours")


async def _cancel_order(exchange: Exchange, user: UserId, oid: OrderId) -> OrderView:
    for answer in await exchange.everywhere(
        lambda: CancelOrder(user_id=user, ts=_now_us(), order_id=oid)
    ):
        for event in answer.events:
            if isinstance(event, OrderState):
                return order_view(exchange.config.markets[event.market], event)
    raise ApiError(404, RejectCode.UNKNOWN_ORDER.value, f"no open order {oid} of yours")


async def _balances(exchange: Exchange, user: UserId) -> dict[str, BalanceView]:
    answer = await exchange.call(exchange.account_shard, Balances(user_id=user, ts=_now_us()))
    result = next(e for e in answer.events if isinstance(e, BalancesResult))
    assets = exchange.config.assets
    return {
        b.asset: BalanceView(
            available=assets[b.asset].format(b.available), locked=assets[b.asset].format(b.locked)
        )
        for b in result.balances
    }
