"""Trading routes: orders, quotes, balances, on-ramp. Each becomes one matcher command.

Every amount is checked against the market's grid here, before anything reaches the matcher;
the matcher checks again (it trusts no one) and its rejections come back as 4xx errors.

Backpack's private routes live on its paths beside ours: ``POST /order`` takes either dialect's
body (``edge.request.decode_order``) and answers in it; ``GET``/``DELETE /order`` (by
``orderId`` or ``clientId`` in ``symbol``), ``GET /orders`` (open orders) and ``GET /capital``
are Backpack's; ``DELETE /orders`` is ours with no body and Backpack's with one. Every route of
either dialect ends in the same ``Exchange`` calls; only the words differ (``model.backpack``).
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, Literal

from litestar import Controller, HttpMethod, Request, delete, get, post, route
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter
from litestar.security.jwt import Token
from psycopg_pool import AsyncConnectionPool

from edge.auth import AuthUser
from edge.errors import ApiError
from edge.gateway import Answer, MatcherGateway, MatcherTimeoutError, MatcherUnavailableError
from edge.history import stored_order
from edge.openapi import errors
from edge.request import ExactRequest, invalid
from edge.views import order_placed, quote_view, raise_if_rejected
from model import stages
from model.api import (
    BackpackCancelAllRequest,
    BackpackCancelRequest,
    BackpackOrderView,
    BalanceView,
    CancelAllResponse,
    CapitalView,
    ClientId,
    OnrampRequest,
    OrderRequest,
    OrderView,
    QuoteRequest,
    QuoteView,
)
from model.backpack import order_object
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
from model.views import order_view

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
        self,
        kind: type[OpenOrders | CancelAll],
        user: UserId,
        market: str | None,
        field: str = "market",
    ) -> list[OrderView]:
        """Send ``kind`` (open orders, cancel all) for one market's shard or every shard, and
        gather the orders the replies list."""
        symbol = self.market(market, field).symbol if market is not None else None
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


#: Backpack's market types: every market here is a spot market.
_MarketType = Literal["SPOT", "PERP", "IPERP", "DATED", "PREDICTION", "RFQ"]
_MARKET_TYPE = Parameter(query="marketType", default=None)
_CLIENT_ID = Parameter(query="clientId", default=None)

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
        self, data: OrderRequest, request: ExactRequest, exchange: Exchange
    ) -> OrderView | BackpackOrderView:
        """Place a limit or market order; answers once the matcher has processed it. The body
        is ours (``OrderRequest``, answered with an ``OrderView``) or Backpack's
        (``BackpackOrderRequest``: ``symbol``, ``side``, ``orderType``..., answered with
        Backpack's order object)."""
        view = await exchange.place(data, UserId(request.user.id))
        return order_object(view) if request.backpack else view

    @get("/order", responses=errors(400, 401, 404, *_BUSY))
    async def backpack_order(
        self,
        request: AuthRequest,
        exchange: Exchange,
        symbol: str = Parameter(min_length=3, max_length=32),
        order_id: str | None = Parameter(query="orderId", default=None, pattern=_ORDER_ID.pattern),
        client_id: ClientId | None = _CLIENT_ID,
    ) -> BackpackOrderView:
        """Backpack's: one of your orders in ``symbol``, by ``orderId`` (open, or closed) or
        by ``clientId`` (open), exactly one of them."""
        spec = exchange.market(symbol, "symbol")
        user = UserId(request.user.id)
        if order_id is None:
            return order_object(await _open_by_client_id(exchange, user, spec.symbol, client_id))
        _one_of(order_id, client_id)
        view = await _read_order(exchange, request.app.state.db, user, _parse_order_id(order_id))
        if view.market != spec.symbol:
            raise ApiError(404, RejectCode.UNKNOWN_ORDER.value, f"no order {order_id} of yours "
                           f"in {spec.symbol}")  # fmt: skip
        return order_object(view)

    @delete("/order", status_code=200, responses=errors(400, 401, 404, 413, 415, *_BUSY))
    async def backpack_cancel(
        self, data: BackpackCancelRequest, request: AuthRequest, exchange: Exchange
    ) -> BackpackOrderView:
        """Backpack's: cancel one of your open orders in ``symbol``, by ``orderId`` or by
        ``clientId`` (exactly one of them)."""
        spec = exchange.market(data.symbol, "symbol")
        user = UserId(request.user.id)
        if data.order_id is None:
            found = await _open_by_client_id(exchange, user, spec.symbol, data.client_id)
            oid = OrderId(int(found.order_id))
        else:
            _one_of(data.order_id, data.client_id)
            oid = _parse_order_id(data.order_id)
            open_orders = await exchange.order_lists(OpenOrders, user, spec.symbol)
            open_ids = {view.order_id for view in open_orders}
            if data.order_id not in open_ids:
                raise ApiError(404, RejectCode.UNKNOWN_ORDER.value, f"no open order "
                               f"{data.order_id} of yours in {spec.symbol}")  # fmt: skip
        return order_object(await _cancel_order(exchange, user, oid))

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

    @get("/orders", responses=errors(400, 401, *_BUSY))
    async def backpack_open_orders(
        self,
        request: AuthRequest,
        exchange: Exchange,
        symbol: str | None = Parameter(default=None, min_length=3, max_length=32),
        market_type: _MarketType | None = _MARKET_TYPE,
    ) -> list[BackpackOrderView]:
        """Backpack's: your open orders, in ``symbol`` or all, as its order objects (every
        market here is ``SPOT``: another ``marketType`` has none). Ours: ``/orders/open``."""
        if market_type not in (None, "SPOT"):
            return []
        views = await exchange.order_lists(OpenOrders, UserId(request.user.id), symbol, "symbol")
        return [order_object(view) for view in views]

    @delete("/orders", status_code=200, responses=errors(400, 401, 413, 415, *_BUSY))
    async def cancel_all(
        self,
        request: AuthRequest,
        exchange: Exchange,
        data: BackpackCancelAllRequest | None = None,
        market: str | None = Parameter(default=None, min_length=3, max_length=32),
    ) -> CancelAllResponse | list[BackpackOrderView]:
        """Cancel all your open orders. Ours: no body, in ``market`` or all
        (``CancelAllResponse``). Backpack's: a body naming ``symbol`` (its order objects)."""
        user = UserId(request.user.id)
        if data is None:
            return CancelAllResponse(canceled=await exchange.order_lists(CancelAll, user, market))
        if market is not None:
            raise ApiError(
                400, "INVALID_REQUEST", "name the market in the body (symbol) or in the query "
                "(market), not both", field="market",
            )  # fmt: skip
        if data.order_type == "ConditionalOrder":  # none here: every order rests on the book
            exchange.market(data.symbol, "symbol")
            return []
        canceled = await exchange.order_lists(CancelAll, user, data.symbol, "symbol")
        return [order_object(view) for view in canceled]

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

    @get("/capital", responses=errors(401, *_BUSY))
    async def capital(self, request: AuthRequest, exchange: Exchange) -> dict[str, CapitalView]:
        """Backpack's: your balances as ``/balances`` gives them, with nothing ``staked``."""
        balances = await _balances(exchange, UserId(request.user.id))
        return {
            asset: CapitalView(available=b.available, locked=b.locked, staked="0")
            for asset, b in balances.items()
        }

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


def _one_of(order_id: str | None, client_id: int | None) -> None:
    if (order_id is None) == (client_id is None):
        raise ApiError(
            400, "INVALID_REQUEST", "give exactly one of orderId and clientId", field="orderId"
        )


async def _open_by_client_id(
    exchange: Exchange, user: UserId, symbol: str, client_id: int | None
) -> OrderView:
    """The open order in ``symbol`` placed with Backpack's ``clientId`` (our
    ``clientOrderId`` in its digits), or 404."""
    _one_of(None, client_id)
    wanted = str(client_id)
    for view in await exchange.order_lists(OpenOrders, user, symbol):
        if view.client_order_id == wanted:
            return view
    raise ApiError(
        404, RejectCode.UNKNOWN_ORDER.value, f"no open order with clientId {client_id} of yours "
        f"in {symbol}",
    )  # fmt: skip


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
