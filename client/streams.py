"""The WebSocket streams (``/ws``): subscribe, authenticate, and read pushes, sync or async.

The protocol (``edge/ws.py``): a request ``{"method", "params", "id"}`` is answered
``{"id", "result"}`` or ``{"id", "error": {"code", "message"}}``; a push is
``{"stream", "data"}``. :class:`Streams` and :class:`AsyncStreams` send a request and wait for
its answer, keeping the pushes that arrive meanwhile for :meth:`~Streams.recv`, in order. A
refused request raises :class:`ApiError` with the edge's code (and no status); a connection
that fails or closes raises it with ``UNREACHABLE``. A SUBSCRIBE returns once the edge follows
the stream, so every message published after it arrives: subscribe to ``depth@M`` first, then
read ``GET /depth`` (its ``lastUpdateId``), then apply the diffs from there. Stream names come
from :mod:`model.topics` (``trades_name``, ``depth_name``, ``ticker_name``, ``kline_name``),
re-exported by :mod:`client`.
"""

from __future__ import annotations

import contextlib
from collections import deque
from types import TracebackType
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosedOK, WebSocketException
from websockets.sync.client import ClientConnection, connect

from client.errors import ApiError

__all__ = ["ORDERS_STREAM", "AsyncStreams", "Push", "Streams", "ws_url"]

#: The private stream of the signed-in user's orders, fills and balances (after AUTH).
ORDERS_STREAM = "orders"


class Push(msgspec.Struct, frozen=True):
    """One message of a followed stream."""

    stream: str
    data: Any
    """The stream's payload, decoded JSON (decimal strings stay strings)."""


class _Message(msgspec.Struct, frozen=True):
    id: int | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    stream: str | None = None
    data: Any = None


_decode = msgspec.json.Decoder(_Message).decode
_encode = msgspec.json.Encoder().encode


#: What the connection raises when it fails: each becomes ``ApiError(code=UNREACHABLE)``.
_FAILURES = (WebSocketException, OSError, msgspec.DecodeError, msgspec.ValidationError)


def _unreachable(url: str, exc: Exception) -> ApiError:
    return ApiError.unreachable(url, f"{type(exc).__name__}: {exc}")


def ws_url(base_url: str) -> str:
    """The ``/ws`` URL of an edge given by its root (``http://host:port``) or a ``ws://`` URL."""
    url = base_url.rstrip("/")
    if url.startswith(("ws://", "wss://")):
        return url
    scheme, _, rest = url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


class _Session:
    """Request ids, answers and the pushes that arrived while an answer was awaited (sans I/O)."""

    def __init__(self) -> None:
        self._last_id = 0
        self.pushes: deque[Push] = deque()

    def request(self, method: str, params: list[str] | None) -> tuple[int, bytes]:
        self._last_id += 1
        body: dict[str, Any] = {"method": method, "id": self._last_id}
        if params is not None:
            body["params"] = params
        return self._last_id, _encode(body)

    def take(self, raw: str | bytes, waiting: int | None) -> tuple[bool, Any]:
        """Read one message: ``(True, result)`` if it answers ``waiting``, else ``(False, None)``
        (a push is queued). A refused request raises :class:`ApiError`."""
        message = _decode(raw)
        if message.stream is not None:
            self.pushes.append(Push(message.stream, message.data))
            return False, None
        if message.id != waiting:
            return False, None  # an answer nobody waits for any more
        if message.error is not None:
            code = str(message.error.get("code", "ERROR"))
            raise ApiError(None, code, str(message.error.get("message", "")))
        return True, message.result


class Streams:
    """A blocking WebSocket session: ``with Streams(url) as ws: ws.subscribe(...); ws.recv()``."""

    def __init__(self, base_url: str, *, open_timeout: float = 10) -> None:
        self.url = ws_url(base_url)
        self._open_timeout = open_timeout
        self._session = _Session()
        self._ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Streams:
        try:
            connection = connect(self.url, open_timeout=self._open_timeout, max_size=2**22)
            self._ws = self._stack.enter_context(connection)
        except (*_FAILURES, TimeoutError) as exc:
            raise _unreachable(self.url, exc) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._stack.close()

    def _conn(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("use Streams as a context manager: with Streams(url) as ws")
        return self._ws

    def _call(self, method: str, params: list[str] | None = None) -> Any:
        request_id, raw = self._session.request(method, params)
        try:
            self._conn().send(raw.decode())  # a text frame: the protocol is JSON text
            while True:
                done, result = self._session.take(self._conn().recv(), request_id)
                if done:
                    return result
        except _FAILURES as exc:
            raise _unreachable(self.url, exc) from None

    def subscribe(self, *streams: str) -> None:
        """Follow ``streams``; returns once every message published from now on will arrive."""
        self._call("SUBSCRIBE", list(streams))

    def unsubscribe(self, *streams: str) -> None:
        """Stop following ``streams``."""
        self._call("UNSUBSCRIBE", list(streams))

    def auth(self, token: str) -> None:
        """Sign the session in, so that the private ``orders`` stream can be followed."""
        self._call("AUTH", [token])

    def ping(self) -> None:
        """Round-trip a request (the edge answers PING with its result)."""
        self._call("PING")

    def recv(self, timeout: float | None = None) -> Push:
        """The next push of a followed stream (``TimeoutError`` after ``timeout`` seconds)."""
        try:
            while not self._session.pushes:
                self._session.take(self._conn().recv(timeout), None)
        except TimeoutError:
            raise  # the wait the caller bounded (an OSError, so named before the failures)
        except _FAILURES as exc:
            raise _unreachable(self.url, exc) from None
        return self._session.pushes.popleft()


class AsyncStreams:
    """An asyncio WebSocket session: ``async with AsyncStreams(url) as ws: await ws.recv()``.

    Iterating it (``async for push in ws``) yields every push until the connection closes.
    """

    def __init__(self, base_url: str, *, open_timeout: float = 10) -> None:
        self.url = ws_url(base_url)
        self._open_timeout = open_timeout
        self._session = _Session()
        self._ws: AsyncConnection | None = None
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> AsyncStreams:
        try:
            connection = connect_async(self.url, open_timeout=self._open_timeout, max_size=2**22)
            self._ws = await self._stack.enter_async_context(connection)
        except (*_FAILURES, TimeoutError) as exc:
            raise _unreachable(self.url, exc) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection."""
        await self._stack.aclose()

    def _conn(self) -> AsyncConnection:
        if self._ws is None:
            raise RuntimeError("use AsyncStreams as a context manager: async with AsyncStreams()")
        return self._ws

    async def _call(self, method: str, params: list[str] | None = None) -> Any:
        request_id, raw = self._session.request(method, params)
        try:
            await self._conn().send(raw.decode())  # a text frame: the protocol is JSON text
            while True:
                done, result = self._session.take(await self._conn().recv(), request_id)
                if done:
                    return result
        except _FAILURES as exc:
            raise _unreachable(self.url, exc) from None

    async def subscribe(self, *streams: str) -> None:
        """Follow ``streams``; returns once every message published from now on will arrive."""
        await self._call("SUBSCRIBE", list(streams))

    async def unsubscribe(self, *streams: str) -> None:
        """Stop following ``streams``."""
        await self._call("UNSUBSCRIBE", list(streams))

    async def auth(self, token: str) -> None:
        """Sign the session in, so that the private ``orders`` stream can be followed."""
        await self._call("AUTH", [token])

    async def ping(self) -> None:
        """Round-trip a request (the edge answers PING with its result)."""
        await self._call("PING")

    async def recv(self) -> Push:
        """The next push of a followed stream (wrap in ``asyncio.timeout`` to bound the wait)."""
        try:
            while not self._session.pushes:
                self._session.take(await self._conn().recv(), None)
        except ConnectionClosedOK:
            raise
        except _FAILURES as exc:
            raise _unreachable(self.url, exc) from None
        return self._session.pushes.popleft()

    def __aiter__(self) -> AsyncStreams:
        return self

    async def __anext__(self) -> Push:
        try:
            return await self.recv()
        except ConnectionClosedOK:  # closed normally: the iteration ends; otherwise it raises
            raise StopAsyncIteration from None
