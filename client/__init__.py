"""Tidewater's Python client: the REST API and the WebSocket streams, sync and async.

::

    from client import Account, Client

    with Client("http://127.0.0.1:8000") as api:
        alice = Account("alice", "correct horse")
        api.sign_up_or_in(alice)
        api.onramp(alice, "INR", "100000")
        order = api.place(alice, {"market": "TATA_INR", "kind": "buy", "type": "limit",
                                  "price": "101.50", "quantity": "10"})

Answers are the API's own types (``model.api``: ``OrderView``, ``DepthView``...), with prices
and amounts as exact decimal strings. Every failure raises :class:`ApiError` with the API's
error code (``INSUFFICIENT_FUNDS``...), or ``UNREACHABLE`` when the edge did not answer.
:class:`AsyncClient` has the same calls for asyncio; :class:`Streams` and :class:`AsyncStreams`
follow the WebSocket streams, named by :func:`trades_name`, :func:`depth_name`,
:func:`ticker_name` and :func:`kline_name`.
"""

from client.aio import AsyncClient
from client.errors import UNREACHABLE, ApiError
from client.policy import Account, Auth, Backoff
from client.streams import ORDERS_STREAM, AsyncStreams, Push, Streams
from client.sync import Client
from model.topics import depth_name, kline_name, ticker_name, trades_name

__all__ = [
    "ORDERS_STREAM",
    "UNREACHABLE",
    "Account",
    "ApiError",
    "AsyncClient",
    "AsyncStreams",
    "Auth",
    "Backoff",
    "Client",
    "Push",
    "Streams",
    "depth_name",
    "kline_name",
    "ticker_name",
    "trades_name",
]
