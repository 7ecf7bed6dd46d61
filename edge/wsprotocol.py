"""uvicorn's WebSocket protocol with the writes of one event-loop pass sent together.

uvicorn writes every WebSocket frame to its socket at once: one ``send`` system call (and one
loopback packet) per message per client. Fanning market data out to 1,000 clients, that call
was half of the edge's CPU (py-spy, ``bench/market_data.py --profile``). Here the frames a
connection is given during one pass of the event loop are joined and written once, at the end
of the pass. When the edge keeps up, a frame leaves one loop pass later (microseconds); when it
falls behind, the frames waiting for a client go out in one call instead of one each.

The protocol also offers the app, as the ASGI scope extension ``tidewater.frames``, a writer of
frames built once for many connections (:meth:`CoalescingWebSocketProtocol.write_frame`): the
market-data fan-out (:mod:`edge.ws`) serializes each push once and writes the same bytes to every
follower with no ``await`` per client. It is offered only where that is correct, a connection
that negotiated no extension (permessage-deflate compresses per connection).

The WebSocket protocol itself is uvicorn's (``websockets`` sans-I/O), selected with
``uvicorn.run(..., ws="edge.wsprotocol:CoalescingWebSocketProtocol")``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

__all__ = ["FRAMES_EXTENSION", "CoalescingTransport", "CoalescingWebSocketProtocol"]

#: The ASGI scope extension under which the protocol offers itself as a frame writer.
FRAMES_EXTENSION = "tidewater.frames"


class CoalescingTransport:
    """Wraps a transport: ``write`` calls made in one loop pass become one write after it.

    Everything else goes straight to the wrapped transport; ``close`` first flushes what is
    pending, ``abort`` drops it, and ``get_write_buffer_size`` counts it, so flow control
    (``pause_writing`` at the high-water mark) still sees every byte.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._pending_size += len(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Write what is pending now (called at the end of the loop pass)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._pending_size = 0
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol on a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(  # type: ignore[assignment]
            self.transport, asyncio.get_running_loop()
        )

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)  # builds the scope; the app starts on a later loop pass
        self.scope["extensions"][FRAMES_EXTENSION] = {"writer": self}

    def shares_frames(self) -> bool:
        """True when a frame built for any client is right for this one: no extension."""
        return not self.conn.extensions

    def write_frame(self, frame: bytes, limit: int) -> bool:
        """Write a whole, serialized, unmasked frame, unless more than ``limit`` bytes already
        wait to be sent: then ``False``, the client has fallen behind. Once the connection is
        no longer open nothing is written (nothing may follow a close frame)."""
        transport = self.transport
        if transport.get_write_buffer_size() > limit:
            return False
        if self.conn.state is State.OPEN and not transport.is_closing():
            transport.write(frame)
        return True
