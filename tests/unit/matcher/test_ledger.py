"""The ledger keeps its own invariants: every change of a balance conserves each asset's total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from matcher.ledger import Ledger
from model.ids import UserId

BASE, QUOTE = 0, 1
BUYER, SELLER = UserId(1), UserId(2)


def _funded(quote: int = 10_000, base: int = 100) -> Ledger:
    ledger = Ledger(["BASE", "QUOTE"])
    ledger.deposit(BUYER, QUOTE, quote)
    ledger.deposit(SELLER, BASE, base)
    return ledger


def test_a_deposit_counts_in_the_account_and_in_the_total() -> None:
    ledger = Ledger(["BASE", "QUOTE"])
    ledger.deposit(BUYER, QUOTE, 70)
    ledger.deposit(BUYER, QUOTE, 5)
    assert ledger.available(BUYER, QUOTE) == 75
    assert ledger.deposited == [0, 75]
    assert ledger.totals() == [0, 75]


def test_a_fill_moves_both_assets_refunds_the_better_price_and_pays_the_fees() -> None:
    # The buyer locked 10 lots at its limit (1,000 quote); it trades 6 at a better price, 540
    # quote, and 60 quote it had locked for those 6 come back. Fees: 2 base, 5 quote.
    ledger = _funded()
    buyer, seller = ledger.account(BUYER), ledger.account(SELLER)
    buyer.lock(QUOTE, 1_000)
    seller.lock(BASE, 60)
    ledger.settle_fill(buyer, seller, BASE, QUOTE, 60, 540, 60, 2, 5)
    assert (buyer.available, buyer.locked) == ([58, 9_000 + 60], [0, 1_000 - 540 - 60])
    assert (seller.available, seller.locked) == ([40, 535], [0, 0])
    assert ledger.fees == [2, 5]
    assert ledger.totals() == ledger.deposited == [100, 10_000]


@given(
    lots=st.integers(1, 1_000),
    price=st.integers(1, 10_000),
    better=st.integers(0, 10_000),
    buyer_ppm=st.integers(0, 1_000_000),
    seller_ppm=st.integers(0, 1_000_000),
)
def test_any_fill_within_the_locks_conserves_every_asset_and_goes_negative_nowhere(
    lots: int, price: int, better: int, buyer_ppm: int, seller_ppm: int
) -> None:
    limit = price + better
    ledger = _funded(quote=limit * lots, base=lots)
    buyer, seller = ledger.account(BUYER), ledger.account(SELLER)
    buyer.lock(QUOTE, limit * lots)
    seller.lock(BASE, lots)
    quote_amount, refund = price * lots, better * lots
    ledger.settle_fill(
        buyer,
        seller,
        BASE,
        QUOTE,
        lots,
        quote_amount,
        refund,
        lots * buyer_ppm // 1_000_000,
        quote_amount * seller_ppm // 1_000_000,
    )
    assert ledger.totals() == ledger.deposited
    assert buyer.locked == seller.locked == [0, 0]
    assert min(buyer.available + seller.available + ledger.fees) >= 0
