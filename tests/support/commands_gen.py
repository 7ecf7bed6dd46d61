"""Seeded random command streams that exercise every corner of the matching rules.

``random_commands(seed, n)`` yields ``n`` commands: first deposits for every user, then a
realistic mix of limit (GTC, IOC, FOK, post-only) and market orders (buys by quantity and by
quote, sells), cancels (by id, by client id, of unknown or foreign ids), cancel-all, queries and
a share of malformed commands. Prices cluster around a slowly drifting mid per market so books
cross often; client ids are mostly fresh, some from a small pool so duplicates happen, and
some orders are sent again as a client's retry (sometimes a day later, past the retry window);
``ts`` never decreases (and sometimes repeats). The same seed always yields the same stream.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgspec.structs import replace

from matcher.order_index import CLIENT_ID_WINDOW_US
from model.commands import (
    Balances,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    GetOrder,
    OpenOrders,
    PlaceOrder,
    Quote,
)
from model.config import MarketConfig, load_markets
from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import OrderId, UserId
from model.numbers import MAX_BALANCE, MarketSpec

__all__ = ["random_commands"]

#: Relative weights of each kind of command after the opening deposits.
_MIX: dict[str, int] = {
    "deposit": 3,
    "limit_gtc": 26,
    "limit_ioc": 6,
    "limit_fok": 6,
    "post_only": 6,
    "market_buy_qty": 4,
    "market_buy_quote": 4,
    "market_sell": 5,
    "cancel": 10,
    "cancel_foreign": 1,
    "cancel_unknown": 1,
    "cancel_client_id": 4,
    "cancel_all": 2,
    "quote": 4,
    "get_order": 3,
    "open_orders": 2,
    "balances": 2,
    "invalid": 6,
    "retry": 4,
}
_STP_MODES = [
    SelfTradePrevention.CANCEL_TAKER,
    SelfTradePrevention.CANCEL_TAKER,
    SelfTradePrevention.CANCEL_MAKER,
    SelfTradePrevention.CANCEL_BOTH,
]


@dataclass
class _Placed:
    user_id: UserId
    order_id: OrderId
    market: str
    client_order_id: str | None
    may_rest: bool


@dataclass
class _Generator:
    """The memory a stream needs to aim cancels and duplicates at real orders."""

    rng: random.Random
    config: MarketConfig
    symbols: list[str]
    users: list[UserId]
    spread: int
    max_lots: int
    mids: dict[str, int] = field(default_factory=dict)
    ts: int = 0
    next_order_id: int = 1
    placed: list[_Placed] = field(default_factory=list)
    sent: list[PlaceOrder] = field(default_factory=list)  # recent orders with a client id
    client_ids: int = 0

    # --- shared pieces -------------------------------------------------------------------

    def tick(self) -> int:
        self.ts += self.rng.choice((0, 1, 1, 1, 2, 7))
        return self.ts

    def user(self) -> UserId:
        return self.rng.choice(self.users)

    def symbol(self) -> str:
        return self.rng.choice(self.symbols)

    def spec(self, symbol: str) -> MarketSpec:
        return self.config.markets[symbol]

    def price(self, symbol: str) -> int:
        mid = self.mids[symbol]
        if self.rng.random() < 0.02:
            self.mids[symbol] = mid = max(self.spread + 1, mid + self.rng.choice((-1, 1)))
        if self.rng.random() < 0.03:
            return self.rng.randint(1, self.spec(symbol).max_price_ticks)  # far from the mid
        return max(1, mid + self.rng.randint(-self.spread, self.spread))

    def lots(self) -> int:
        if self.rng.random() < 0.1:
            return self.rng.randint(1, self.max_lots * 5)
        return self.rng.randint(1, self.max_lots)

    def order_id(self) -> OrderId:
        if self.placed and self.rng.random() < 0.02:
            return self.rng.choice(self.placed[-20:]).order_id  # maybe still open: duplicate
        self.next_order_id += self.rng.choice((1, 1, 1, 2, 1000))
        return OrderId(self.next_order_id)

    def client_id(self) -> str | None:
        draw = self.rng.random()
        if draw < 0.5:
            return None
        if draw < 0.6:
            return f"c{self.rng.randint(0, 9)}"  # a small pool: reused, often for another order
        self.client_ids += 1
        return f"k{self.client_ids}"

    def retry(self) -> Command:
        """A recent order with a client id sent again as is (a client's retry), with a new
        order id; now and then a day later, past the retry window."""
        if not self.sent:
            return self.limit(TimeInForce.GTC)
        if self.rng.random() < 0.1:
            self.ts += CLIENT_ID_WINDOW_US
        first = self.rng.choice(self.sent[-30:])
        fields = {f: getattr(first, f) for f in PlaceOrder.__struct_fields__}
        del fields["ts"], fields["order_id"]
        return self.place(**fields)

    def stp(self) -> SelfTradePrevention:
        return self.rng.choice(_STP_MODES)

    def recent(self) -> _Placed | None:
        """A recent order, most often one that may still rest (a GTC limit order)."""
        if not self.placed:
            return None
        if self.rng.random() < 0.8:
            resting = [p for p in self.placed[-40:] if p.may_rest]
            if resting:
                return self.rng.choice(resting)
        return self.rng.choice(self.placed[-30:])

    def deposit(self, user: UserId, asset: str, symbol: str) -> Deposit:
        """A deposit sized in orders of this market: rich, modest or poor."""
        spec = self.spec(symbol)
        orders = self.rng.choice((2, 10, 60, 300))
        if asset == spec.base.code:
            amount = spec.base_atoms_per_lot * self.max_lots * orders
        else:
            amount = spec.notional(self.mids[symbol], self.max_lots) * orders
        return Deposit(user_id=user, ts=self.tick(), asset=asset, amount=amount)

    def place(self, **fields: Any) -> PlaceOrder:
        """A ``PlaceOrder`` with a fresh id, remembered so that cancels can aim at it."""
        order = PlaceOrder(ts=self.tick(), order_id=self.order_id(), **fields)
        if order.client_order_id is not None:
            self.sent.append(order)
            del self.sent[:-60]
        may_rest = order.type is OrderType.LIMIT and order.tif is TimeInForce.GTC
        self.placed.append(
            _Placed(order.user_id, order.order_id, order.market, order.client_order_id, may_rest)
        )
        return order

    # --- one command of each kind --------------------------------------------------------

    def opening_deposits(self) -> list[Deposit]:
        result = []
        for user in self.users:
            for symbol in self.symbols:
                spec = self.spec(symbol)
                for asset in (spec.base.code, spec.quote.code):
                    if self.rng.random() < 0.85:
                        result.append(self.deposit(user, asset, symbol))
        return result

    def limit(self, tif: TimeInForce, *, post_only: bool = False) -> PlaceOrder:
        symbol = self.symbol()
        return self.place(
            user_id=self.user(),
            market=symbol,
            side=self.rng.choice((Side.BUY, Side.SELL)),
            type=OrderType.LIMIT,
            price=self.price(symbol),
            quantity=self.lots(),
            tif=tif,
            post_only=post_only,
            client_order_id=self.client_id(),
            stp=self.stp(),
        )

    def market(self, side: Side, *, by_quote: bool = False) -> PlaceOrder:
        symbol = self.symbol()
        spec = self.spec(symbol)
        quote_quantity = quantity = 0
        if by_quote:
            lots = self.lots()
            # Not a whole number of lots on purpose: the rest of the budget must come back.
            quote_quantity = spec.notional(self.mids[symbol], lots) + self.rng.randint(
                0, spec.notional(self.mids[symbol], 1)
            )
        else:
            quantity = self.lots()
        return self.place(
            user_id=self.user(),
            market=symbol,
            side=side,
            type=OrderType.MARKET,
            quantity=quantity,
            quote_quantity=quote_quantity,
            tif=self.rng.choice((TimeInForce.GTC, TimeInForce.IOC)),
            client_order_id=self.client_id(),
            stp=self.stp(),
        )

    def cancel(self, kind: str) -> Command:
        target = self.recent()
        if target is None or kind == "cancel_unknown":
            return CancelOrder(
                user_id=self.user(), ts=self.tick(), order_id=OrderId(self.rng.randint(1, 10**9))
            )
        user = target.user_id
        if kind == "cancel_foreign":
            user = self.rng.choice([u for u in self.users if u != target.user_id] or self.users)
        market = None
        if self.rng.random() < 0.3:
            market = target.market if self.rng.random() < 0.8 else self.symbol()
        if kind == "cancel_client_id" and target.client_order_id is not None:
            return CancelOrder(
                user_id=user, ts=self.tick(), market=market, client_order_id=target.client_order_id
            )
        if kind == "cancel_client_id" or self.rng.random() < 0.05:
            # Both ids: the order id wins, whatever order the client id names.
            return CancelOrder(
                user_id=user,
                ts=self.tick(),
                market=market,
                order_id=target.order_id,
                client_order_id=self.client_id() or "c0",
            )
        return CancelOrder(user_id=user, ts=self.tick(), market=market, order_id=target.order_id)

    def quote(self) -> Quote:
        symbol = self.symbol()
        side = self.rng.choice((Side.BUY, Side.SELL))
        if side is Side.BUY and self.rng.random() < 0.5:
            spec = self.spec(symbol)
            amount = spec.notional(self.mids[symbol], self.lots()) + self.rng.randint(0, 99)
            return Quote(
                user_id=self.user(), ts=self.tick(), market=symbol, side=side, quote_quantity=amount
            )
        return Quote(
            user_id=self.user(), ts=self.tick(), market=symbol, side=side, quantity=self.lots()
        )

    def get_order(self) -> GetOrder:
        target = self.recent()
        if target is None or self.rng.random() < 0.1:
            return GetOrder(user_id=self.user(), ts=self.tick(), order_id=OrderId(10**12))
        user = target.user_id if self.rng.random() < 0.9 else self.user()
        return GetOrder(user_id=user, ts=self.tick(), order_id=target.order_id)

    def invalid(self) -> Command:
        """A command that breaks one rule (a few are valid edge cases, on purpose)."""
        symbol = self.symbol()
        spec = self.spec(symbol)
        max_price, max_lots = spec.max_price_ticks, spec.max_quantity_lots
        user = self.user()
        side = self.rng.choice((Side.BUY, Side.SELL))
        ts = self.tick()

        def limit(**changes: Any) -> PlaceOrder:
            return replace(self.limit(TimeInForce.GTC), **changes)

        def market(side: Side, **changes: Any) -> PlaceOrder:
            return replace(self.market(side), **changes)

        make: list[Callable[[], Command]] = [
            lambda: Balances(user_id=UserId(self.rng.choice((0, -1))), ts=ts),
            lambda: limit(user_id=UserId(0)),
            lambda: limit(market=self.rng.choice(("DOGE_USDC", symbol.lower()))),
            lambda: limit(price=self.rng.choice((0, -1, max_price + 1))),
            lambda: limit(quantity=self.rng.choice((0, -2, max_lots + 1))),
            lambda: limit(quote_quantity=100),
            lambda: limit(post_only=True, tif=self.rng.choice((TimeInForce.IOC, TimeInForce.FOK))),
            lambda: limit(client_order_id=self.rng.choice(("", "x" * 65))),
            lambda: limit(client_order_id="y" * 64),  # the longest valid one
            lambda: market(side, price=1),
            lambda: market(side, post_only=True),
            lambda: market(side, tif=TimeInForce.FOK),
            lambda: market(Side.SELL, quantity=self.rng.choice((0, -1, max_lots + 1))),
            lambda: market(Side.BUY, quantity=3, quote_quantity=1000),
            lambda: market(Side.SELL, quantity=0, quote_quantity=9),
            lambda: market(Side.BUY, quantity=0, quote_quantity=MAX_BALANCE + 1),
            lambda: market(Side.BUY, quantity=0, quote_quantity=-5),
            lambda: market(Side.BUY, quantity=0, quote_quantity=1),  # buys nothing: filled
            lambda: Deposit(user_id=user, ts=ts, asset="XYZ", amount=10),
            lambda: Deposit(user_id=user, ts=ts, asset=spec.base.code, amount=-7),
            lambda: Deposit(user_id=user, ts=ts, asset=spec.quote.code, amount=0),
            lambda: Deposit(user_id=user, ts=ts, asset=spec.quote.code, amount=MAX_BALANCE),
            lambda: CancelOrder(user_id=user, ts=ts),
            lambda: CancelOrder(user_id=user, ts=ts, client_order_id="never-used"),
            lambda: CancelAll(user_id=user, ts=ts, market="NOPE_INR"),
            lambda: Quote(user_id=user, ts=ts, market=symbol, side=side),
            lambda: Quote(
                user_id=user, ts=ts, market=symbol, side=Side.BUY, quantity=1, quote_quantity=1
            ),
            lambda: Quote(user_id=user, ts=ts, market=symbol, side=Side.SELL, quote_quantity=500),
            lambda: Quote(user_id=user, ts=ts, market="NOPE_INR", side=side, quantity=1),
            lambda: Quote(user_id=user, ts=ts, market=symbol, side=side, quantity=-3),
            lambda: Quote(user_id=user, ts=ts, market=symbol, side=Side.BUY, quote_quantity=-9),
            lambda: OpenOrders(user_id=user, ts=ts, market="NOPE_INR"),
            lambda: GetOrder(user_id=UserId(-3), ts=ts, order_id=OrderId(1)),
        ]
        return self.rng.choice(make)()

    def next_command(self) -> Command:
        kind = self.rng.choices(list(_MIX), weights=list(_MIX.values()))[0]
        if kind == "deposit":
            symbol = self.symbol()
            spec = self.spec(symbol)
            asset = self.rng.choice((spec.base.code, spec.quote.code))
            return self.deposit(self.user(), asset, symbol)
        if kind.startswith("limit_") or kind == "post_only":
            tif = {"limit_ioc": TimeInForce.IOC, "limit_fok": TimeInForce.FOK}.get(
                kind, TimeInForce.GTC
            )
            return self.limit(tif, post_only=kind == "post_only")
        if kind.startswith("market_"):
            side = Side.SELL if kind == "market_sell" else Side.BUY
            return self.market(side, by_quote=kind == "market_buy_quote")
        if kind.startswith("cancel_all"):
            market = self.symbol() if self.rng.random() < 0.6 else None
            return CancelAll(user_id=self.user(), ts=self.tick(), market=market)
        if kind.startswith("cancel"):
            return self.cancel(kind)
        if kind == "quote":
            return self.quote()
        if kind == "get_order":
            return self.get_order()
        if kind == "open_orders":
            market = self.symbol() if self.rng.random() < 0.5 else None
            return OpenOrders(user_id=self.user(), ts=self.tick(), market=market)
        if kind == "balances":
            return Balances(user_id=self.user(), ts=self.tick())
        if kind == "retry":
            return self.retry()
        return self.invalid()


def random_commands(
    seed: int,
    n: int,
    *,
    config: MarketConfig | None = None,
    markets: Sequence[str] | None = None,
    users: int | None = None,
    spread: int = 6,
    max_lots: int = 20,
) -> Iterator[Command]:
    """Yield ``n`` commands of a seeded random session, opening deposits first.

    ``markets`` defaults to 2 or 3 markets of ``config`` (the default markets file), ``users``
    to 3..8 users numbered from 1. Limit prices fall within ``spread`` ticks of each market's
    mid (a few far away), quantities mostly within ``1..max_lots`` lots.
    """
    rng = random.Random(seed)
    config = config or load_markets()
    if markets is None:
        every = sorted(config.markets)
        markets = rng.sample(every, min(len(every), rng.randint(2, 3)))
    user_count = users if users is not None else rng.randint(3, 8)
    gen = _Generator(
        rng=rng,
        config=config,
        symbols=list(markets),
        users=[UserId(i) for i in range(1, user_count + 1)],
        spread=spread,
        max_lots=max_lots,
        ts=rng.randint(1, 10**9),
    )
    gen.mids = {symbol: rng.randint(spread + 1, 40 * (spread + 1)) for symbol in gen.symbols}
    produced = 0
    for deposit in gen.opening_deposits():
        if produced == n:
            return
        yield deposit
        produced += 1
    while produced < n:
        yield gen.next_command()
        produced += 1
