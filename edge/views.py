"""Engine outcomes (integers) as API views (decimal strings), and rejections as API errors."""

from __future__ import annotations

from decimal import Decimal

from edge.errors import ApiError
from model.api import (
    AssetView,
    FillView,
    MarketFilters,
    MarketView,
    OrderView,
    PriceFilter,
    QuantityFilter,
    QuoteView,
)
from model.commands import PlaceOrder
from model.enums import CLOSE_STATUS, OrderStatus, Side
from model.events import (
    Event,
    OrderClosed,
    OrderRested,
    QuoteResult,
    Rejected,
    TradeExecuted,
)
from model.ids import OrderIdFactory
from model.numbers import Asset, MarketSpec
from model.rejects import HTTP_STATUS

__all__ = [
    "asset_view",
    "market_view",
    "order_placed",
    "quote_view",
    "raise_if_rejected",
]


def raise_if_rejected(events: list[Event]) -> None:
    """Turn an engine rejection into the API error it maps to."""
    for event in events:
        if isinstance(event, Rejected):
            extra = {} if event.order_id is None else {"orderId": str(event.order_id)}
            raise ApiError(
                HTTP_STATUS.get(event.code, 400), event.code.value, event.message, extra=extra
            )


def _quote_amount(spec: MarketSpec, atoms: int) -> str:
    return spec.quote.format(atoms)


def order_placed(spec: MarketSpec, cmd: PlaceOrder, events: list[Event]) -> OrderView:
    """The view of a just-placed order from the events its command produced."""
    fills: list[FillView] = []
    executed = executed_quote = 0
    status = OrderStatus.NEW
    remaining: int | None = cmd.quantity or None
    for event in events:
        if isinstance(event, TradeExecuted) and event.taker_order_id == cmd.order_id:
            executed += event.quantity
            executed_quote += event.quote_amount
            fee_asset = spec.base if event.taker_side is Side.BUY else spec.quote
            fills.append(
                FillView(
                    trade_id=event.trade_id,
                    price=spec.format_price(event.price),
                    quantity=spec.format_quantity(event.quantity),
                    fee=fee_asset.format(event.taker_fee),
                    fee_asset=fee_asset.code,
                    is_maker=False,
                )
            )
        elif isinstance(event, OrderRested) and event.order_id == cmd.order_id:
            status = OrderStatus.PARTIALLY_FILLED if executed else OrderStatus.NEW
            remaining = event.remaining
        elif isinstance(event, OrderClosed) and event.order_id == cmd.order_id:
            status = CLOSE_STATUS[event.reason]
            remaining = event.remaining if cmd.quantity else None
    return OrderView(
        order_id=str(cmd.order_id),
        market=cmd.market,
        kind=cmd.side,
        type=cmd.type,
        status=status,
        time_in_force=cmd.tif,
        post_only=cmd.post_only,
        price=spec.format_price(cmd.price) if cmd.price else None,
        quantity=spec.format_quantity(cmd.quantity) if cmd.quantity else None,
        quote_quantity=_quote_amount(spec, cmd.quote_quantity) if cmd.quote_quantity else None,
        executed_qty=spec.format_quantity(executed),
        executed_quote_qty=_quote_amount(spec, executed_quote),
        remaining_qty=spec.format_quantity(remaining) if remaining is not None else None,
        client_order_id=cmd.client_order_id,
        created_at=OrderIdFactory.timestamp_ms(cmd.order_id),
        self_trade_prevention=cmd.stp,
        fills=fills,
    )


def quote_view(spec: MarketSpec, result: QuoteResult) -> QuoteView:
    """A quote with its average price: the exact quotient to a millionth of a tick, trailing
    zeros dropped down to the tick's own places, in plain notation (``"100.00"``, never
    ``"1E+2"``)."""
    average = worst = None
    if result.quantity:
        ticks = Decimal(result.quote_amount) / (result.quantity * spec.quote_atoms_per_tick_lot)
        exact = (ticks * spec.tick_size).quantize(spec.tick_size / 10**6).normalize()
        if exact.as_tuple().exponent > spec.tick_size.as_tuple().exponent:  # type: ignore[operator]
            exact = exact.quantize(spec.tick_size)
        average = format(exact, "f")
        worst = spec.format_price(result.worst_price)
    return QuoteView(
        market=result.market,
        kind=result.side,
        filled_qty=spec.format_quantity(result.quantity),
        quote_amount=_quote_amount(spec, result.quote_amount),
        average_price=average,
        worst_price=worst,
        fully_filled=result.fully_filled,
    )


def market_view(spec: MarketSpec, shard: str) -> MarketView:
    """A market's public description."""
    fee = Decimal(1_000_000)
    price = PriceFilter(
        min_price=str(spec.tick_size),
        max_price=spec.format_price(spec.max_price_ticks),
        tick_size=str(spec.tick_size),
    )
    quantity = QuantityFilter(
        min_quantity=str(spec.lot_size),
        max_quantity=spec.format_quantity(spec.max_quantity_lots),
        step_size=str(spec.lot_size),
    )
    return MarketView(
        symbol=spec.symbol,
        base_symbol=spec.base.code,
        quote_symbol=spec.quote.code,
        tick_size=price.tick_size,
        step_size=quantity.step_size,
        min_price=price.min_price,
        max_price=price.max_price,
        min_quantity=quantity.min_quantity,
        max_quantity=quantity.max_quantity,
        maker_fee=str(Decimal(spec.maker_fee_ppm) / fee),
        taker_fee=str(Decimal(spec.taker_fee_ppm) / fee),
        shard=shard,
        market_type="SPOT",
        order_book_state="Open",
        filters=MarketFilters(price=price, quantity=quantity),
    )


def asset_view(asset: Asset) -> AssetView:
    """An asset's public description, Backpack's shape."""
    return AssetView(
        symbol=asset.code, display_name=asset.code, coingecko_id=None, tokens=[],
        decimals=asset.decimals,
    )  # fmt: skip
