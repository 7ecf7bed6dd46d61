"""How much each account needs, and topping it up through ``POST /onramp``.

Policy
------
* An account's *need* in an asset is the most its orders can lock at once, summed over the
  markets it trades, at twice the current fair price (room for the walk to wander): for the
  maker, a full ladder on each side; for the taker, one crossing order each way.
* On start, an account holding (available + locked) less than its need is topped up to
  ``multiple`` times its need: 10 for the maker, 100 for the taker, whose inventory drifts one
  small order at a time. When an order is refused for ``INSUFFICIENT_FUNDS`` the account is
  topped up to that same target even if it holds its need (the price may have run far).
* Nothing else deposits: a funded account that restarts deposits nothing. Where the on-ramp is
  disabled (403) the market maker says so once and quotes with what it has.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from client import Account, ApiError, AsyncClient
from marketmaker.walk import MAX_CROSS_LOTS, ladder_lots
from model.numbers import Asset, MarketSpec

__all__ = [
    "MAKER_MULTIPLE",
    "TAKER_MULTIPLE",
    "atoms_floor",
    "maker_needs",
    "taker_needs",
    "top_up",
]

log = logging.getLogger("tidewater.mm")

MAKER_MULTIPLE = 10
TAKER_MULTIPLE = 100
#: Fair prices are counted at this multiple when sizing needs.
PRICE_HEADROOM = 2


def _add(needs: dict[str, int], asset: Asset, atoms: int) -> None:
    needs[asset.code] = needs.get(asset.code, 0) + atoms


def _needs(markets: Iterable[tuple[MarketSpec, int]], lots: int) -> dict[str, int]:
    needs: dict[str, int] = {}
    for spec, fair in markets:
        _add(needs, spec.quote, spec.notional(PRICE_HEADROOM * fair, lots))
        _add(needs, spec.base, lots * spec.base_atoms_per_lot)
    return needs


def maker_needs(markets: Iterable[tuple[MarketSpec, int]], levels: int) -> dict[str, int]:
    """Atoms per asset that ladders of ``levels`` in every ``(spec, fair)`` market can lock."""
    return _needs(markets, ladder_lots(levels))


def taker_needs(markets: Iterable[tuple[MarketSpec, int]]) -> dict[str, int]:
    """Atoms per asset that one crossing order each way in every market can lock."""
    return _needs(markets, MAX_CROSS_LOTS)


def atoms_floor(text: str, asset: Asset) -> int:
    """A balance (a decimal string) in whole atoms of ``asset``, rounded down, exactly.

    Exponent notation is accepted: the edge writes a zero balance of an asset with more than
    six decimals as ``"0E-8"``.
    """
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{asset.code} balance {text!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{asset.code} balance {text!r} is not a finite number")
    value = Fraction(amount) * 10**asset.decimals
    return int(value.numerator // value.denominator)


async def top_up(
    client: AsyncClient,
    account: Account,
    needs: Mapping[str, int],
    assets: Mapping[str, Asset],
    *,
    multiple: int,
    forced: bool = False,
) -> bool:
    """Deposit what ``account`` lacks; return ``False`` if the on-ramp is disabled.

    An asset is topped up to ``multiple * need`` when the account holds less than its need
    (``forced``: less than that target).
    """
    balances = await client.balances(account)
    for code, need in sorted(needs.items()):
        asset = assets[code]
        held = 0
        if code in balances:
            held = atoms_floor(balances[code].available, asset) + atoms_floor(
                balances[code].locked, asset
            )
        target = multiple * need
        if held >= (target if forced else need):
            continue
        amount = asset.format(target - held)
        try:
            # Retried through an outage, as before: a test deposit made twice only tops up more.
            await client.onramp(account, code, amount, retry=True)
        except ApiError as exc:
            if exc.status == 403:
                log.warning("the on-ramp is disabled; %s trades what it holds", account.username)
                return False
            raise
        log.info("deposited %s %s to %s", amount, code, account.username)
    return True
