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

Every change of a balance goes through this module (``Account.lock`` / ``release``,
:meth:`Ledger.deposit`, :meth:`Ledger.settle_fill`), and each keeps conservation by itself: what
leaves one balance arrives in another. The caller checks the amounts beforehand (that a lock is
available, that a fill does not exceed what the orders hold), so none of them can go negative.
Others may read the balances; only the snapshot's restore writes them directly.

Assets are numbered (``asset_index``) so an account is two short lists, not a dict of dicts.
Balances change as ``x[i] = x[i] + n``, never ``x[i] += n``: compiled (:mod:`matcher.build`),
the first is integer arithmetic and the second a generic object addition.
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
        self.available[asset] = self.available[asset] - amount
        self.locked[asset] = self.locked[asset] + amount

    def release(self, asset: int, amount: int) -> None:
        """Move ``amount`` from locked back to available."""
        self.locked[asset] = self.locked[asset] - amount
        self.available[asset] = self.available[asset] + amount


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

    def deposit(self, user_id: UserId, asset: int, amount: int) -> None:
        """Credit ``amount`` to the user's available balance and to the deposits' total."""
        available = self.account(user_id).available
        available[asset] = available[asset] + amount
        self.deposited[asset] = self.deposited[asset] + amount

    def settle_fill(
        self,
        buyer: Account,
        seller: Account,
        base: int,
        quote: int,
        base_amount: int,
        quote_amount: int,
        refund: int,
        buyer_fee: int,
        seller_fee: int,
    ) -> None:
        """Settle one fill: ``base_amount`` of base for ``quote_amount`` of quote.

        Both come out of what the two orders locked. The buyer's lock was taken at its own limit
        price, so ``refund`` (what the better trade price saved, 0 for a resting buyer) goes from
        its locked quote back to available. Each side receives its asset less its fee
        (``buyer_fee`` in base, ``seller_fee`` in quote), which goes to the fee account. The
        caller makes sure the locks hold that much.
        """
        buyer.locked[quote] = buyer.locked[quote] - (quote_amount + refund)
        buyer.available[quote] = buyer.available[quote] + refund
        buyer.available[base] = buyer.available[base] + (base_amount - buyer_fee)
        seller.locked[base] = seller.locked[base] - base_amount
        seller.available[quote] = seller.available[quote] + (quote_amount - seller_fee)
        fees = self.fees
        fees[base] = fees[base] + buyer_fee
        fees[quote] = fees[quote] + seller_fee

    def available(self, user_id: UserId, asset: int) -> int:
        """What the user can spend now (0 for a user who never had funds)."""
        account = self.accounts.get(user_id)
        return 0 if account is None else account.available[asset]

    def totals(self) -> list[int]:
        """Per asset: every account's available + locked, plus fees."""
        totals = list(self.fees)
        for account in self.accounts.values():
            for i, (free, held) in enumerate(zip(account.available, account.locked, strict=True)):
                totals[i] = totals[i] + (free + held)
        return totals
