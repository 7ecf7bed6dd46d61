"""edge/views.py: engine outcomes (integers) as the API's decimal strings."""

from __future__ import annotations

import pytest

from edge.views import quote_view
from model.config import load_markets
from model.enums import Side
from model.events import QuoteResult

TATA = load_markets().markets["TATA_INR"]


def _quote(quantity_lots: int, quote_atoms: int) -> str | None:
    result = QuoteResult(
        market=TATA.symbol, side=Side.SELL, quantity=quantity_lots, quote_amount=quote_atoms,
        worst_price=1, fully_filled=True,
    )  # fmt: skip
    return quote_view(TATA, result).average_price


@pytest.mark.parametrize(
    ("lots", "atoms", "average"),
    [
        (4, 40_000, "100.00"),  # a whole number: the tick's places, never "1E+2"
        (2, 20_100, "100.50"),  # fewer places than the tick: padded to it
        (3, 30_001, "100.00333333"),  # a repeating quotient: to a millionth of a tick
        (1, 1, "0.01"),
    ],
)
def test_the_average_price_is_a_plain_decimal_with_the_ticks_places(
    lots: int, atoms: int, average: str
) -> None:
    assert _quote(lots, atoms) == average


def test_nothing_filled_has_no_average() -> None:
    assert _quote(0, 0) is None
