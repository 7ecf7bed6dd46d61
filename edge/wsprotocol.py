"""uvicorn's WebSocket protocol with the writes of one event-loop pass sent together.

uvicorn writes every WebSocket frame to its socket at once: one ``send`` system call (and one
loopback packet) per message per client. Fanning market data out to 1,000 clients, that call
was half of the edge's CPU (py-spy, ``bench/market_data.py --profile``). Here the frames a
connection is given during one pass of the event loop are joined and written once, at the end
of the pass. When the edge keeps up, a frame leaves one loop pass later (microseconds); when it
falls behind, the frames waiting for a client go out in one call instead of one each.

Only the transport changes; the WebSocket protocol itself is uvicorn's (``websockets`` sans-I/O),
selected with ``uvicorn.run(..., ws="edge.wsprotocol:CoalescingWebSocketProtocol")``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["CoalescingTransport", "CoalescingWebSocketProtocol"]


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

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Write what is pending now (called at the end of the loop pass)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol on a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(  # type: ignore[assignment]
            self.transport, asyncio.get_running_loop()
        )
