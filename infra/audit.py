"""``tidewater audit``: check a running exchange against the invariants every scenario ends with.

Run it when the load has stopped: it first waits (up to ``settle_s``) until each matcher has
consumed its command stream and the stores have caught up with the event stream, then checks:

1. per asset, accounts' available + locked + the fee account = net deposits, exactly;
2. no balance is negative, and locked = what open orders reserve;
3. no book is crossed, level totals equal their orders, the indexes match the books;
4. every acknowledged order (``acknowledged`` ids, e.g. every 2xx a load generator saw) and every
   order accepted on the event stream is either open in the matcher or final in PostgreSQL, never
   both, and filled + remaining (+ canceled) = its original quantity;
5. trades in PostgreSQL = trades on the event stream (count, quantity, notional, the same ids);
   event seqs are gapless; stored candles = candles recomputed from stored trades (``date_bin``);
6. the live matcher's ``state_hash()`` (asked through the command stream with a ``StateHash``
   probe) = that of a clean replay of the command log up to the probe. When the log was trimmed
   below a snapshot (``TIDEWATER_TRIM_COMMANDS``, on by default) the replay starts from that
   snapshot instead, and the finding says so.

Checks 1–3 run on the replayed engine, which check 6 proves equal to the live one. Each check
gives one :class:`Finding`; the audit passes when all of them do.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis

from matcher.engine import Engine
from matcher.invariants import check_engine
from matcher.service import restore_snapshot
from model import streams, topics, wire
from model.commands import StateHash
from model.config import MarketConfig
from model.enums import OrderStatus
from model.events import (
    Deposited,
    OrderAccepted,
    OrderClosed,
    OrderRested,
    StateEvent,
    StateHashResult,
    TradeExecuted,
)
from model.ids import OrderId, UserId
from model.intervals import INTERVAL_US, INTERVALS, interval_origin
from model.replies import ReplyListener
from model.settings import get_settings

__all__ = ["AuditReport", "Finding", "audit"]

_STATE_EVENTS = (OrderAccepted, TradeExecuted, OrderRested, OrderClosed, Deposited)
_FINAL = tuple(
    s.value
    for s in OrderStatus
    if s not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)  # open states
)


@dataclass(frozen=True)
class Finding:
    """One invariant's verdict with what was compared."""

    check: str
    ok: bool
    detail: str


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def add(self, check: str, problems: list[str], passed: str) -> None:
        """Record a check: passed with ``passed`` when ``problems`` is empty."""
        detail = (
            passed
            if not problems
            else "; ".join(problems[:5])
            + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.findings.append(Finding(check, not problems, detail))

    def render(self) -> str:
        lines = [f"{'OK ' if f.ok else 'BAD'}  {f.check:<34} {f.detail}" for f in self.findings]
        lines.append("audit: " + ("clean" if self.ok else "FAILED"))
        return "\n".join(lines)


# -- reading Redis --------------------------------------------------------------------------


def _matcher_idle(client: redis.Redis, shard: str) -> bool:
    return streams.unapplied_commands(client, shard) == 0


def _probe(client: redis.Redis, shard: str, timeout_s: float) -> tuple[str, StateHashResult]:
    """Ask the live matcher for its seq and state hash; return the probe's command id too."""
    edge = f"audit-{uuid.uuid4().hex[:8]}"
    request_id = uuid.uuid4().hex
    envelope = wire.CommandEnvelope(
        request_id=request_id,
        reply_to=edge,
        command=StateHash(user_id=UserId(1), ts=time.time_ns() // 1000),
    )
    with ReplyListener(client, [shard], edge) as listener:  # subscribed before it is sent
        client.xadd(topics.commands(shard), {wire.COMMAND_FIELD: wire.encode(envelope)})
        reply = listener.wait_for(request_id, timeout_s)
    if reply is not None:
        result = next(e for e in reply.events if isinstance(e, StateHashResult))
        return reply.cmd_id, result
    raise TimeoutError(f"shard {shard}: the matcher did not answer the audit probe")


# -- the checks -----------------------------------------------------------------------------


def _replay(
    client: redis.Redis, shard: str, config: MarketConfig, probe_cmd: str, first_event_cmd: str
) -> tuple[Engine, list[StateEvent], str]:
    """Replay the command log up to the probe: from scratch when it is whole, else from the
    snapshot below which it was trimmed. Returns the engine, its state events, and how."""
    settings = get_settings().matcher  # the live matcher's limits, or the replay differs
    first = streams.range_after(client, topics.commands(shard), "0-0", "+", 1)
    first_cmd = first[0][0].decode() if first else probe_cmd
    trimmed = (
        streams.id_tuple(first_cmd) > streams.id_tuple(first_event_cmd)
        if first_event_cmd
        else False
    )
    start, how = "0-0", "clean replay of the whole command log"
    engine = Engine(
        config, max_open_orders=settings.max_open_orders, closed_memory=settings.closed_memory
    )
    if trimmed:
        if not client.exists(topics.snapshot(shard)):
            raise RuntimeError(f"shard {shard}: command log trimmed but no snapshot to start from")
        engine, start = restore_snapshot(client, shard, config, settings)
        how = f"replay from the snapshot at {start} (log trimmed below it)"
    events: list[StateEvent] = []
    for entry_id, command in streams.logged_commands(client, shard, probe_cmd):
        if streams.id_tuple(entry_id) <= streams.id_tuple(start):
            continue
        events.extend(e for e in engine.apply(command) if isinstance(e, _STATE_EVENTS))
    return engine, events, how


def _check_orders(
    conn: psycopg.Connection[Any],
    engine: Engine,
    accepted: Iterable[int],
    acknowledged: Iterable[int],
) -> tuple[list[str], int]:
    problems: list[str] = []
    ids = sorted(set(accepted) | set(acknowledged))
    rows = {
        int(r[0]): r
        for r in conn.execute(
            "SELECT order_id, status, quantity, quote_quantity, executed_qty, remaining "
            "FROM orders WHERE order_id = ANY(%s)",
            (ids,),
        )
    }
    for order_id in ids:
        open_order = engine.orders.get(OrderId(order_id))
        row = rows.get(order_id)
        final = row is not None and row[1] in _FINAL
        if open_order is None and not final:
            state = "missing" if row is None else f"'{row[1]}' in PostgreSQL"
            problems.append(f"order {order_id} neither open nor final ({state})")
        elif open_order is not None and row is not None and final:
            problems.append(f"order {order_id} open in the matcher and '{row[1]}' in PostgreSQL")
        if open_order is not None:
            if not 0 < open_order.remaining <= open_order.quantity:
                problems.append(f"open order {order_id}: remaining outside 1..quantity")
        elif row is not None and final and row[2] > 0 and row[4] + row[5] != row[2]:
            problems.append(
                f"order {order_id}: filled {row[4]} + remaining/canceled {row[5]} != {row[2]}"
            )
    return problems, len(ids)


_TRADE_TOTALS = """
SELECT market, count(*), coalesce(sum(quantity), 0), coalesce(sum(quote_amount), 0)
FROM trades GROUP BY market"""

# The stored intervals come from model/intervals.py as parameters (:data:`_SPANS`):
# name, stride and origin (both in microseconds).
_CANDLE_DIFF = """
WITH spans(interval, stride, origin) AS (
    SELECT name, length_us * interval '1 microsecond',
           timestamptz 'epoch' + origin_us * interval '1 microsecond'
    FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS u(name, length_us, origin_us)),
recomputed AS (
    SELECT t.market, s.interval, date_bin(s.stride, t.ts, s.origin) AS open_time,
           (array_agg(t.price ORDER BY t.seq))[1] AS open, max(t.price) AS high,
           min(t.price) AS low, (array_agg(t.price ORDER BY t.seq DESC))[1] AS close,
           sum(t.quantity) AS volume, sum(t.quote_amount) AS quote_volume, count(*) AS trades
    FROM trades t CROSS JOIN spans s
    GROUP BY 1, 2, 3)
SELECT coalesce(r.market, c.market), coalesce(r.interval, c.interval),
       coalesce(r.open_time, c.open_time),
       (r.open, r.high, r.low, r.close, r.volume, r.quote_volume, r.trades)::text,
       (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades)::text
FROM recomputed r FULL JOIN candles c USING (market, interval, open_time)
WHERE (r.open, r.high, r.low, r.close, r.volume, r.quote_volume, r.trades)
      IS DISTINCT FROM (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades)
ORDER BY 3 LIMIT 20"""
_SPANS = (
    list(INTERVALS),
    [INTERVAL_US[name] for name in INTERVALS],
    [interval_origin(name) for name in INTERVALS],
)


def _trade_totals(events: list[StateEvent]) -> dict[str, tuple[int, int, int]]:
    totals: dict[str, list[int]] = {}
    for event in events:
        if isinstance(event, TradeExecuted):
            entry = totals.setdefault(event.market, [0, 0, 0])
            entry[0] += 1
            entry[1] += event.quantity
            entry[2] += event.quote_amount
    return {market: (n, q, v) for market, (n, q, v) in totals.items()}


def _eventually(check: Any, timeout_s: float) -> Any:
    """Call ``check`` until it returns an empty problem list or time runs out; return the last."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if not result[0] or time.monotonic() >= deadline:
            return result
        time.sleep(0.25)


def audit(
    client: redis.Redis,
    conn: psycopg.Connection[Any],
    config: MarketConfig,
    shards: dict[str, list[str]],
    *,
    acknowledged: Iterable[int] = (),
    settle_s: float = 30.0,
    check_candles: bool = True,
) -> AuditReport:
    """Check every invariant of the module docstring; ``conn`` should be autocommit."""
    report = AuditReport()
    acknowledged = set(acknowledged)
    all_events: list[StateEvent] = []
    for shard in sorted(shards):
        deadline = time.monotonic() + settle_s
        while not _matcher_idle(client, shard) and time.monotonic() < deadline:
            time.sleep(0.1)
        probe_cmd, live = _probe(client, shard, settle_s)
        tagged = streams.logged_events(client, shard)
        events = [e for _, e in tagged]
        all_events += events
        breaks = streams.seq_breaks(tagged)
        epochs = streams.writer_epochs(client, shard)
        report.add(
            f"[{shard}] 5 journal: one writer",
            [f"FORKED journal (two writers on one shard): {fork}" for fork in breaks.forks]
            + [f"FORKED journal: {regression}" for regression in streams.epoch_regressions(epochs)],
            f"no seq written twice in {len(events)} state events; "
            f"{len({e for _, e in epochs})} writer epoch(s), never going back",
        )
        report.add(
            f"[{shard}] 5 seqs gapless",
            [f"gap: {gap}" for gap in breaks.gaps],
            f"{len(events)} state events, seq 1..{len(events)}",
        )
        engine, replayed, how = _replay(
            client, shard, config, probe_cmd, tagged[0][0] if tagged else ""
        )
        problems = []
        if engine.state_hash() != live.state_hash:
            problems.append(f"live {live.state_hash[:12]} != replay {engine.state_hash()[:12]}")
        if engine.seq != live.seq or live.seq != len(events):
            problems.append(f"seq: live {live.seq}, replay {engine.seq}, stream {len(events)}")
        if replayed and replayed != events[len(events) - len(replayed) :]:
            problems.append("the event stream differs from the replay's events")
        report.add(f"[{shard}] 6 state hash = replay", problems, f"{how}; seq {live.seq}")
        invariants = check_engine(engine)
        report.add(
            f"[{shard}] 1-3 balances, locks, books",
            invariants,
            f"{len(engine.ledger.accounts)} accounts, {len(engine.orders)} open orders: sound",
        )
        accepted = [e.order_id for e in events if isinstance(e, OrderAccepted)]
        order_problems, checked = _eventually(
            lambda engine=engine, accepted=accepted: _check_orders(
                conn, engine, accepted, acknowledged
            ),
            settle_s,
        )
        report.add(
            f"[{shard}] 4 every order in one state",
            order_problems,
            f"{checked} orders ({len(acknowledged)} acknowledged) each open xor final",
        )
        report.figures[f"{shard}.events"] = len(events)
        report.figures[f"{shard}.open_orders"] = len(engine.orders)

    stream_totals = _trade_totals(all_events)

    def compare_trades() -> tuple[list[str], None]:
        stored = {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in conn.execute(_TRADE_TOTALS)}
        problems = [
            f"{m}: stream (n, qty, notional) {stream_totals.get(m)} != stored {stored.get(m)}"
            for m in sorted(set(stream_totals) | set(stored))
            if stream_totals.get(m) != stored.get(m)
        ]
        return problems, None

    trade_problems, _ = _eventually(compare_trades, settle_s)
    stream_ids: Counter[tuple[str, int]] = Counter(
        (e.market, int(e.trade_id)) for e in all_events if isinstance(e, TradeExecuted)
    )
    stored_ids = Counter(
        (str(m), int(t)) for m, t in conn.execute("SELECT market, trade_id FROM trades")
    )
    if stream_ids != stored_ids:
        trade_problems.append(
            f"trade ids differ: {len(stream_ids - stored_ids)} only on the stream, "
            f"{len(stored_ids - stream_ids)} only (or twice) in PostgreSQL"
        )
    duplicates = [k for k, n in stream_ids.items() if n > 1]
    if duplicates:
        trade_problems.append(f"trade ids repeated on the stream: {duplicates[:5]}")
    n_trades = sum(stream_ids.values())
    report.add("5 trades stored = trades streamed", trade_problems, f"{n_trades} trades, same ids")
    report.figures["trades"] = n_trades
    if check_candles:

        def compare_candles() -> tuple[list[str], None]:
            rows = conn.execute(_CANDLE_DIFF, _SPANS).fetchall()
            return [f"{r[0]} {r[1]} {r[2]}: trades {r[3]} != stored {r[4]}" for r in rows], None

        candle_problems, _ = _eventually(compare_candles, settle_s)
        stored_candles = conn.execute("SELECT count(*) FROM candles").fetchone()
        report.add(
            "5 candles = candles from trades",
            candle_problems,
            f"{stored_candles[0] if stored_candles else 0} candles match date_bin over trades",
        )
    return report
