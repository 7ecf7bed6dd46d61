"""The REST client against a scripted edge: retries with backoff, re-sign-in, sign-up or in."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable

import httpx
import pytest

from marketmaker.client import (
    Account,
    AuthError,
    Backoff,
    EdgeClient,
    EdgeError,
    EdgeUnavailableError,
)

FAST = Backoff(initial_ms=1, cap_ms=2)
FAR_FUTURE_MS = 2**42


def _token(name: str) -> httpx.Response:
    return httpx.Response(200, json={"token": name, "expiresAt": FAR_FUTURE_MS, "userId": 1})


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code.lower()}})


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> EdgeClient:
    return EdgeClient("http://edge", backoff=FAST, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_doubles_up_to_its_cap_with_jitter(attempt: int) -> None:
    backoff = Backoff(initial_ms=200, cap_ms=5000)
    nominal = min(5000, 200 * 2**attempt)
    delays = {backoff.delay_ms(attempt, random.Random(seed)) for seed in range(50)}
    assert all(nominal // 2 <= d <= nominal for d in delays)
    assert len(delays) > 1


async def test_transient_failures_are_retried_until_the_edge_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = iter(["down", 503, 429, 504, 502, "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        step = next(script)
        if step == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if step == "ok":
            return httpx.Response(200, json=[])
        return _error(int(step), "UNAVAILABLE")

    caplog.set_level(logging.WARNING, "tidewater.mm")
    async with _client(handler) as client:
        assert await client.markets() == []
    retries = [r.getMessage() for r in caplog.records if "edge unreachable" in r.getMessage()]
    assert len(retries) == 5
    assert retries[0].startswith("edge unreachable, retrying in 0.0s (GET /markets: ConnectError")


async def test_without_retry_a_transient_failure_raises_at_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/signin"):
            return _token("t")
        return _error(503, "UNAVAILABLE")

    async with _client(handler) as client:
        with pytest.raises(EdgeUnavailableError, match="503 UNAVAILABLE"):
            await client.place(Account("mm", "password"), {"market": "TATA_INR"}, retry=False)
    assert calls == ["/api/v1/signin", "/api/v1/order"]


async def test_a_client_error_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _error(400, "INVALID_MARKET")

    async with _client(handler) as client:
        with pytest.raises(EdgeError, match="INVALID_MARKET") as caught:
            await client.depth("NOPE_NOPE")
    assert (caught.value.status, calls) == (400, 1)


async def test_an_expired_token_is_renewed_once_and_the_call_repeated() -> None:
    seen: list[tuple[str, str | None]] = []
    tokens = iter(["first", "second"])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Authorization")))
        if request.url.path.endswith("/signin"):
            return _token(next(tokens))
        if request.headers["Authorization"] == "Bearer first":
            return _error(401, "UNAUTHORIZED")
        return httpx.Response(200, json={"INR": {"available": "1.00", "locked": "0.00"}})

    account = Account("mm", "password")
    async with _client(handler) as client:
        balances = await client.balances(account)
    assert balances["INR"].available == "1.00"
    assert seen == [
        ("/api/v1/signin", None),
        ("/api/v1/balances", "Bearer first"),
        ("/api/v1/signin", None),
        ("/api/v1/balances", "Bearer second"),
    ]
    assert account.token == "second"


async def test_a_token_refused_twice_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signin"):
            return _token("t")
        return _error(401, "UNAUTHORIZED")

    async with _client(handler) as client:
        with pytest.raises(EdgeError, match="401"):
            await client.balances(Account("mm", "password"))


async def test_a_token_close_to_expiry_is_renewed_before_use() -> None:
    signins = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal signins
        if request.url.path.endswith("/signin"):
            signins += 1
            return _token("fresh")
        return httpx.Response(200, json=[])

    account = Account("mm", "password", token="old", expires_at_ms=1)
    async with _client(handler) as client:
        await client.open_orders(account)
        await client.open_orders(account)
    assert (signins, account.token) == (1, "fresh")


async def test_sign_up_falls_back_to_sign_in_when_the_name_is_taken() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        assert json.loads(request.content) == {"username": "mm", "password": "password"}
        if request.url.path.endswith("/signup"):
            return _error(409, "USERNAME_TAKEN")
        return _token("t")

    account = Account("mm", "password")
    async with _client(handler) as client:
        await client.sign_up_or_in(account)
    assert paths == ["/api/v1/signup", "/api/v1/signin"]
    assert account.token == "t"


async def test_a_wrong_password_is_an_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signup"):
            return _error(409, "USERNAME_TAKEN")
        return _error(401, "INVALID_CREDENTIALS")

    async with _client(handler) as client:
        with pytest.raises(AuthError, match="mm: invalid_credentials"):
            await client.sign_up_or_in(Account("mm", "password"))
