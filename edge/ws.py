"""The WebSocket gateway, ``/ws`` (DESIGN.md §7).

Client → server: ``{"method": "SUBSCRIBE" | "UNSUBSCRIBE", "params": [...], "id": n}``,
``{"method": "AUTH", "params": [token], "id": n}`` (then the private ``orders`` stream may be
subscribed: the user's order changes, fills and balances, each pushed once stored, in order; see
:mod:`pipeline.persist`; or Backpack's ``account.orderUpdate[.<symbol>]``, which a SUBSCRIBE signed
with an API key opens too: ``"signature": [key, signature, timestamp, window]``), ``{"method":
"PING", "id": n}``. Every request is answered ``{"id": n, "result": ...}`` or ``{"id": n, "error":
{"code", "message"}}``. Pushes: ``{"stream": name, "data": ...}``. Every public stream has two
names: ours (``trades@M``, ``depth@M``, ``ticker@M``, ``bookTicker@M``, ``kline.<i>@M``) and
Backpack's (``trade.M``, ``depth.M``, ``ticker.M``, ``bookTicker.M``, ``kline.<i>.M``), whose
pushes come in Backpack's shape (:mod:`model.backpack`): one stream, one pub/sub channel,
translated once per message for the names that ask for it. The acknowledgement of a SUBSCRIBE is
sent once the stream is followed: every message published after it reaches the client. So a depth
client subscribes, waits for the acknowledgement, then takes the ``GET /depth`` snapshot and
applies the diffs from ``lastUpdateId + 1`` on.

Fan-out: one Redis pub/sub subscription per stream for the whole process (Litestar's channels
plugin), pushed to every session that follows the stream by :class:`Fanout`. The push is built
once per message: where the server is uvicorn with :mod:`edge.wsprotocol` and the client did not
negotiate compression, the WebSocket frame itself is built once and written to each connection
without a task switch or an ``await``; otherwise each session has a bounded backlog and a task
that sends it. Either way a client falls behind by a bounded amount only (``MAX_BUFFERED_BYTES``
unsent, or ``MAX_BACKLOG`` messages) and is then disconnected (close code 1008, reason "slow
consumer") instead of being buffered without bound: it reconnects and resyncs from a snapshot.
Limits: frame size, subscriptions per connection, messages per second, and malformed messages
per connection; transport-level pings are uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import msgspec
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.exceptions import WebSocketDisconnect
from websockets.frames import Frame, Opcode

from edge import apikeys
from edge.auth import verify_token
from edge.errors import ApiError
from edge.wsprotocol import FRAMES_EXTENSION
from model import topics
from model.backpack import ACCOUNT_STREAM, backpack_stream, shape_for
from model.config import MarketConfig
from model.intervals import INTERVAL_PATTERN, is_interval
from model.settings import EdgeSettings

__all__ = [
    "MAX_STREAM_BACKLOG",
    "BoundedSubscriber",
    "Fanout",
    "ws_endpoint",
]

_STREAM = re.compile(
    rf"^(trades|depth|ticker|bookTicker|kline\.({INTERVAL_PATTERN}))@([A-Za-z0-9_-]{{3,32}})$"
)
MAX_FRAME = 4096
MAX_SUBSCRIPTIONS = 50
MAX_MESSAGES_PER_SECOND = 20
MAX_BAD_MESSAGES = 10
MAX_BACKLOG = 1000  # messages waiting for one session's sender task
MAX_BUFFERED_BYTES = 1 << 20  # bytes written to one connection and not yet sent
MAX_STREAM_BACKLOG = 10_000  # messages of one stream waiting for the fan-out
CLOSE_TIMEOUT_S = 5
log = logging.getLogger("tidewater.edge.ws")
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class BoundedSubscriber(Subscriber):
    """A channels subscriber that notices when its bounded queue overflows.

    The plugin drops what does not fit; for a market-data client a silent drop is a gap, so
    :class:`Fanout` is told instead, and disconnects every follower of the stream.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.overflowed = asyncio.Event()

    def put_nowait(self, item: bytes | None) -> bool:
        accepted = super().put_nowait(item)
        if not accepted:
            self.overflowed.set()
        return accepted


class _CloseError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class FrameWriter(Protocol):
    """What :class:`edge.wsprotocol.CoalescingWebSocketProtocol` offers a session."""

    def shares_frames(self) -> bool: ...

    def write_frame(self, frame: bytes, limit: int) -> bool: ...


@dataclass(eq=False)
class _Stream:
    """One pub/sub channel and its followers, grouped by the stream name each asked for, with
    the translation each name's pushes take (none for our names, Backpack's shape for its)."""

    channel: str
    subscriber: Subscriber
    followers: dict[str, dict[_Session, None]] = field(default_factory=dict)
    shapes: dict[str, Callable[[bytes], bytes | None] | None] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Fanout:
    """Every stream this process serves: one channels subscriber each, pushed to its sessions.

    A message is turned into its push (``{"stream": name, "data": ...}``) and WebSocket frame
    once per stream name, not once per client, and handed to every follower in one synchronous
    loop. If the fan-out itself falls ``MAX_STREAM_BACKLOG`` messages behind (the process is
    overloaded), messages are lost for every follower of that stream, so each is disconnected
    to resync.
    """

    def __init__(self, channels: ChannelsPlugin) -> None:
        self.channels = channels
        self.streams: dict[str, _Stream] = {}
        self._lock = asyncio.Lock()

    async def follow(self, channel: str, name: str, session: _Session) -> None:
        # One at a time: concurrent first subscriptions made redis-py open two pub/sub
        # connections and keep only the last, silently losing the channels of the other.
        async with self._lock:
            stream = self.streams.get(channel)
            if stream is None:
                subscriber = await self.channels.subscribe([channel])
                stream = _Stream(channel, subscriber)
                stream.task = asyncio.create_task(self._push(stream))
                self.streams[channel] = stream
            stream.followers.setdefault(name, {})[session] = None
            if name not in stream.shapes:
                stream.shapes[name] = shape_for(name)

    async def leave(self, channel: str, name: str, session: _Session) -> None:
        async with self._lock:
            stream = self.streams.get(channel)
            sessions = stream.followers.get(name) if stream is not None else None
            if stream is None or sessions is None:
                return
            sessions.pop(session, None)
            if not sessions:
                del stream.followers[name]
                del stream.shapes[name]
            if stream.followers:
                return
            del self.streams[channel]
            await self.channels.unsubscribe(stream.subscriber)
            if stream.task is not None:
                stream.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await stream.task

    async def _push(self, stream: _Stream) -> None:
        subscriber = stream.subscriber
        overflowed = subscriber.overflowed if isinstance(subscriber, BoundedSubscriber) else None
        async for data in subscriber.iter_events():
            if overflowed is not None and overflowed.is_set():
                overflowed.clear()
                for sessions in stream.followers.values():
                    for session in sessions:
                        session.fall_behind("server behind: reconnect and resync")
            # No await below: followers cannot change while a message is handed out.
            for name, sessions in stream.followers.items():
                shape = stream.shapes[name]
                pushed = data if shape is None else _translated(shape, data)
                if pushed is None:
                    continue
                payload = b'{"stream":"' + name.encode() + b'","data":' + pushed + b"}"
                frame = Frame(Opcode.TEXT, payload).serialize(mask=False)
                for session in sessions:
                    try:
                        session.push(payload, frame)
                    except Exception:  # one broken connection must not stop the stream
                        log.exception("push to a WebSocket client failed; closing it")
                        session.fall_behind("internal error: reconnect and resync", 1011)


def _translated(shape: Callable[[bytes], bytes | None], data: bytes) -> bytes | None:
    """``data`` in another dialect's shape; ``None`` where that dialect has nothing to say
    (a balance on ``account.orderUpdate``), or (logged) for a message that does not fit: that
    name's followers miss it (a depth follower sees the gap and resyncs) rather than get a
    shape they cannot read, and the stream goes on for every other follower."""
    try:
        return shape(data)
    except Exception:
        log.exception("a push could not be translated for a Backpack stream name")
        return None


class _Session:
    """One client: its subscriptions, its user once authenticated, its limits."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], fanout: Fanout, config: MarketConfig,
        settings: EdgeSettings,
    ) -> None:  # fmt: skip
        self.socket, self.fanout, self.config, self.settings = socket, fanout, config, settings
        self.user: int | None = None
        self.subs: dict[str, str] = {}  # stream name -> channel
        self.bad = 0
        self.window_start = time.monotonic()
        self.window_count = 0
        self.closing: _CloseError | None = None
        self.slow = asyncio.Event()
        self.behind = False
        self.writer = _frame_writer(socket)
        # Without a frame writer, pushes wait here for the sender task.
        self.backlog: deque[bytes] = deque()
        self.backlog_ready = asyncio.Event()

    def push(self, payload: bytes, frame: bytes) -> None:
        """Hand over one push (the fan-out calls this once per message per client: it must
        not block, and it is kept short)."""
        if self.behind:
            return
        if self.writer is not None:
            if not self.writer.write_frame(frame, MAX_BUFFERED_BYTES):
                self.fall_behind()
        elif len(self.backlog) < MAX_BACKLOG:
            self.backlog.append(payload)
            self.backlog_ready.set()
        else:
            self.fall_behind()

    def fall_behind(
        self, reason: str = "slow consumer: reconnect and resync", code: int = 1008
    ) -> None:
        """Stop pushing to this client and close its connection with ``code`` and ``reason``."""
        if self.closing is None:
            self.closing = _CloseError(code, reason)
        self.behind = True
        self.slow.set()

    async def send(self, payload: bytes) -> None:
        """One text frame. The ASGI event goes straight to the socket's ``send`` (what
        ``send_text`` ends in, minus two layers). No lock is needed between the sender task and
        the answers: uvicorn's protocol writes each frame whole."""
        await self.socket.send({"type": "websocket.send", "bytes": None, "text": payload.decode()})

    async def serve(self) -> None:
        tasks = [asyncio.create_task(self._read()), asyncio.create_task(self.slow.wait())]
        if self.writer is None:
            tasks.append(asyncio.create_task(self._send_backlog()))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for name in list(self.subs):
                await self._drop(name)
        if self.closing is not None:
            # A slow client may never read again: its close frame waits behind a full socket,
            # so the wait is bounded; returning lets the server drop the connection.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.socket.close(code=self.closing.code, reason=self.closing.reason),
                    CLOSE_TIMEOUT_S,
                )

    async def _send_backlog(self) -> None:
        try:
            while True:
                await self.backlog_ready.wait()
                while self.backlog:
                    await self.send(self.backlog.popleft())
                self.backlog_ready.clear()
        except (WebSocketDisconnect, RuntimeError):
            return

    async def _read(self) -> None:
        try:
            while self.closing is None:
                await self.handle(await self.socket.receive_text())
        except _CloseError as closing:
            self.closing = closing
        except WebSocketDisconnect:
            return

    async def handle(self, text: str) -> None:
        now = time.monotonic()
        if now - self.window_start >= 1.0:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        if self.window_count > MAX_MESSAGES_PER_SECOND:
            raise _CloseError(1008, "too many messages")
        if len(text) > MAX_FRAME:
            raise _CloseError(1009, f"frames are limited to {MAX_FRAME} bytes")
        try:
            message = _decode(text)
        except (msgspec.DecodeError, RecursionError):  # "[[[[...]]]]" is a RecursionError
            await self.refuse(None, "INVALID_JSON", "the message is not JSON")
            return
        if not isinstance(message, dict):
            await self.refuse(None, "INVALID_REQUEST", "send a JSON object")
            return
        request_id = message.get("id")
        if request_id is not None and (
            not isinstance(request_id, int) or isinstance(request_id, bool)
        ):
            await self.refuse(None, "INVALID_REQUEST", "id must be an integer")
            return
        method, params = message.get("method"), message.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            await self.refuse(request_id, "INVALID_REQUEST", "params must be a list of strings")
            return
        if method == "SUBSCRIBE":
            signature = message.get("signature")
            if signature is not None and not await self.sign_in(request_id, signature):
                return
            await self.subscribe(request_id, params)
        elif method == "UNSUBSCRIBE":
            for name in params:
                await self._drop(name)
            await self.answer(request_id, None)
        elif method == "AUTH":
            await self.authenticate(request_id, params)
        elif method == "PING":
            await self.answer(request_id, "pong")
        else:
            await self.refuse(request_id, "UNKNOWN_METHOD", f"unknown method {method!r}")

    async def answer(self, request_id: int | None, result: Any) -> None:
        await self.send(_encode({"id": request_id, "result": result}))

    async def refuse(self, request_id: int | None, code: str, message: str) -> None:
        self.bad += 1
        await self.send(_encode({"id": request_id, "error": {"code": code, "message": message}}))
        if self.bad >= MAX_BAD_MESSAGES:
            raise _CloseError(1008, "too many bad messages")

    def channel_of(self, name: str) -> str | None:
        """The pub/sub channel behind a stream name, or ``None`` if there is no such stream."""
        if name == "orders":
            return None if self.user is None else topics.user_channel(self.user)
        account = ACCOUNT_STREAM.match(name)
        if account is not None:
            if self.user is None or (
                account.group(1) is not None and self.config.market(account.group(1)) is None
            ):
                return None
            return topics.user_channel(self.user)
        match = _STREAM.match(name)
        if match is not None:
            kind, interval, market = match.group(1), match.group(2), match.group(3)
            if interval is not None:
                kind = "kline"
        else:
            named = backpack_stream(name)
            if named is None:
                return None
            kind, interval, market = named
        spec = self.config.market(market)
        if spec is None:
            return None
        if kind == "trades":
            return topics.trades_stream(spec.symbol)
        if kind == "depth":
            return topics.depth_stream(spec.symbol)
        if kind == "ticker":
            return topics.ticker_stream(spec.symbol)
        if kind == "bookTicker":
            return topics.book_ticker_stream(spec.symbol)
        assert interval is not None
        assert is_interval(interval)
        return topics.kline_stream(interval, spec.symbol)

    async def subscribe(self, request_id: int | None, names: list[str]) -> None:
        channels: list[tuple[str, str]] = []
        for name in names:
            channel = self.channel_of(name)
            if channel is None:
                private = name == "orders" or ACCOUNT_STREAM.match(name) is not None
                hint = " (AUTH or sign first)" if private and self.user is None else ""
                await self.refuse(request_id, "UNKNOWN_STREAM", f"no stream {name!r}{hint}")
                return
            channels.append((name, channel))
        if len(self.subs) + len([n for n, _ in channels if n not in self.subs]) > MAX_SUBSCRIPTIONS:
            await self.refuse(
                request_id, "TOO_MANY_SUBSCRIPTIONS", f"at most {MAX_SUBSCRIPTIONS} per connection"
            )
            return
        for name, channel in channels:
            if name not in self.subs:
                self.subs[name] = channel
                await self.fanout.follow(channel, name, self)
        await self.answer(request_id, None)

    async def authenticate(self, request_id: int | None, params: list[str]) -> None:
        verified = verify_token(params[0], self.settings.jwt_secret) if params else None
        if verified is None:
            await self.refuse(request_id, "UNAUTHORIZED", "invalid or expired token")
            return
        self.user = verified[0]
        await self.answer(request_id, None)

    async def sign_in(self, request_id: int | None, signature: Any) -> bool:
        """Backpack's signed subscription: ``signature`` is ``[API key, signature, timestamp,
        window]`` over ``instruction=subscribe&timestamp=..&window=..`` (``edge.apikeys``). The
        key's owner becomes the session's user; a session holds one user."""
        if not (
            isinstance(signature, list)
            and len(signature) == 4
            and all(isinstance(part, str) for part in signature)
        ):
            await self.refuse(
                request_id, "INVALID_SIGNATURE", "signature must be [key, signature, timestamp, "
                "window], four strings",
            )  # fmt: skip
            return False
        key, signed, timestamp, window = (part.encode() for part in signature)
        headers = {b"x-api-key": key, b"x-signature": signed, b"x-timestamp": timestamp,
                   b"x-window": window}  # fmt: skip
        try:
            request = apikeys.SignedRequest.from_headers(headers, apikeys.now_ms())
            request.verify(apikeys.signing_text("subscribe", {}, request.timestamp, request.window))
            owner = await apikeys.key_owner(self.socket.app.state.db, request.public_key)
        except ApiError as error:
            await self.refuse(request_id, error.code, error.message)
            return False
        if self.user is not None and self.user != owner:
            await self.refuse(request_id, "UNAUTHORIZED", "this connection is another user's")
            return False
        self.user = owner
        return True

    async def _drop(self, name: str) -> None:
        channel = self.subs.pop(name, None)
        if channel is not None:
            await self.fanout.leave(channel, name, self)


def _frame_writer(socket: WebSocket[Any, Any, Any]) -> FrameWriter | None:
    """The connection's frame writer, if the server offers one and frames can be shared."""
    offered = (socket.scope.get("extensions") or {}).get(FRAMES_EXTENSION)
    writer = cast("FrameWriter | None", offered.get("writer") if offered else None)
    return writer if writer is not None and writer.shares_frames() else None


@websocket("/ws", opt={"exclude_from_auth": True})
async def ws_endpoint(socket: WebSocket[Any, Any, Any]) -> None:
    """Market data and private order streams over one socket."""
    await socket.accept()
    state = socket.app.state
    await _Session(socket, state.fanout, state.exchange.config, state.settings).serve()
