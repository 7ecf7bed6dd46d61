"""Rebuild balances from state events alone.

The matcher keeps balances in memory; everyone else (the persist agent, the audit, tests) derives
them from ``tw:{shard}:events`` with :class:`LedgerReplica`. Fees are held by ``FEE_ACCOUNT``.
"""

from __future__ import annotations

from collections import defaultdict

from model.config import MarketConfig
from model.enums import Side
from model.events import Deposited, OrderAccepted, OrderClosed, StateEvent, TradeExecuted
from model.ids import FEE_ACCOUNT, UserId

__all__ = ["BalanceChange", "LedgerReplica", "balance_changes"]

#: (user, asset, change of available, change of locked)
BalanceChange = tuple[UserId, str, int, int]


def balance_changes(event: StateEvent, config: MarketConfig) -> list[BalanceChange]:
    """Every balance an event moves, in a fixed order (the persist agent numbers them)."""
    if isinstance(event, Deposited):
        return [(event.user_id, event.asset, event.amount, 0)]
    if isinstance(event, OrderAccepted):
        asset = _locked_asset(config, event.market, event.side)
        return [(event.user_id, asset, -event.locked, event.locked)]
    if isinstance(event, OrderClosed):
        if not event.released:
            return []
        asset = _locked_asset(config, event.market, event.side)
        return [(event.user_id, asset, event.released, -event.released)]
    if isinstance(event, TradeExecuted):
        return _trade_changes(event, config)
    return []


def _trade_changes(trade: TradeExecuted, config: MarketConfig) -> list[BalanceChange]:
    spec = config.markets[trade.market]
    base, quote = spec.base.code, spec.quote.code
    if trade.taker_side is Side.BUY:
        buyer, seller = trade.taker_user_id, trade.maker_user_id
        buyer_fee, seller_fee = trade.taker_fee, trade.maker_fee
    else:
        buyer, seller = trade.maker_user_id, trade.taker_user_id
        buyer_fee, seller_fee = trade.maker_fee, trade.taker_fee
    changes: list[BalanceChange] = [
        (buyer, quote, trade.taker_refund, -(trade.quote_amount + trade.taker_refund)),
        (buyer, base, trade.base_amount - buyer_fee, 0),
        (seller, base, 0, -trade.base_amount),
        (seller, quote, trade.quote_amount - seller_fee, 0),
    ]
    if buyer_fee:
        changes.append((FEE_ACCOUNT, base, buyer_fee, 0))
    if seller_fee:
        changes.append((FEE_ACCOUNT, quote, seller_fee, 0))
    return changes


def _locked_asset(config: MarketConfig, market: str, side: Side) -> str:
    spec = config.markets[market]
    return spec.quote.code if side is Side.BUY else spec.base.code


class LedgerReplica:
    """Available and locked atoms per (user, asset), kept by applying state events in order."""

    def __init__(self, config: MarketConfig) -> None:
        self._config = config
        self.available: defaultdict[tuple[UserId, str], int] = defaultdict(int)
        self.locked: defaultdict[tuple[UserId, str], int] = defaultdict(int)

    def apply(self, event: StateEvent) -> None:
        """Apply one state event's balance changes."""
        for user, asset, available, locked in balance_changes(event, self._config):
            self.available[user, asset] += available
            self.locked[user, asset] += locked

    def totals(self) -> dict[str, int]:
        """Per asset, the sum of available and locked over every account, fees included."""
        result: defaultdict[str, int] = defaultdict(int)
        for (_, asset), amount in self.available.items():
            result[asset] += amount
        for (_, asset), amount in self.locked.items():
            result[asset] += amount
        return dict(result)

    def nonzero(self) -> dict[tuple[UserId, str], tuple[int, int]]:
        """Every (user, asset) with a balance, as ``(available, locked)``."""
        keys = {k for k, v in self.available.items() if v} | {
            k for k, v in self.locked.items() if v
        }
        return {k: (self.available[k], self.locked[k]) for k in sorted(keys)}
