"""Long seeded replays, and snapshots taken mid-stream that continue exactly."""

from __future__ import annotations

import itertools

import pytest

from matcher.engine import Engine
from matcher.invariants import check_engine
from model.commands import Deposit
from model.config import load_markets
from model.events import Deposited, Rejected, TradeExecuted
from model.ids import UserId
from tests.support.commands_gen import random_commands

CONFIG = load_markets()


@pytest.mark.slow
def test_a_million_random_commands_keep_every_total() -> None:
    engine = Engine(CONFIG, max_open_orders=200)
    deposited = dict.fromkeys(engine.ledger.asset_codes, 0)
    trades = rejected = 0
    commands = random_commands(seed=20261124, n=1_000_000, users=40, spread=12, max_lots=60)
    for step, command in enumerate(commands, start=1):
        for event in engine.apply(command):
            if isinstance(event, Deposited):
                deposited[event.asset] += event.amount
            elif isinstance(event, TradeExecuted):
                trades += 1
            elif isinstance(event, Rejected):
                rejected += 1
        if step % 100_000 == 0:
            totals = dict(zip(engine.ledger.asset_codes, engine.ledger.totals(), strict=True))
            assert totals == deposited, f"totals moved by step {step}"
    assert check_engine(engine) == []
    totals = dict(zip(engine.ledger.asset_codes, engine.ledger.totals(), strict=True))
    assert totals == deposited
    assert trades > 50_000
    assert rejected < 500_000


@pytest.mark.parametrize("cut", [1, 137, 2500, 4999])
def test_snapshot_restore_continue_is_the_run_that_never_stopped(cut: int) -> None:
    commands = list(random_commands(seed=cut, n=5000))
    steady = Engine(CONFIG)
    steady_events = [steady.apply(c) for c in commands]

    first = Engine(CONFIG)
    for command in commands[:cut]:
        first.apply(command)
    resumed = Engine.restore(CONFIG, first.snapshot())
    assert resumed.state_hash() == first.state_hash()
    resumed_events = [resumed.apply(c) for c in commands[cut:]]
    assert resumed_events == steady_events[cut:]
    assert resumed.state_hash() == steady.state_hash()
    assert check_engine(resumed) == []


def test_the_state_hash_sees_every_difference() -> None:
    commands = list(itertools.islice(random_commands(seed=5, n=3000), 3000))
    a, b = Engine(CONFIG), Engine(CONFIG)
    for command in commands:
        a.apply(command)
        b.apply(command)
    assert a.state_hash() == b.state_hash()
    b.apply(Deposit(user_id=commands[0].user_id, ts=1, asset="INR", amount=1))
    assert a.state_hash() != b.state_hash()


def test_a_snapshot_from_a_config_missing_an_asset_is_refused() -> None:
    engine = Engine(CONFIG)
    engine.apply(Deposit(user_id=UserId(1), ts=1, asset="BTC", amount=5))
    smaller = load_markets()
    smaller = type(smaller)(
        assets={k: v for k, v in smaller.assets.items() if k != "BTC"},
        markets={k: v for k, v in smaller.markets.items() if "BTC" not in k},
    )
    with pytest.raises(ValueError, match="BTC"):
        Engine.restore(smaller, engine.snapshot())
