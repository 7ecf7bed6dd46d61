"""client/streams.py: the WebSocket protocol's answers, pushes and refusals (sans I/O), and a
connection that cannot be made."""

from __future__ import annotations

import asyncio

import pytest

from client import UNREACHABLE, ApiError, AsyncStreams, Push, Streams
from client.streams import _Session, ws_url
from infra.embedded import free_port


def test_requests_are_numbered_and_pushes_kept_in_order_while_an_answer_is_awaited() -> None:
    session = _Session()
    first, raw = session.request("SUBSCRIBE", ["trades@TATA_INR"])
    assert raw == b'{"method":"SUBSCRIBE","id":1,"params":["trades@TATA_INR"]}'
    assert session.take(b'{"stream":"trades@TATA_INR","data":{"p":"1.00"}}', first) == (False, None)
    assert session.take(b'{"id":99,"result":null}', first) == (False, None)  # nobody waits for it
    assert session.take(b'{"id":1,"result":null}', first) == (True, None)
    second, _ = session.request("PING", None)
    assert second == 2
    assert list(session.pushes) == [Push("trades@TATA_INR", {"p": "1.00"})]


def test_a_refusal_is_an_api_error_with_the_edges_code_and_not_transient() -> None:
    session = _Session()
    request_id, _ = session.request("SUBSCRIBE", ["orders"])
    refusal = b'{"id":1,"error":{"code":"UNKNOWN_STREAM","message":"no stream \'orders\'"}}'
    with pytest.raises(ApiError) as caught:
        session.take(refusal, request_id)
    assert (caught.value.status, caught.value.code) == (None, "UNKNOWN_STREAM")
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws"),
        ("https://x.example/", "wss://x.example/ws"),
        ("ws://127.0.0.1:8000/ws", "ws://127.0.0.1:8000/ws"),
    ],
)
def test_ws_url(base: str, url: str) -> None:
    assert ws_url(base) == url


def test_no_server_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiError) as caught, Streams(url):
        pass
    assert caught.value.code == UNREACHABLE

    async def connect() -> None:
        async with AsyncStreams(url):
            pass

    with pytest.raises(ApiError) as caught:
        asyncio.run(connect())
    assert caught.value.code == UNREACHABLE
