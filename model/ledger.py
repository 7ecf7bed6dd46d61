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

__all__ = ["LedgerReplica"]


class LedgerReplica:
    """Available and locked atoms per (user, asset), kept by applying state events in order."""

    def __init__(self, config: MarketConfig) -> None:
        self._config = config
        self.available: defaultdict[tuple[UserId, str], int] = defaultdict(int)
        self.locked: defaultdict[tuple[UserId, str], int] = defaultdict(int)

    def apply(self, event: StateEvent) -> None:
        """Apply one state event's balance changes."""
        if isinstance(event, Deposited):
            self.available[event.user_id, event.asset] += event.amount
        elif isinstance(event, OrderAccepted):
            asset = self._locked_asset(event.market, event.side)
            self.available[event.user_id, asset] -= event.locked
            self.locked[event.user_id, asset] += event.locked
        elif isinstance(event, OrderClosed):
            asset = self._locked_asset(event.market, event.side)
            self.locked[event.user_id, asset] -= event.released
            self.available[event.user_id, asset] += event.released
        elif isinstance(event, TradeExecuted):
            self._apply_trade(event)

    def _apply_trade(self, trade: TradeExecuted) -> None:
        spec = self._config.markets[trade.market]
        base, quote = spec.base.code, spec.quote.code
        if trade.taker_side is Side.BUY:
            buyer, seller = trade.taker_user_id, trade.maker_user_id
            buyer_fee, seller_fee = trade.taker_fee, trade.maker_fee
        else:
            buyer, seller = trade.maker_user_id, trade.taker_user_id
            buyer_fee, seller_fee = trade.maker_fee, trade.taker_fee
        self.locked[buyer, quote] -= trade.quote_amount + trade.taker_refund
        self.available[buyer, quote] += trade.taker_refund
        self.available[buyer, base] += trade.base_amount - buyer_fee
        self.locked[seller, base] -= trade.base_amount
        self.available[seller, quote] += trade.quote_amount - seller_fee
        self.available[FEE_ACCOUNT, base] += buyer_fee
        self.available[FEE_ACCOUNT, quote] += seller_fee

    def _locked_asset(self, market: str, side: Side) -> str:
        spec = self._config.markets[market]
        return spec.quote.code if side is Side.BUY else spec.base.code

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
