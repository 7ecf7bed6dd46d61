"""Market specs as the edge describes them, for exact conversions on the client side.

The grid, limits and fees come from ``GET /markets`` (the edge is the authority on what it
accepts). Asset decimals are not in that answer: they come from the local markets file when it
knows the asset (the usual case: one deployment, one file), else they are the fewest decimals
the grid needs, which is all the market maker's own amounts ever use.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from model.api import MarketView
from model.numbers import Asset, MarketSpec, parse_decimal

__all__ = ["spec_of"]


def _decimals_of(value: Decimal) -> int:
    return max(0, -int(value.normalize().as_tuple().exponent))


def spec_of(info: MarketView, known: Mapping[str, Asset]) -> MarketSpec:
    """The ``MarketSpec`` of a market from ``GET /markets``; ``ValueError`` if it makes none."""
    tick = parse_decimal(info.tick_size, f"{info.symbol}.tickSize")
    lot = parse_decimal(info.step_size, f"{info.symbol}.stepSize")
    base = known.get(info.base_symbol) or Asset(info.base_symbol, _decimals_of(lot))
    quote = known.get(info.quote_symbol) or Asset(info.quote_symbol, _decimals_of(tick * lot))
    return MarketSpec.build(
        info.symbol,
        base,
        quote,
        tick_size=tick,
        lot_size=lot,
        maker_fee=info.maker_fee,
        taker_fee=info.taker_fee,
        max_price=info.max_price,
        max_quantity=info.max_quantity,
    )
