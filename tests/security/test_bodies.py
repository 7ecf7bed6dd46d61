"""Hostile request bodies: too big, not JSON, not an object, nested without end, of the wrong
types or the wrong content type. Each gets its 4xx with the JSON error body (never a 500),
through both lanes of ``POST /order`` and on every other body route, and changes nothing: no
order, no deposit, no account.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.integration.edge.conftest import sign_up
from tests.security.conftest import LANES, Lane, snapshot
from tests.support.cluster import Cluster

TEN_MB = 10 * 1024 * 1024
DEEP = b"[" * 5000 + b"]" * 5000
JSON = {"Content-Type": "application/json"}


def _bodies(username: str) -> dict[str, bytes]:
    """A valid body for each body route (the sign-up would create ``username``)."""
    credentials = json.dumps({"username": username, "password": "correct horse battery"})
    return {
        "/order": b'{"market":"TATA_INR","kind":"buy","type":"limit","price":"2","quantity":"1"}',
        "/order/quote": b'{"market":"TATA_INR","kind":"buy","quantity":"1"}',
        "/onramp": b'{"asset":"INR","amount":"1"}',
        "/signup": credentials.encode(),
        "/signin": credentials.encode(),
    }


def _targets() -> Iterator[tuple[str, Lane]]:
    """Every body route, ``/order`` once per lane."""
    for route in _bodies("x"):
        for lane in LANES.values() if route == "/order" else [{}]:
            yield route, lane


@pytest.fixture(scope="module")
def trader(cluster: Cluster) -> Iterator[dict[str, str]]:
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=60) as api:
        yield sign_up(api, {"INR": "100000"})


@pytest.fixture
def unchanged(api: httpx.Client, trader: dict[str, str]) -> Iterator[str]:
    """A fresh username for the test's sign-ups; afterwards, the trader's account is as it was
    and that username is still free (no refused sign-up created it)."""
    username = f"b{uuid.uuid4().hex[:12]}"
    before = snapshot(api, trader)
    yield username
    assert snapshot(api, trader) == before
    free = api.post("/signup", json={"username": username, "password": "correct horse battery"})
    assert free.status_code == 201, free.text


def _assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code, response.text


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_10_mb_body_is_413(
    api: httpx.Client, trader: dict[str, str], unchanged: str, chunked: bool
) -> None:
    for route, lane in _targets():
        # A valid body padded to 10 MB (inside a string): refused for its size alone.
        valid = _bodies(unchanged)[route]
        big = valid[:-1] + b',"pad":"' + b"x" * TEN_MB + b'"}'
        content = (big[i : i + 65536] for i in range(0, len(big), 65536)) if chunked else big
        response = api.post(route, content=content, headers={**trader, **JSON, **lane})
        _assert_error(response, 413, "PAYLOAD_TOO_LARGE")


MALFORMED = {
    "unclosed": b'{"market":"TATA_INR"',
    "bare words": b"{nope}",
    "trailing comma": b'{"market":"TATA_INR",}',
    "single quotes": b"{'market':'TATA_INR'}",
    "trailing garbage": b'{"market":"TATA_INR"}x',
    "two objects": b"{}{}",
    "byte order mark": b'\xef\xbb\xbf{"market":"TATA_INR"}',
    "UTF-16": '{"market":"TATA_INR"}'.encode("utf-16"),
    "invalid UTF-8": b'{"market":"\xff\xfe"}',
    "lone surrogate": b'{"market":"\\ud800"}',
    "raw control character": b'{"market":"TATA\x00INR"}',
    "comment": b'{"market":"TATA_INR" /* hi */}',
    "nested 5000 deep": DEEP,
    "a field nested 5000 deep": b'{"market":' + DEEP + b"}",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_json_is_400(
    api: httpx.Client, trader: dict[str, str], unchanged: str, name: str
) -> None:
    for route, lane in _targets():
        response = api.post(route, content=MALFORMED[name], headers={**trader, **JSON, **lane})
        _assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("body", [b"", b"[]", b"null", b'"order"', b"1", b"true", b"{}"])
def test_an_empty_or_non_object_body_is_400(
    api: httpx.Client, trader: dict[str, str], unchanged: str, body: bytes
) -> None:
    for route, lane in _targets():
        response = api.post(route, content=body, headers={**trader, **JSON, **lane})
        assert response.status_code == 400, (route, response.text)
        assert response.json()["error"]["code"] in ("BAD_REQUEST", "INVALID_REQUEST")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "application/octet-stream",
    ],
)
def test_a_valid_body_with_the_wrong_content_type_is_415(
    api: httpx.Client, trader: dict[str, str], unchanged: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    for route, lane in _targets():
        body = _bodies(unchanged)[route]
        response = api.post(route, content=body, headers={**trader, **headers, **lane})
        _assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/ld+json"]
)
def test_json_content_types_are_accepted(
    api: httpx.Client, trader: dict[str, str], content_type: str
) -> None:
    """The control for the test above: spellings of JSON work, on both lanes."""
    for lane in LANES.values():
        body = _bodies("x")["/order"]
        placed = api.post(
            "/order", content=body, headers={**trader, "Content-Type": content_type, **lane}
        )
        assert placed.status_code == 200, placed.text
        assert api.delete(f"/order/{placed.json()['orderId']}", headers=trader).status_code == 200


WRONG_TYPES = {
    "postOnly": ['"true"', "1", "0", "null", '"yes"'],
    "kind": ['"BUY"', '"Buy"', "1", "null", '["buy"]'],
    "type": ['"LIMIT"', '"stop"', "null"],
    "timeInForce": ['"gtc"', '"DAY"', "1"],
    "selfTradePrevention": ['"none"', "true"],
    "market": [
        "5",
        '["TATA_INR"]',
        '{"symbol":"TATA_INR"}',
        "null",
        '""',
        '"TA"',
        '"' + "A" * 33 + '"',
    ],
    "clientOrderId": ["5", '""', '"has space"', '"' + "a" * 65 + '"', '"\\u0000"', "true"],
}


@pytest.mark.parametrize(
    ("field", "raw"), [(f, v) for f, values in WRONG_TYPES.items() for v in values]
)
def test_a_field_of_the_wrong_type_is_400_naming_it(
    api: httpx.Client, trader: dict[str, str], field: str, raw: str
) -> None:
    """Conversion is strict: ``"true"`` and ``1`` are not booleans, enums match exactly."""
    order = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "10", "quantity": "1"}
    text = json.dumps({k: v for k, v in order.items() if k != field})
    body = f'{text[:-1]}, "{field}": {raw}}}'.encode()
    before = snapshot(api, trader)
    for lane in LANES.values():
        response = api.post("/order", content=body, headers={**trader, **JSON, **lane})
        assert response.status_code == 400, (lane, response.text)
        assert response.json()["error"]["field"] == field, response.text
    assert snapshot(api, trader) == before


def test_a_websocket_frame_nested_5000_deep_is_refused_and_the_socket_lives(
    cluster: Cluster,
) -> None:
    async def scenario() -> None:
        url = cluster.base_url.replace("http://", "ws://") + "/ws"
        async with websockets.connect(url) as ws:
            await ws.send("[" * 2000 + "]" * 2000)
            refused = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert refused["error"]["code"] == "INVALID_JSON"
            await ws.send(json.dumps({"method": "PING", "id": 1}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"id": 1, "result": "pong"}

    asyncio.run(scenario())
