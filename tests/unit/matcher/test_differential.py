"""Differential test: the engine and the naive reference matcher agree on random sessions.

Both run the same seeded command streams (:mod:`tests.support.commands_gen`); after every command
their event lists must be equal (``Rejected.message`` aside, which the rules leave free), and at
the end their L2 books, balances and fees. A second test makes sure the streams really reach
trades, rests, cancels, every rejection and every self-trade prevention mode, so agreement is
not agreement about nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from matcher.engine import Engine
from model.commands import Command, OpenOrders, PlaceOrder, Quote
from model.config import load_markets
from model.enums import CloseReason, OrderStatus, SelfTradePrevention, Side
from model.events import (
    Event,
    OpenOrdersResult,
    OrderClosed,
    OrderRested,
    OrderState,
    QuoteResult,
    Rejected,
    TradeExecuted,
)
from model.ids import UserId
from model.rejects import RejectCode
from tests.support.commands_gen import random_commands
from tests.support.reference_matcher import ReferenceEngine, without_messages

CONFIG = load_markets()


class Profile(NamedTuple):
    """A family of random sessions: how many, how long, and the generator's knobs."""

    seeds: range
    commands: int
    users: int | None = None  # None: 3..8, chosen by the seed
    spread: int = 6
    max_lots: int = 20


PROFILES = {
    # Many short sessions over 2-3 markets and 3-8 users: every path, often.
    "short": Profile(range(300), 300),
    # A few long sessions in a narrow band: deep levels, long FIFO queues, many partial fills.
    "deep": Profile(range(1000, 1006), 2500, spread=3),
    # Two users trading tiny sizes: self-trade prevention at every turn.
    "two_users": Profile(range(2000, 2060), 400, users=2, max_lots=3),
}


def _limits(seed: int) -> dict[str, int]:
    """Small caps on some seeds so that ``TOO_MANY_OPEN_ORDERS`` and forgetting happen too."""
    return {
        "max_open_orders": (4, 12, 1000)[seed % 3],
        "closed_memory": (5, 40, 10_000, 10_000)[seed % 4],
    }


def _engine_balances(engine: Engine) -> dict[tuple[UserId, str], tuple[int, int]]:
    ledger = engine.ledger
    result: dict[tuple[UserId, str], tuple[int, int]] = {}
    for user_id, account in ledger.accounts.items():
        for i, code in enumerate(ledger.asset_codes):
            if account.available[i] or account.locked[i]:
                result[user_id, code] = (account.available[i], account.locked[i])
    return dict(sorted(result.items()))


def _engine_fees(engine: Engine) -> dict[str, int]:
    ledger = engine.ledger
    return {code: fee for code, fee in zip(ledger.asset_codes, ledger.fees, strict=True) if fee}


def _assert_same(
    seed: int, step: int, command: Command, got: list[Event], want: list[Event]
) -> None:
    if without_messages(got) != without_messages(want):
        pytest.fail(
            f"seed {seed}, command {step}: {command!r}\nengine:    {got!r}\nreference: {want!r}"
        )


def _check_session(seed: int, profile: Profile) -> None:
    """Run one seeded session through both matchers, comparing after every command."""
    engine = Engine(CONFIG, **_limits(seed))
    reference = ReferenceEngine(CONFIG, **_limits(seed))
    users: set[UserId] = set()
    commands = random_commands(
        seed,
        profile.commands,
        config=CONFIG,
        users=profile.users,
        spread=profile.spread,
        max_lots=profile.max_lots,
    )
    for step, command in enumerate(commands):
        _assert_same(seed, step, command, engine.apply(command), reference.apply(command))
        if command.user_id > 0:
            users.add(command.user_id)
    for symbol in CONFIG.markets:
        for side in Side:
            assert engine.levels(symbol, side) == reference.levels(symbol, side), (seed, symbol)
    assert _engine_balances(engine) == reference.balances(), seed
    assert _engine_fees(engine) == reference.fees(), seed
    for user in sorted(users):
        query = OpenOrders(user_id=user, ts=0)
        _assert_same(seed, -1, query, engine.apply(query), reference.apply(query))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_engine_matches_reference_on_random_sessions(name: str) -> None:
    profile = PROFILES[name]
    for seed in profile.seeds:
        _check_session(seed, profile)


def _outcomes(command: Command, events: list[Event]) -> Iterator[str]:
    """Names for what one command did, for the coverage test."""
    traded = any(isinstance(e, TradeExecuted) for e in events)
    for event in events:
        if isinstance(event, Rejected):
            yield f"rejected:{event.code}"
        elif isinstance(event, TradeExecuted):
            yield "trade"
            if event.taker_refund:
                yield "price_improvement"
            if event.maker_remaining:
                yield "partial_maker_fill"
        elif isinstance(event, OrderRested):
            yield "rested_after_trade" if traded else "rested"
        elif isinstance(event, OrderClosed):
            yield f"closed:{event.reason}"
            if event.reason is CloseReason.SELF_TRADE and isinstance(command, PlaceOrder):
                yield f"stp:{command.stp}"
        elif isinstance(event, QuoteResult):
            yield f"quote:fully_filled={event.fully_filled}"
        elif isinstance(event, OrderState):
            yield f"order_state:{event.status}"
        elif isinstance(event, OpenOrdersResult) and event.orders:
            yield "open_orders"
    if isinstance(command, PlaceOrder) and traded:
        yield f"{command.type}:{command.tif}:traded"


EXPECTED_OUTCOMES = {
    "trade",
    "price_improvement",
    "partial_maker_fill",
    "rested",
    "rested_after_trade",
    "open_orders",
    "quote:fully_filled=True",
    "quote:fully_filled=False",
    "market:IOC:traded",
    "market:GTC:traded",
    "limit:IOC:traded",
    "limit:FOK:traded",
    *(f"order_state:{status}" for status in OrderStatus),
    *(f"closed:{reason}" for reason in CloseReason),
    *(f"stp:{mode}" for mode in SelfTradePrevention),
    *(f"rejected:{code}" for code in RejectCode),
}


def test_generator_reaches_every_outcome() -> None:
    """The short sessions reach every outcome, so the differential test is not vacuous."""
    profile = PROFILES["short"]
    seen: Counter[str] = Counter()
    for seed in profile.seeds:
        engine = Engine(CONFIG, **_limits(seed))
        for command in random_commands(seed, profile.commands, config=CONFIG):
            seen.update(_outcomes(command, engine.apply(command)))
    missing = EXPECTED_OUTCOMES - set(seen)
    assert not missing, f"never produced: {sorted(missing)}; seen: {dict(seen)}"
    assert seen["trade"] > 10_000
    assert seen[f"closed:{CloseReason.USER_CANCEL}"] > 1_000
    assert seen["rested"] > 10_000


def test_same_seed_same_commands() -> None:
    first = list(random_commands(7, 500))
    assert first == list(random_commands(7, 500))
    assert first != list(random_commands(8, 500))
    stamps = [command.ts for command in first]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(("quantity", "quote_quantity"), [(2, -5), (-3, 5)])
def test_quote_with_a_negative_amount_beside_a_positive_one(
    quantity: int, quote_quantity: int
) -> None:
    query = Quote(
        user_id=UserId(1),
        ts=1,
        market="TATA_INR",
        side=Side.BUY,
        quantity=quantity,
        quote_quantity=quote_quantity,
    )
    got = Engine(CONFIG).apply(query)
    assert without_messages(got) == without_messages(ReferenceEngine(CONFIG).apply(query))
