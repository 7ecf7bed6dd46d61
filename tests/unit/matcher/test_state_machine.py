"""Property test: any sequence of commands keeps every engine invariant.

Two markets, four users, every command type. After every step: per-asset conservation against
deposits counted here (not by the engine), no negative balance, locks equal what open orders can
spend, books uncrossed and consistent (``check_engine``), and a rejected command leaves the state
byte-for-byte unchanged, as does every query.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from matcher.engine import Engine
from matcher.invariants import check_engine
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
from model.config import load_markets
from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.events import Rejected
from model.ids import OrderId, UserId

CONFIG = load_markets()
MARKETS = {"TATA_INR": 100_000, "BTC_USDC": 5_000_000}  # mid price in ticks
USERS = st.sampled_from([UserId(1), UserId(2), UserId(3), UserId(4)])
SIDES = st.sampled_from(list(Side))
MARKET = st.sampled_from(sorted(MARKETS))
CLIENT_IDS = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
STP = st.sampled_from(list(SelfTradePrevention))


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(CONFIG, max_open_orders=20)
        self.deposited = dict.fromkeys(CONFIG.assets, 0)
        self.next_id = 1
        self.ts = 0
        self.placed: list[OrderId] = []

    @initialize(amount=st.integers(10**9, 10**13))
    def fund_everyone(self, amount: int) -> None:
        for user in (1, 2, 3, 4):
            for asset in CONFIG.assets:
                self.engine.apply(Deposit(user_id=UserId(user), ts=0, asset=asset, amount=amount))
                self.deposited[asset] += amount

    def _apply(self, command: Command, *, changes_state: bool = True) -> None:
        before = self.engine.snapshot()
        events = self.engine.apply(command)
        rejected = any(isinstance(e, Rejected) for e in events)
        for e in events:
            event(f"Rejected {e.code}" if isinstance(e, Rejected) else type(e).__name__)
        if rejected:
            assert len(events) == 1, events
        if rejected or not changes_state:
            assert self.engine.snapshot() == before, f"{command} changed state: {events}"

    def _tick(self) -> int:
        self.ts += 1
        return self.ts

    @rule(user=USERS, asset=st.sampled_from(sorted(CONFIG.assets)), amount=st.integers(0, 10**12))
    def deposit(self, user: UserId, asset: str, amount: int) -> None:
        events = self.engine.apply(
            Deposit(user_id=user, ts=self._tick(), asset=asset, amount=amount)
        )
        if not isinstance(events[0], Rejected):
            self.deposited[asset] += amount

    @rule(
        user=USERS,
        market=MARKET,
        side=SIDES,
        offset=st.integers(-30, 30),
        quantity=st.integers(1, 500),
        tif=st.sampled_from(list(TimeInForce)),
        post_only=st.booleans(),
        client_id=CLIENT_IDS,
        stp=STP,
    )
    def place_limit(
        self,
        user: UserId,
        market: str,
        side: Side,
        offset: int,
        quantity: int,
        tif: TimeInForce,
        post_only: bool,
        client_id: str | None,
        stp: SelfTradePrevention,
    ) -> None:
        order_id = OrderId(self.next_id)
        self.next_id += 1
        self.placed.append(order_id)
        self._apply(
            PlaceOrder(
                user_id=user,
                ts=self._tick(),
                order_id=order_id,
                market=market,
                side=side,
                type=OrderType.LIMIT,
                price=MARKETS[market] + offset * 100,
                quantity=quantity,
                tif=tif,
                post_only=post_only and tif is TimeInForce.GTC,
                client_order_id=client_id,
                stp=stp,
            )
        )

    @rule(
        user=USERS,
        market=MARKET,
        side=SIDES,
        quantity=st.integers(0, 800),
        quote=st.integers(0, 10**10),
        stp=STP,
    )
    def place_market(
        self,
        user: UserId,
        market: str,
        side: Side,
        quantity: int,
        quote: int,
        stp: SelfTradePrevention,
    ) -> None:
        by_quote = side is Side.BUY and quantity % 2 == 0
        order_id = OrderId(self.next_id)
        self.next_id += 1
        self._apply(
            PlaceOrder(
                user_id=user,
                ts=self._tick(),
                order_id=order_id,
                market=market,
                side=side,
                type=OrderType.MARKET,
                quantity=0 if by_quote else quantity,
                quote_quantity=quote if by_quote else 0,
                stp=stp,
            )
        )

    @rule(user=USERS, pick=st.integers(0, 10**6))
    def cancel(self, user: UserId, pick: int) -> None:
        if self.placed:
            order_id = self.placed[pick % len(self.placed)]
            self._apply(CancelOrder(user_id=user, ts=self._tick(), order_id=order_id))

    @rule(user=USERS, client_id=st.sampled_from(["a", "b", "c"]))
    def cancel_by_client_id(self, user: UserId, client_id: str) -> None:
        self._apply(CancelOrder(user_id=user, ts=self._tick(), client_order_id=client_id))

    @rule(user=USERS, market=st.one_of(st.none(), MARKET))
    def cancel_all(self, user: UserId, market: str | None) -> None:
        self._apply(CancelAll(user_id=user, ts=self._tick(), market=market))

    @rule(user=USERS, market=MARKET, side=SIDES, quantity=st.integers(1, 2000))
    def queries(self, user: UserId, market: str, side: Side, quantity: int) -> None:
        ts = self._tick()
        for query in (
            Quote(user_id=user, ts=ts, market=market, side=side, quantity=quantity),
            GetOrder(user_id=user, ts=ts, order_id=OrderId(max(1, self.next_id - 1))),
            OpenOrders(user_id=user, ts=ts, market=market),
            Balances(user_id=user, ts=ts),
        ):
            self._apply(query, changes_state=False)

    @invariant()
    def sound(self) -> None:
        assert check_engine(self.engine) == []

    @invariant()
    def conserved(self) -> None:
        totals = dict(zip(self.engine.ledger.asset_codes, self.engine.ledger.totals(), strict=True))
        assert totals == self.deposited


EngineMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
