"""The coalescing transport under uvicorn's WebSocket protocol, on a real socket pair."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

from edge.wsprotocol import CoalescingTransport


@contextlib.asynccontextmanager
async def _pair() -> AsyncIterator[tuple[CoalescingTransport, socket.socket]]:
    """Our side as a coalescing transport; the peer as a plain non-blocking socket."""
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    try:
        yield CoalescingTransport(transport, loop), peer  # type: ignore[arg-type]
    finally:
        transport.abort()
        peer.close()


async def _receive(peer: socket.socket, n: int) -> bytes:
    loop, data = asyncio.get_running_loop(), b""
    while len(data) < n:
        chunk = await asyncio.wait_for(loop.sock_recv(peer, n - len(data)), 2)
        if not chunk:
            break
        data += chunk
    return data


async def test_writes_of_one_loop_pass_leave_together_at_its_end() -> None:
    async with _pair() as (coalescing, peer):
        frames = [f"frame {n:02};".encode() for n in range(50)]
        for frame in frames:
            coalescing.write(frame)
        assert coalescing.get_write_buffer_size() == 50 * 9  # pending bytes count for flow control
        try:
            early = peer.recv(1)
        except BlockingIOError:
            early = b""
        assert early == b"", "nothing reaches the socket before the loop pass ends"
        assert await _receive(peer, 50 * 9) == b"".join(frames)
        assert coalescing.get_write_buffer_size() == 0


async def test_close_sends_what_is_pending_first() -> None:
    async with _pair() as (coalescing, peer):
        coalescing.write(b"last words")
        coalescing.close()
        assert await _receive(peer, 11) == b"last words"  # then the connection ends


async def test_abort_drops_what_is_pending() -> None:
    async with _pair() as (coalescing, peer):
        coalescing.write(b"never sent")
        coalescing.abort()
        await asyncio.sleep(0.05)
        assert await _receive(peer, 10) == b""
