"""The persist agent: orders, trades and ledger entries into PostgreSQL, private updates out.

It consumes ``tw:{shard}:events`` in group ``persist``, a batch of entries at a time, and writes
each batch in ONE transaction:

* ``trades``: one row per ``TradeExecuted``; ``ledger``: one row per balance movement
  (``model.ledger.balance_changes``), keyed by (shard, seq, entry). Both insert with
  ``ON CONFLICT DO NOTHING``, so a batch delivered twice adds nothing.
* ``orders``: a row when an order is accepted; the events that change it (fills, rests,
  closes) are folded into one update per order and batch, counting only the events whose seq is
  above the row's ``updated_seq``: a replayed event finds its seq already applied and changes
  nothing, however the entries are cut into batches.

Rows reach PostgreSQL by ``COPY`` into per-connection temporary tables, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` or ``UPDATE ... FROM`` per table.

After the commit it publishes the private updates of each affected user that someone follows
(``PUBSUB NUMSUB``, asked after the commit: whoever subscribes later reads a snapshot that already
holds the batch) on ``user:{id}`` (the WebSocket's ``orders`` stream): order changes (``{"e":
"order"}``, ``change`` ``accepted``, ``rested`` or ``closed``; ``timestamp`` in ms) and fills
(``{"e": "fill"}``, :func:`model.fills.account_fill`) in event order, each with ``order``: the
order as it stood just after that change (an ``OrderView``, from the stored row and the batch's
fills); then every balance the batch touched as it now stands (``{"e": "balance"}``), from the
``balances`` table the same transaction keeps. If PostgreSQL is down the batch fails, the agent
restarts with backoff, and the unacked entries come again: nothing is lost and nothing is counted
twice.

One writer per shard
--------------------
The fold above is only right if batches commit in stream order: two agents committing batches
out of order (the second first) would set ``updated_seq`` past the first's events and drop its
fills. So each shard's agent is a single writer (``pipeline/fence.py``): it takes the lease
``topics.persist_lease(shard)`` before it reads anything, waits as a standby while another
process holds it (and says so), and renews it. Under that lease it reads, claims and acks the
group's entries only through fenced scripts (``pipeline/source.py``), publishes the private
updates in one fenced script per batch, and fences each transaction with the lease epoch (role
``persist:{shard}``; the claim follows the ``COPY`` into this session's temporary tables and
precedes every write to a shared table). When another agent takes the lease the process stops
at once with exit code :data:`~pipeline.fence.EXIT_FENCED` (its supervisor starts it again, as
a standby); a lease lost with nobody holding it (Redis away past it) is taken again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg
import redis
import redis.asyncio as aioredis

from model import topics, wire
from model.api import OrderView
from model.config import MarketConfig
from model.enums import CLOSE_STATUS, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from model.events import (
    OrderAccepted,
    OrderClosed,
    OrderRested,
    OrderState,
    StateEvent,
    TradeExecuted,
)
from model.fills import TradeRecord, account_fill
from model.ids import FEE_ACCOUNT, OrderId, UserId
from model.lease import FENCE, LeaseLostError
from model.ledger import balance_changes
from model.numbers import MarketSpec
from model.settings import LeaseSettings, get_settings
from model.timestamps import from_micros
from model.views import order_view, progressed
from pipeline.app import App
from pipeline.fence import (
    EXIT_FENCED,
    Fence,
    acall_fenced,
    aclaim,
    acquire_async,
    new_lease,
    persist_role,
)
from pipeline.stream import Stream

__all__ = ["PersistStore", "PrivateUpdates", "UserPublisher", "build_app", "main", "run_shard"]

log = logging.getLogger("tidewater.persist")

# One COPY per table and batch into a temporary table, then one statement into the real one
# (row-by-row executemany was 59% of the agent's time; arrays for unnest() spent 40% in
# psycopg's Python list dumper; COPY's rows are formatted in C).
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_orders (LIKE orders INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_trades (LIKE trades) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_ledger (LIKE ledger) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_changes (
    order_id BIGINT, seq BIGINT, qty BIGINT, quote BIGINT, remaining BIGINT, status TEXT
) ON COMMIT DELETE ROWS;
"""
_COPY_ORDERS = """COPY stage_orders (order_id, user_id, market, side, type, tif, price, quantity,
    quote_quantity, post_only, client_order_id, remaining, status, created_at, updated_seq, stp)
    FROM STDIN"""
_COPY_TRADES = """COPY stage_trades (market, trade_id, ts, price, quantity, quote_amount,
    taker_side, maker_order_id, taker_order_id, maker_user_id, taker_user_id, maker_fee,
    taker_fee, seq) FROM STDIN"""
_COPY_LEDGER = """COPY stage_ledger (shard, seq, entry, ts, user_id, asset, available, locked,
    kind) FROM STDIN"""
_COPY_CHANGES = "COPY stage_changes (order_id, seq, qty, quote, remaining, status) FROM STDIN"
_INSERT_ORDERS = "INSERT INTO orders SELECT * FROM stage_orders ON CONFLICT DO NOTHING"
_INSERT_TRADES = "INSERT INTO trades SELECT * FROM stage_trades ON CONFLICT DO NOTHING"
# The rows actually added (a replayed batch adds none) move the balances they sum.
_INSERT_LEDGER = """
WITH added AS (
    INSERT INTO ledger SELECT * FROM stage_ledger ON CONFLICT DO NOTHING
    RETURNING user_id, asset, available, locked
), moved AS (
    SELECT user_id, asset, sum(available) AS available, sum(locked) AS locked
    FROM added GROUP BY user_id, asset
)
INSERT INTO balances AS b (user_id, asset, available, locked)
SELECT user_id, asset, available, locked FROM moved
ON CONFLICT (user_id, asset) DO UPDATE
    SET available = b.available + excluded.available, locked = b.locked + excluded.locked"""
# Every balance the batch touched, as it stands after it: what the private stream pushes (a
# batch delivered again pushes the same figures again).
_TOUCHED_BALANCES = """
SELECT b.user_id, b.asset, b.available, b.locked
FROM balances b JOIN (SELECT DISTINCT user_id, asset FROM stage_ledger) s USING (user_id, asset)
ORDER BY b.user_id, b.asset"""
# Each order's new events (seq above its updated_seq) folded into one update: fills add up,
# the last event sets remaining and status. An order back on the book ("new") after a fill is
# partially filled.
_APPLY_CHANGES = """
WITH c AS (
    SELECT s.order_id, sum(s.qty) AS qty, sum(s.quote) AS quote,
        (array_agg(s.remaining ORDER BY s.seq DESC))[1] AS remaining,
        (array_agg(s.status ORDER BY s.seq DESC))[1] AS status,
        max(s.seq) AS seq
    FROM stage_changes s JOIN orders o ON o.order_id = s.order_id
    WHERE s.seq > o.updated_seq
    GROUP BY s.order_id
)
UPDATE orders o SET executed_qty = o.executed_qty + c.qty,
    executed_quote = o.executed_quote + c.quote, remaining = c.remaining,
    status = CASE WHEN c.status = 'new' AND o.executed_qty + c.qty > 0 THEN 'partially_filled'
                  ELSE c.status END,
    updated_seq = c.seq
FROM c WHERE o.order_id = c.order_id"""

# The orders a batch's private messages speak of, as they stand once the batch is applied.
_TOUCHED_ORDERS = """
SELECT order_id, user_id, market, side, type, tif, price, quantity, remaining, executed_qty,
       executed_quote, status, client_order_id, post_only, stp,
       (extract(epoch from created_at) * 1000000)::bigint
FROM orders WHERE order_id = ANY(%s)"""

# After FENCE: ARGV[2..] channel/payload pairs, published in order.
_PUBLISH = """
for i = 2, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return 1
"""
_PUBLISH_CHUNK = 1000  # messages per script call

_json = msgspec.json.Encoder()


#: An order message or fill of a batch: the message, its user, its order, the lots and quote the
#: change filled (0 for an order message).
_About = tuple[dict[str, Any], int, int, int, int]


@dataclass(frozen=True, slots=True)
class PrivateUpdates:
    """A stored batch's private updates: each user's messages in order, and what each order
    message or fill is about (for :meth:`PersistStore.describe`)."""

    messages: dict[int, list[dict[str, Any]]]
    about: list[_About]


class PersistStore:
    """Turns state events into rows and writes a batch of them in one transaction, fenced by
    ``fence`` (the shard's persist lease)."""

    def __init__(self, database_url: str, config: MarketConfig, shard: str, fence: Fence) -> None:
        self.database_url = database_url
        self.config = config
        self.shard = shard
        self.fence = fence
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(self.database_url)
            async with conn.transaction():
                await conn.execute(_STAGING)
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def write(self, events: list[StateEvent]) -> PrivateUpdates:
        """Store ``events`` (in seq order); return each user's private updates to publish: their
        orders' changes and fills in event order, then each balance the batch touched (orders
        not yet described: :meth:`describe`)."""
        trades: list[tuple[Any, ...]] = []
        ledger: list[tuple[Any, ...]] = []
        new_orders: list[tuple[Any, ...]] = []
        changes: list[tuple[int, int, int, int, int, str]] = []
        updates: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        # Each order message or fill: its user, its order's id, the lots and quote it filled.
        about: list[_About] = []
        seen: set[int] = set()
        for event in events:
            if event.seq in seen:
                continue  # the same entry twice in one batch: the update fold must count it once
            seen.add(event.seq)
            when = from_micros(event.ts)
            for entry, (user, asset, free, held) in enumerate(balance_changes(event, self.config)):
                kind = type(event).__name__
                ledger.append((self.shard, event.seq, entry, when, user, asset, free, held, kind))
            if isinstance(event, OrderAccepted):
                new_orders.append((
                    event.order_id, event.user_id, event.market, event.side.value,
                    event.type.value, event.tif.value, event.price, event.quantity,
                    event.quote_quantity, event.post_only, event.client_order_id,
                    event.quantity, OrderStatus.NEW.value, when, event.seq, event.stp.value,
                ))  # fmt: skip
                accepted = {
                    "e": "order", "change": "accepted", "orderId": str(event.order_id),
                    "status": OrderStatus.NEW.value, "timestamp": event.ts // 1000,
                }  # fmt: skip
                updates[event.user_id].append(accepted)
                about.append((accepted, event.user_id, event.order_id, 0, 0))
            elif isinstance(event, TradeExecuted):
                record: TradeRecord = (
                    event.trade_id, event.ts, event.price, event.quantity, event.quote_amount,
                    event.taker_side, event.maker_order_id, event.taker_order_id,
                    event.maker_user_id, event.maker_fee, event.taker_fee,
                )  # fmt: skip
                trades.append((
                    event.market, event.trade_id, when, event.price, event.quantity,
                    event.quote_amount, event.taker_side.value, event.maker_order_id,
                    event.taker_order_id, event.maker_user_id, event.taker_user_id,
                    event.maker_fee, event.taker_fee, event.seq,
                ))  # fmt: skip
                for order_id, remaining, user in (
                    (event.maker_order_id, event.maker_remaining, event.maker_user_id),
                    (event.taker_order_id, event.taker_remaining, event.taker_user_id),
                ):
                    is_maker = order_id == event.maker_order_id
                    status = (
                        OrderStatus.FILLED
                        if is_maker and remaining == 0
                        else (OrderStatus.PARTIALLY_FILLED)
                    )
                    changes.append((
                        order_id, event.seq, event.quantity, event.quote_amount, remaining,
                        status.value,
                    ))  # fmt: skip
                    fill = account_fill(self.config.markets[event.market], record, user)
                    message = {"e": "fill", **msgspec.to_builtins(fill)}
                    updates[user].append(message)
                    about.append((message, user, order_id, event.quantity, event.quote_amount))
            elif isinstance(event, OrderRested | OrderClosed):
                status = (
                    OrderStatus.NEW
                    if isinstance(event, OrderRested)
                    else CLOSE_STATUS[event.reason]
                )
                changes.append((event.order_id, event.seq, 0, 0, event.remaining, status.value))
                change = "rested" if isinstance(event, OrderRested) else "closed"
                message = {"e": "order", "change": change, "orderId": str(event.order_id),
                           "status": status.value, "timestamp": event.ts // 1000}  # fmt: skip
                updates[event.user_id].append(message)
                about.append((message, event.user_id, event.order_id, 0, 0))
        conn = await self._connection()
        try:
            async with conn.transaction(), conn.cursor() as cur:
                staged = [
                    (copy_sql, rows, apply_sql)
                    for copy_sql, rows, apply_sql in (
                        (_COPY_ORDERS, new_orders, _INSERT_ORDERS),
                        (_COPY_CHANGES, changes, _APPLY_CHANGES),
                        (_COPY_TRADES, trades, _INSERT_TRADES),
                        (_COPY_LEDGER, ledger, _INSERT_LEDGER),
                    )
                    if rows
                ]
                for copy_sql, rows, _ in staged:  # into this session's temporary tables
                    async with cur.copy(copy_sql) as copy:
                        for row in rows:
                            await copy.write_row(row)
                # Before any shared table: refused (FencedOutError) when a newer agent has
                # written, and the whole transaction rolls back.
                await aclaim(cur, self.fence)
                for _, _, apply_sql in staged:
                    await cur.execute(apply_sql)
                if ledger:
                    await cur.execute(_TOUCHED_BALANCES)
                    for user, asset, available, locked in await cur.fetchall():
                        if user != FEE_ACCOUNT:
                            spec = self.config.assets[asset]
                            updates[user].append({
                                "e": "balance", "asset": asset,
                                "available": spec.format(available), "locked": spec.format(locked),
                            })  # fmt: skip
        except psycopg.OperationalError:
            # PostgreSQL went away: drop the connection; the agent restarts and the batch,
            # never acked, comes again once the database answers.
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        return PrivateUpdates(dict(updates), about)

    async def describe(self, batch: PrivateUpdates, users: set[int]) -> None:
        """Give ``users``' order messages and fills of a stored batch their ``order``: an
        ``OrderView``, encoded with the message, as the order stood just after it. Read after
        the commit: only this agent writes orders, so the rows are the batch's outcome."""
        about = [entry for entry in batch.about if entry[1] in users]
        if not about:
            return
        conn = await self._connection()
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute(_TOUCHED_ORDERS, (list({entry[2] for entry in about}),))
            rows = await cur.fetchall()
        self._describe(about, rows)

    def _describe(self, about: list[_About], rows: list[Any]) -> None:
        """Give each order message and fill its ``order`` (an ``OrderView``, encoded with the
        message) as it stood just after it: the stored row is the order after the whole batch,
        so the batch's fills are taken back off, last first (a batch delivered again describes
        the same orders the same way). Each order's fixed fields are read once per batch."""
        stored = {row[0]: row for row in rows}
        orders: dict[int, tuple[MarketSpec, OrderState, OrderView]] = {}
        executed: dict[int, tuple[int, int]] = {}
        for message, _, order_id, lots, quote in reversed(about):
            known = orders.get(order_id)
            if known is None:
                row = stored.get(order_id)
                if row is None:  # never: every message's order was stored in this transaction
                    continue
                spec, state = self._stored_state(row)
                known = orders[order_id] = spec, state, order_view(spec, state)
                executed[order_id] = (state.executed_quantity, state.executed_quote)
            spec, state, view = known
            done, spent = executed[order_id]
            if "status" in message:  # back on the book after a fill: partially filled
                status = OrderStatus(message["status"])
                if status is OrderStatus.NEW and done:
                    status = OrderStatus.PARTIALLY_FILLED
            else:  # a fill: the order is filled once no lots remain
                filled = state.quantity and done >= state.quantity
                status = OrderStatus.FILLED if filled else OrderStatus.PARTIALLY_FILLED
            if (done, spent, status) == (state.executed_quantity, state.executed_quote,
                                         state.status):  # fmt: skip
                message["order"] = view  # as stored: the order's last change in the batch
            else:
                left = max(state.quantity - done, 0)
                message["order"] = progressed(view, spec, status, state.quantity, done, spent, left)
            executed[order_id] = (done - lots, spent - quote)

    def _stored_state(self, row: Any) -> tuple[MarketSpec, OrderState]:
        """A ``_TOUCHED_ORDERS`` row as the engine's view of the order, with its market."""
        (order_id, user, market, side, type_, tif, price, quantity, remaining, executed,
         executed_quote, status, client_order_id, post_only, stp, created_us) = row  # fmt: skip
        state = OrderState(
            market=market, order_id=OrderId(order_id), user_id=UserId(user), side=Side(side),
            type=OrderType(type_), tif=TimeInForce(tif), price=price, quantity=quantity,
            remaining=remaining, executed_quantity=executed, executed_quote=executed_quote,
            status=OrderStatus(status), client_order_id=client_order_id, post_only=post_only,
            ts=created_us, stp=SelfTradePrevention(stp),
        )  # fmt: skip
        return self.config.markets[market], state


def _decode_batch(fields: dict[bytes, bytes]) -> wire.EventBatch:
    return wire.decode_event_batch(fields[wire.BATCH_FIELD])


def build_app(client: aioredis.Redis, store: PersistStore, shard: str, *, batch: int = 200) -> App:
    """The agent app: the shard's persist agent, its single writer under ``store.fence``."""
    app = App("tidewater-persist", client)
    events = app.topic(topics.events(shard), _decode_batch)
    publisher = UserPublisher(client, store.fence)

    @app.agent(events, group=topics.PERSIST_GROUP, name=f"persist-{shard}", fence=store.fence)
    async def persist(stream: Stream[wire.EventBatch]) -> None:
        async for batches in stream.take(batch, within=0.02):
            state = [e for b in batches for c in b.commands for e in c.events]
            stored = await store.write(state)  # a fenced-out store raises: nothing published
            users = await publisher.listening(stored.messages)
            await store.describe(stored, users)
            await publisher.send({u: m for u, m in stored.messages.items() if u in users})

    return app


class UserPublisher:
    """Publishes the private updates of a batch on ``user:{id}``, in fenced script calls."""

    def __init__(self, client: aioredis.Redis, fence: Fence) -> None:
        self.fence = fence
        self._client = client
        self._script = client.register_script(FENCE + _PUBLISH)

    async def listening(self, users: Iterable[int]) -> set[int]:
        """Those of ``users`` whose channel someone subscribes to (by name: the edges do)."""
        wanted = {topics.user_channel(user): user for user in users}
        if not wanted:
            return set()
        counts = await self._client.pubsub_numsub(*wanted)
        return {
            wanted[channel.decode() if isinstance(channel, bytes) else channel]
            for channel, count in counts
            if count
        }

    async def send(self, updates: dict[int, list[dict[str, Any]]]) -> None:
        """Publish ``updates`` in order; :class:`LeaseLostError` (nothing sent) when fenced."""
        messages = [
            (topics.user_channel(user), _json.encode(message))
            for user, user_messages in updates.items()
            for message in user_messages
        ]
        for start in range(0, len(messages), _PUBLISH_CHUNK):
            args = [part for pair in messages[start : start + _PUBLISH_CHUNK] for part in pair]
            await acall_fenced(self._script, self.fence, [], args)


def _setter(loop: asyncio.AbstractEventLoop, *events: asyncio.Event) -> Callable[[], None]:
    """A callable, safe from any thread, that sets ``events`` in ``loop``."""

    def fire() -> None:
        for event in events:
            loop.call_soon_threadsafe(event.set)

    return fire


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def run_shard(
    client: aioredis.Redis,
    lease_client: redis.Redis,
    database_url: str,
    config: MarketConfig,
    shard: str,
    stop: asyncio.Event,
    *,
    lease: LeaseSettings | None = None,
    batch: int = 200,
) -> int:
    """Be the persist agent of ``shard``: wait as a standby until its lease is ours, then store
    its events until ``stop`` (0) or until another agent takes the lease (:data:`EXIT_FENCED`);
    the agent stops at once then. A lease lost with nobody holding it (Redis away past it) is
    taken again once Redis answers, and the agent goes on from the group's pending entries.

    ``lease_client`` (sync) serves the lease and its renewer thread; ``client`` everything else.
    """
    writer = new_lease(lease_client, topics.persist_lease(shard), f"persist {shard}", lease)
    loop = asyncio.get_running_loop()
    backoff = 0.1
    while not stop.is_set():
        halt = asyncio.Event()  # ends this holding's agent: on stop, or when the lease is lost
        lost = asyncio.Event()
        on_lost = _setter(loop, lost, halt)  # called in the renewer thread
        fence = await acquire_async(writer, persist_role(shard), database_url, stop, on_lost)
        if fence is None:
            return 0
        store = PersistStore(database_url, config, shard, fence)
        relay = asyncio.ensure_future(_relay(stop, halt))
        error: BaseException | None = None
        try:
            await build_app(client, store, shard, batch=batch).run(halt)
        except LeaseLostError as fenced:
            error = fenced
        finally:
            relay.cancel()
            await store.close()
        if error is None and not lost.is_set():
            await asyncio.to_thread(writer.release)
            return 0
        await asyncio.to_thread(writer.release)  # stops the renewer; deletes nothing not ours
        code = await asyncio.to_thread(writer.exit_code)
        reason = error or writer.lost_reason
        if code == EXIT_FENCED:
            log.error(
                "persist %s fenced out (%s); the lease %s is held by another agent: stopped,"
                " nothing more is written", shard, reason, writer.key,
            )  # fmt: skip
            return code
        log.warning(
            "persist %s lost its lease %s with nobody holding it (%s); taking it again",
            shard, writer.key, reason,
        )  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, 5.0)
    return 0


async def main() -> None:
    """Run the persist agent of every shard until SIGTERM/SIGINT; exit :data:`EXIT_FENCED` as
    soon as another agent takes one shard's lease (the other shards' leases are released)."""
    settings = get_settings()
    if settings.redis_url is None or settings.database_url is None:
        raise SystemExit("agents: REDIS_URL and DATABASE_URL must be set")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10)
    lease_client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=max(1.0, settings.lease.ttl_ms / 1000)
    )
    config = settings.markets()
    codes: list[int] = []

    async def shard_runner(shard: str) -> None:
        code = await run_shard(
            client, lease_client, settings.database_url or "", config, shard, stop,
            lease=settings.lease,
        )  # fmt: skip
        codes.append(code)
        if code:
            stop.set()  # the whole process stops; its supervisor starts it again as a standby

    try:
        await asyncio.gather(*(shard_runner(s) for s in settings.shard_names()))
    finally:
        await client.aclose()
        lease_client.close()
    if any(codes):
        raise SystemExit(max(codes))
