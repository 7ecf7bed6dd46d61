"""Balances in memory: available and locked atoms per user and asset.

Ledger invariants
-----------------
* Conservation: for every asset, the sum over accounts of ``available + locked`` plus the fee
  account's balance equals ``deposited`` (the sum of every deposit). Trades only move atoms.
* No balance is ever negative; a command that would make one is rejected before it changes
  anything.
* ``locked`` of a user in an asset equals what that user's open orders can still spend: for a
  resting buy ``remaining * price * quote_atoms_per_tick_lot``, for a resting sell
  ``remaining * base_atoms_per_lot``. Incoming orders lock for the length of one command.

Assets are numbered (``asset_index``) so an account is two short lists, not a dict of dicts.
"""

from __future__ import annotations

from model.ids import UserId

__all__ = ["Account", "Ledger"]


class Account:
    """One user's balances, indexed by asset number."""

    __slots__ = ("available", "locked", "user_id")

    def __init__(self, user_id: UserId, asset_count: int) -> None:
        self.user_id = user_id
        self.available = [0] * asset_count
        self.locked = [0] * asset_count

    def lock(self, asset: int, amount: int) -> None:
        """Move ``amount`` from available to locked (the caller checked it is there)."""
        self.available[asset] -= amount
        self.locked[asset] += amount

    def release(self, asset: int, amount: int) -> None:
        """Move ``amount`` from locked back to available."""
        self.locked[asset] -= amount
        self.available[asset] += amount


class Ledger:
    """Every account, the fees collected, and the running total of deposits per asset."""

    __slots__ = ("accounts", "asset_codes", "asset_index", "deposited", "fees")

    def __init__(self, asset_codes: list[str]) -> None:
        self.asset_codes = asset_codes
        self.asset_index = {code: i for i, code in enumerate(asset_codes)}
        self.accounts: dict[UserId, Account] = {}
        self.fees = [0] * len(asset_codes)
        self.deposited = [0] * len(asset_codes)

    def account(self, user_id: UserId) -> Account:
        """The user's account, opened empty on first use."""
        account = self.accounts.get(user_id)
        if account is None:
            account = self.accounts[user_id] = Account(user_id, len(self.asset_codes))
        return account

    def available(self, user_id: UserId, asset: int) -> int:
        """What the user can spend now (0 for a user who never had funds)."""
        account = self.accounts.get(user_id)
        return 0 if account is None else account.available[asset]

    def totals(self) -> list[int]:
        """Per asset: every account's available + locked, plus fees."""
        totals = list(self.fees)
        for account in self.accounts.values():
            for i, (free, held) in enumerate(zip(account.available, account.locked, strict=True)):
                totals[i] += free + held
        return totals
