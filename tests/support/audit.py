"""Check a shard after a run: the matcher's state against a clean replay and against its events.

Used by the durability tests (and, later, by ``tidewater audit``): the command log is the truth,
the event stream must be exactly what a fresh engine emits for that log, and balances rebuilt
from events must be the engine's own, conserved and never negative.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import redis

from matcher.engine import Engine
from matcher.invariants import check_engine
from matcher.service import MatcherService
from model.config import MarketConfig
from model.events import OrderAccepted, StateEvent, TradeExecuted
from model.ledger import LedgerReplica
from model.settings import MatcherSettings
from tests.support.streams import all_commands, all_events, clean_replay


@dataclass
class AuditReport:
    engine: Engine
    events: list[StateEvent]
    accepted: collections.Counter[int] = field(default_factory=collections.Counter)
    trades: int = 0


def audit_shard(client: redis.Redis, shard: str, config: MarketConfig) -> AuditReport:
    """Recover the shard from Redis and check it against a replay of its whole command log.

    Needs the matcher stopped (or idle) and the command log untrimmed.
    """
    service = MatcherService(client, shard, config, MatcherSettings(trim_commands=False))
    service.recover()
    engine = service.engine
    assert check_engine(engine) == []
    replay, replayed_events = clean_replay(config, [c for _, c in all_commands(client, shard)])
    events = [e for _, e in all_events(client, shard)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "seq gapless, once each"
    assert events == replayed_events, "events differ from a clean replay of the command log"
    assert engine.state_hash() == replay.state_hash()
    replica = LedgerReplica(config)
    for event in events:
        replica.apply(event)
    deposited = dict(zip(engine.ledger.asset_codes, engine.ledger.deposited, strict=True))
    totals = replica.totals()
    assert {a: totals.get(a, 0) for a in deposited} == deposited, "conservation"
    for (user, asset), (available, locked) in replica.nonzero().items():
        assert available >= 0, (user, asset)
        assert locked >= 0, (user, asset)
    report = AuditReport(engine=engine, events=events)
    for event in events:
        if isinstance(event, OrderAccepted):
            report.accepted[event.order_id] += 1
        elif isinstance(event, TradeExecuted):
            report.trades += 1
    return report
