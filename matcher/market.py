"""One market as the engine holds it: its book and the integers its arithmetic needs."""

from __future__ import annotations

from matcher.book import Order, OrderBook
from model.enums import Side
from model.numbers import MarketSpec

__all__ = ["Market"]

_BUY = Side.BUY


class Market:
    """A market's book together with the integers its arithmetic needs.

    ``base`` and ``quote`` are the ledger's asset numbers; ``bpl`` is base atoms per lot, ``tpl``
    quote atoms per tick and lot; ``maker_ppm`` / ``taker_ppm`` the fees in parts per million.
    """

    __slots__ = ("base", "book", "bpl", "maker_ppm", "quote", "spec", "taker_ppm", "tpl")

    def __init__(self, spec: MarketSpec, base: int, quote: int) -> None:
        self.spec = spec
        self.book = OrderBook(spec.symbol)
        self.base = base
        self.quote = quote
        self.bpl = spec.base_atoms_per_lot
        self.tpl = spec.quote_atoms_per_tick_lot
        self.maker_ppm = spec.maker_fee_ppm
        self.taker_ppm = spec.taker_fee_ppm

    def lock_asset(self, side: Side) -> int:
        """The asset an order of ``side`` locks: quote to buy, base to sell."""
        return self.quote if side is _BUY else self.base

    def locked_by(self, order: Order) -> int:
        """What a resting order still holds locked."""
        if order.side is _BUY:
            return order.remaining * order.price * self.tpl
        return order.remaining * self.bpl
