"""Every Redis key and channel name, built here and nowhere else.

``{shard}`` in braces is a Redis Cluster hash tag: all keys one matcher touches in a
``MULTI/EXEC`` (commands, events, snapshot, replies) hash to the same slot.
"""

from __future__ import annotations

__all__ = [
    "COMMAND_GROUP",
    "FLOW_GROUP",
    "PERSIST_GROUP",
    "commands",
    "depth_book",
    "events",
    "market_data",
    "replies",
    "snapshot",
    "user_channel",
]

COMMAND_GROUP = "matcher"
FLOW_GROUP = "flow"
PERSIST_GROUP = "persist"


def commands(shard: str) -> str:
    """The command stream a shard's matcher consumes."""
    return f"tw:{{{shard}}}:cmd"


def replies(shard: str, edge: str) -> str:
    """The reply stream of one edge process for one shard."""
    return f"tw:{{{shard}}}:reply:{edge}"


def events(shard: str) -> str:
    """The shard's event stream (every state change, numbered by ``seq``)."""
    return f"tw:{{{shard}}}:events"


def snapshot(shard: str) -> str:
    """Where the shard's matcher keeps its last snapshot."""
    return f"tw:{{{shard}}}:snapshot"


def market_data(stream: str) -> str:
    """Pub/sub channel of a WebSocket stream, e.g. ``market_data("depth@TATA_INR")``."""
    return f"md:{stream}"


def depth_book(market: str) -> str:
    """Hash holding the L2 book of ``market`` with its ``lastUpdateId``."""
    return f"md:depth:{market}"


def user_channel(user_id: int) -> str:
    """Pub/sub channel of one user's private order and balance updates."""
    return f"user:{user_id}"
