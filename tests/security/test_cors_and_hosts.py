"""OWASP API8 (security misconfiguration): CORS and allowed hosts are explicit lists.

A browser page on an allowed origin gets the CORS headers it needs, listing exactly the methods
and headers the API uses; any other origin gets no ``Access-Control-Allow-Origin``, so its
browser withholds the answer. A ``Host`` header the edge does not serve is refused with 400 on
every route, the fast order lane included, before anything happens; a WebSocket handshake for it
is refused too.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from model.settings import LOCAL_FRONTEND_ORIGINS, EdgeSettings, get_settings
from tests.integration.edge.conftest import sign_up
from tests.security.conftest import ALLOWED_ORIGIN, snapshot
from tests.support.cluster import Cluster

EVIL = "http://evil.example"
ORDER = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "10", "quantity": "1"}


def test_the_lists_are_explicit() -> None:
    settings = EdgeSettings()
    for listed in (settings.cors_origins, settings.allowed_hosts):
        assert listed
        assert not any("*" in entry for entry in listed), listed
    assert ALLOWED_ORIGIN in settings.cors_origins


def test_a_local_frontend_is_allowed_outside_production_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for production, allowed in ((False, True), (True, False)):
        monkeypatch.setenv("TIDEWATER_ENV", "production" if production else "development")
        monkeypatch.setenv("TIDEWATER_JWT_SECRET", "x" * 40)
        get_settings.cache_clear()
        try:
            origins = get_settings().edge.cors_origins
        finally:
            get_settings.cache_clear()
        assert all((o in origins) is allowed for o in LOCAL_FRONTEND_ORIGINS), origins
        assert "http://localhost:8050" in origins  # the dashboard's, always


def _preflight(
    api: httpx.Client,
    origin: str,
    method: str = "POST",
    headers: str = "authorization, content-type",
) -> httpx.Response:
    return api.options(
        "/order",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_local_frontend_may_send_signed_requests(api: httpx.Client) -> None:
    signing = "content-type, x-api-key, x-signature, x-timestamp, x-window"
    response = _preflight(api, LOCAL_FRONTEND_ORIGINS[0], headers=signing)
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == LOCAL_FRONTEND_ORIGINS[0]
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert set(signing.split(", ")) <= allowed


def test_a_preflight_from_an_allowed_origin_gets_exact_cors_headers(api: httpx.Client) -> None:
    response = _preflight(api, ALLOWED_ORIGIN)
    assert response.status_code == 204, response.text
    headers = response.headers
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "origin" in headers["vary"].lower()
    methods = {m.strip() for m in headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST", "DELETE"}
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "*" not in allowed
    assert "access-control-allow-credentials" not in headers  # tokens are never cookies
    assert int(headers["access-control-max-age"]) > 0


def test_a_preflight_for_a_method_the_api_does_not_use_is_refused(api: httpx.Client) -> None:
    response = _preflight(api, ALLOWED_ORIGIN, method="PUT")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_an_allowed_origin_reads_answers(api: httpx.Client) -> None:
    user = sign_up(api)
    response = api.get("/balances", headers={**user, "Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "null",
        "http://localhost:8050.evil.example",
        "http://evil.localhost:8050",
        "https://localhost:8050",
        "http://localhost:8051",
    ],
)
def test_any_other_origin_gets_no_cors_grant(api: httpx.Client, origin: str) -> None:
    user = sign_up(api, {"INR": "1000"})
    preflight = _preflight(api, origin)
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    before = snapshot(api, user)
    for response in (
        api.get("/markets", headers={"Origin": origin}),
        api.get("/balances", headers={**user, "Origin": origin}),
    ):
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers
    assert snapshot(api, user) == before


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "localhost.evil.example", "127.0.0.2", "[::2]"]
)
def test_a_host_the_edge_does_not_serve_is_400_everywhere(
    api: httpx.Client, cluster: Cluster, host: str
) -> None:
    user = sign_up(api, {"INR": "1000"})
    before = snapshot(api, user)
    wrong = {"Host": host}
    for method, path, kwargs in (
        ("POST", "/order", {"json": ORDER}),  # the fast lane's request, but for the host
        ("POST", "/order", {"json": ORDER, "headers": {"Origin": ALLOWED_ORIGIN}}),
        ("GET", "/balances", {}),
        ("GET", "/markets", {}),
        ("POST", "/onramp", {"json": {"asset": "INR", "amount": "5"}}),
        ("POST", "/signin", {"json": {"username": "nobody", "password": "whatever-it-is"}}),
    ):
        headers = {**user, **wrong, **kwargs.pop("headers", {})}
        response = api.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"]["code"] == "INVALID_HOST"
    assert httpx.get(f"{cluster.base_url}/healthz", headers=wrong).status_code == 400
    assert httpx.get(f"{cluster.base_url}/no-such-route", headers=wrong).status_code == 400
    assert snapshot(api, user) == before


async def _ws_handshake(url: str, host: str | None) -> None:
    headers = {"Host": host} if host is not None else None
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send('{"method": "SUBSCRIBE", "params": ["depth@TATA_INR"], "id": 1}')
        await asyncio.wait_for(ws.recv(), 5)


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.2"])
def test_a_websocket_for_a_host_the_edge_does_not_serve_is_refused(
    cluster: Cluster, host: str
) -> None:
    url = cluster.base_url.replace("http://", "ws://") + "/ws"
    asyncio.run(_ws_handshake(url, None))  # the control: the served host connects
    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(_ws_handshake(url, host))
    assert refused.value.response.status_code == 403


def test_the_served_hosts_work(api: httpx.Client, cluster: Cluster) -> None:
    user = sign_up(api)
    for host in (
        "localhost",
        f"localhost:{cluster.port}",
        "127.0.0.1",
        f"127.0.0.1:{cluster.port}",
    ):
        assert api.get("/balances", headers={**user, "Host": host}).status_code == 200, host
