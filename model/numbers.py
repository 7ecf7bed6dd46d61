"""Exact numbers: assets, market specs and the Decimal <-> integer boundary.

Invariants
----------
* Inside the exchange every amount is an ``int``: balances in *atoms* (``10**-decimals`` of an
  asset), prices in *ticks* of the market, quantities in *lots* of the market.
* One tick times one lot is a whole number of quote atoms (``quote_atoms_per_tick_lot``), so the
  notional of any order is ``price_ticks * lots * quote_atoms_per_tick_lot``: exact, no rounding.
* ``Decimal`` exists only at the JSON boundary. Conversion in either direction is exact or
  refused with a :class:`ValidationError` that names the field; a float is always refused.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import msgspec

__all__ = [
    "MAX_BALANCE",
    "Asset",
    "MarketSpec",
    "ValidationError",
    "parse_decimal",
    "to_units",
]

#: No balance may grow past this many atoms; it keeps every amount inside a signed 64-bit column.
MAX_BALANCE = 2**62

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_MAX_TEXT = 64
# Exponents outside this window are absurd for any market and would cost work to even compare.
_MIN_ADJUSTED, _MAX_ADJUSTED = -40, 40


class ValidationError(ValueError):
    """A value from outside that cannot be accepted; ``field`` names where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_decimal(value: object, field: str) -> Decimal:
    """Read a finite Decimal from a plain decimal string, an int or a Decimal.

    Strings must be plain (``"1000.50"``): no exponent, no spaces, no sign other than ``-``,
    at most 64 characters. Floats and booleans are refused outright.
    """
    if isinstance(value, bool):
        raise ValidationError(field, "must be a decimal string or number, not a boolean")
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise ValidationError(field, f"is too long ({len(value)} characters)")
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise ValidationError(field, f"{value!r} is not a plain decimal number")
        result = Decimal(value)
    elif isinstance(value, int):
        if abs(value) >= 10**_MAX_ADJUSTED:
            raise ValidationError(field, "is absurdly large")
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
        if result.is_finite() and int(result.as_tuple().exponent) > 0:
            raise ValidationError(field, f"{value} uses exponent notation; write it out")
    else:
        raise ValidationError(
            field, f"must be a decimal string or number, not {type(value).__name__}"
        )
    if not result.is_finite():
        raise ValidationError(field, f"{value!r} is not a finite number")
    if result and not _MIN_ADJUSTED <= result.adjusted() <= _MAX_ADJUSTED:
        raise ValidationError(field, f"{value!r} is out of range")
    return result


@functools.lru_cache(maxsize=256)
def _ratio(unit: Decimal) -> tuple[int, int]:
    """A grid unit as an integer ratio (markets have a handful of units: cached)."""
    return unit.as_integer_ratio()


def to_units(value: object, unit: Decimal, field: str, maximum: int) -> int:
    """Convert ``value`` to a whole number of ``unit``, in ``1..maximum``; else refuse."""
    amount = parse_decimal(value, field)
    if amount <= 0:
        raise ValidationError(field, f"must be positive, got {amount:f}")
    # Exact integer arithmetic: amount / unit = (n / d) / (un / ud). (Fraction did the same,
    # at several times the cost, on every order's price and quantity.)
    n, d = amount.as_integer_ratio()
    un, ud = _ratio(unit)
    units, rest = divmod(n * ud, d * un)
    if rest:
        raise ValidationError(field, f"{amount:f} is not a multiple of {unit:f}")
    if units > maximum:
        raise ValidationError(field, f"{amount:f} exceeds the maximum {unit * maximum:f}")
    return units


def _decimal_setting(value: object, name: str) -> Decimal:
    try:
        result = parse_decimal(value, name)
    except (ValidationError, InvalidOperation) as exc:
        raise ValueError(f"market setting {name}: {exc}") from exc
    return result


class Asset(msgspec.Struct, frozen=True):
    """A currency or instrument; balances in it are integer atoms."""

    code: str
    decimals: int

    @property
    def atom(self) -> Decimal:
        """The smallest amount of this asset, as a Decimal."""
        return Decimal(1).scaleb(-self.decimals)

    def parse_amount(self, value: object, field: str = "amount") -> int:
        """A positive amount of this asset, in atoms."""
        return to_units(value, self.atom, field, MAX_BALANCE)

    def format(self, atoms: int) -> str:
        """Atoms as a plain decimal string with this asset's decimals."""
        return format(Decimal(atoms).scaleb(-self.decimals), "f")  # never "0E-8"


class MarketSpec(msgspec.Struct, frozen=True):
    """A market ``BASE_QUOTE``: its grid, fees and limits, with exact conversions."""

    symbol: str
    base: Asset
    quote: Asset
    tick_size: Decimal
    lot_size: Decimal
    maker_fee_ppm: int
    taker_fee_ppm: int
    max_price_ticks: int
    max_quantity_lots: int
    base_atoms_per_lot: int
    quote_atoms_per_tick_lot: int

    @classmethod
    def build(
        cls,
        symbol: str,
        base: Asset,
        quote: Asset,
        *,
        tick_size: object,
        lot_size: object,
        maker_fee: object,
        taker_fee: object,
        max_price: object,
        max_quantity: object,
    ) -> MarketSpec:
        """Build a spec from config values, checking that the grid is exact."""
        tick = _decimal_setting(tick_size, f"{symbol}.tick_size")
        lot = _decimal_setting(lot_size, f"{symbol}.lot_size")
        if tick <= 0 or lot <= 0:
            raise ValueError(f"{symbol}: tick_size and lot_size must be positive")
        base_per_lot = Fraction(lot) * 10**base.decimals
        quote_per_tick_lot = Fraction(tick) * Fraction(lot) * 10**quote.decimals
        if base_per_lot.denominator != 1:
            raise ValueError(f"{symbol}: lot_size {lot} is finer than one {base.code} atom")
        if quote_per_tick_lot.denominator != 1:
            raise ValueError(
                f"{symbol}: tick_size x lot_size ({tick} x {lot}) is not a whole number of "
                f"{quote.code} atoms"
            )
        fees = []
        for name, raw in (("maker_fee", maker_fee), ("taker_fee", taker_fee)):
            ppm = Fraction(_decimal_setting(raw, f"{symbol}.{name}")) * 1_000_000
            if ppm.denominator != 1 or not 0 <= ppm < 1_000_000:
                raise ValueError(f"{symbol}.{name} must be in [0, 1) with at most 6 decimals")
            fees.append(int(ppm))
        max_ticks = Fraction(_decimal_setting(max_price, f"{symbol}.max_price")) / Fraction(tick)
        max_lots = Fraction(_decimal_setting(max_quantity, f"{symbol}.max_quantity")) / Fraction(
            lot
        )
        if max_ticks.denominator != 1 or max_lots.denominator != 1:
            raise ValueError(f"{symbol}: max_price/max_quantity must lie on the grid")
        if int(max_ticks) * int(max_lots) * int(quote_per_tick_lot) > MAX_BALANCE:
            raise ValueError(f"{symbol}: the largest order's notional would not fit a balance")
        return cls(
            symbol=symbol,
            base=base,
            quote=quote,
            tick_size=tick,
            lot_size=lot,
            maker_fee_ppm=fees[0],
            taker_fee_ppm=fees[1],
            max_price_ticks=int(max_ticks),
            max_quantity_lots=int(max_lots),
            base_atoms_per_lot=int(base_per_lot),
            quote_atoms_per_tick_lot=int(quote_per_tick_lot),
        )

    # --- JSON boundary -------------------------------------------------------------------

    def parse_price(self, value: object, field: str = "price") -> int:
        """A price on this market's tick grid, in ticks."""
        return to_units(value, self.tick_size, field, self.max_price_ticks)

    def parse_quantity(self, value: object, field: str = "quantity") -> int:
        """A base quantity on this market's lot grid, in lots."""
        return to_units(value, self.lot_size, field, self.max_quantity_lots)

    def parse_quote_amount(self, value: object, field: str = "quoteQuantity") -> int:
        """A positive amount of the quote asset, in atoms (for market buys by quote)."""
        return to_units(
            value,
            self.quote.atom,
            field,
            self.max_price_ticks * self.max_quantity_lots * self.quote_atoms_per_tick_lot,
        )

    def format_price(self, ticks: int) -> str:
        """Ticks as a decimal price string."""
        return format(self.tick_size * ticks, "f")

    def format_quantity(self, lots: int) -> str:
        """Lots as a decimal base quantity string."""
        return format(self.lot_size * lots, "f")

    # --- integer arithmetic used by the engine ---------------------------------------------

    def notional(self, price_ticks: int, lots: int) -> int:
        """Quote atoms that ``lots`` cost at ``price_ticks``."""
        return price_ticks * lots * self.quote_atoms_per_tick_lot
