"""A user's side of a trade: the one view of a fill, for ``GET /fills`` and the private stream.

A trade has two sides. The buyer receives base and the seller quote, each less its fee in the
asset received (``TradeExecuted``'s ``maker_fee``/``taker_fee``); a user is never both sides of
one trade (self-trade prevention).
"""

from __future__ import annotations

from model.api import AccountFillView
from model.enums import Side
from model.numbers import MarketSpec

__all__ = ["TradeRecord", "account_fill"]

#: What the edge reads of a trade (a ``trades`` row) and the persist agent of a
#: ``TradeExecuted``: (trade_id, ts_us, price, quantity, quote_amount, taker_side, maker_order_id,
#: taker_order_id, maker_user_id, maker_fee, taker_fee)
TradeRecord = tuple[int, int, int, int, int, Side, int, int, int, int, int]


def account_fill(spec: MarketSpec, trade: TradeRecord, user_id: int) -> AccountFillView:
    """``user_id``'s side of ``trade`` in ``spec``'s market."""
    (trade_id, ts_us, price, quantity, quote_amount, taker_side, maker_order_id, taker_order_id,
     maker_user_id, maker_fee, taker_fee) = trade  # fmt: skip
    is_maker = maker_user_id == user_id
    side = taker_side if not is_maker else (Side.SELL if taker_side is Side.BUY else Side.BUY)
    fee_asset = spec.base if side is Side.BUY else spec.quote
    return AccountFillView(
        trade_id=trade_id,
        order_id=str(maker_order_id if is_maker else taker_order_id),
        market=spec.symbol,
        kind=side,
        price=spec.format_price(price),
        quantity=spec.format_quantity(quantity),
        quote_quantity=spec.quote.format(quote_amount),
        fee=fee_asset.format(maker_fee if is_maker else taker_fee),
        fee_asset=fee_asset.code,
        is_maker=is_maker,
        timestamp=ts_us // 1000,
    )
