"""Every Redis key and channel name, built here and nowhere else.

``{shard}`` in braces is a Redis Cluster hash tag: all keys one matcher touches in a
``MULTI/EXEC`` (commands, events, snapshot, replies) hash to the same slot.
"""

from __future__ import annotations

from model.intervals import IntervalName

__all__ = [
    "PERSIST_GROUP",
    "applied",
    "book_ticker_name",
    "book_ticker_stream",
    "commands",
    "depth_book",
    "depth_name",
    "depth_stream",
    "events",
    "flow_lease",
    "kline_name",
    "kline_stream",
    "lease_epoch",
    "market_data",
    "persist_lease",
    "replies",
    "snapshot",
    "ticker_book",
    "ticker_name",
    "ticker_stream",
    "trades_name",
    "trades_stream",
    "user_channel",
    "writer_lease",
]

PERSIST_GROUP = "persist"


def commands(shard: str) -> str:
    """The command stream a shard's matcher consumes."""
    return f"tw:{{{shard}}}:cmd"


def replies(shard: str, edge: str) -> str:
    """The pub/sub channel of one edge process's replies from one shard (see model/replies.py)."""
    return f"tw:{{{shard}}}:reply:{edge}"


def events(shard: str) -> str:
    """The shard's event stream (every state change, numbered by ``seq``)."""
    return f"tw:{{{shard}}}:events"


def snapshot(shard: str) -> str:
    """Where the shard's matcher keeps its last snapshot."""
    return f"tw:{{{shard}}}:snapshot"


def applied(shard: str) -> str:
    """The id of the last command the shard's matcher applied and committed (its read position)."""
    return f"tw:{{{shard}}}:applied"


def writer_lease(shard: str) -> str:
    """The shard matcher's writer lease (``model/lease.py``): one writer per shard."""
    return f"tw:{{{shard}}}:writer"


def persist_lease(shard: str) -> str:
    """The lease of the persist agent that stores one shard's events."""
    return f"tw:{{{shard}}}:persist:writer"


def flow_lease() -> str:
    """The lease of the market-data flow (it owns the depth update ids)."""
    return "md:flow:writer"


def lease_epoch(lease_key: str) -> str:
    """The counter of a lease's acquisitions (its fencing epoch), in the lease's hash slot."""
    return f"{lease_key}:epoch"


def market_data(stream: str) -> str:
    """Pub/sub channel of a WebSocket stream named by the caller, e.g. ``"depth@TATA_INR"``.

    Prefer the typed builders below (:func:`trades_stream`, :func:`depth_stream`,
    :func:`ticker_stream`, :func:`book_ticker_stream`, :func:`kline_stream`, and ``*_name`` for the
    names clients use): a typo there is a type error, not a silent new channel. This one is for a
    name already checked.
    """
    return f"md:{stream}"


def trades_name(market: str) -> str:
    """The WebSocket stream of ``market``'s trades, as a client subscribes to it."""
    return f"trades@{market}"


def depth_name(market: str) -> str:
    """The WebSocket stream of ``market``'s depth diffs (of :func:`depth_book`)."""
    return f"depth@{market}"


def ticker_name(market: str) -> str:
    """The WebSocket stream of ``market``'s 24 h ticker."""
    return f"ticker@{market}"


def book_ticker_name(market: str) -> str:
    """The WebSocket stream of ``market``'s best bid and ask, pushed when either changes."""
    return f"bookTicker@{market}"


def kline_name(interval: IntervalName, market: str) -> str:
    """The WebSocket stream of ``market``'s ``interval`` candles."""
    return f"kline.{interval}@{market}"


def trades_stream(market: str) -> str:
    """Pub/sub channel of the ``trades@{market}`` WebSocket stream."""
    return market_data(trades_name(market))


def depth_stream(market: str) -> str:
    """Pub/sub channel of the ``depth@{market}`` WebSocket stream."""
    return market_data(depth_name(market))


def ticker_stream(market: str) -> str:
    """Pub/sub channel of the ``ticker@{market}`` WebSocket stream."""
    return market_data(ticker_name(market))


def book_ticker_stream(market: str) -> str:
    """Pub/sub channel of the ``bookTicker@{market}`` WebSocket stream."""
    return market_data(book_ticker_name(market))


def kline_stream(interval: IntervalName, market: str) -> str:
    """Pub/sub channel of the ``kline.{interval}@{market}`` WebSocket stream."""
    return market_data(kline_name(interval, market))


def depth_book(market: str) -> str:
    """Hash holding the L2 book of ``market`` with its ``lastUpdateId``."""
    return f"md:depth:{market}"


def ticker_book(market: str) -> str:
    """Hash holding the last ``ticker@{market}`` push (the 24 h ticker REST serves)."""
    return f"md:ticker:{market}"


def user_channel(user_id: int) -> str:
    """Pub/sub channel of one user's private order and balance updates."""
    return f"user:{user_id}"
