"""Rate limits answer 429 with Retry-After, and one budget per session covers every route (the
fast order lane included); production refuses a weak signing secret."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.edge.conftest import fresh_redis_url, sign_up
from tests.support.cluster import ROOT, Cluster


@pytest.fixture(scope="module")
def limited(
    redis_url: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = Cluster(
        fresh_redis_url(redis_url),
        edge_database_url,
        tmp_path_factory.mktemp("limited"),
        extra={"TIDEWATER_RATE_LIMIT": "5", "TIDEWATER_SIGNIN_LIMIT": "4"},
    )
    cluster.start()
    yield cluster
    cluster.stop()


def test_a_busy_client_gets_429_with_retry_after(limited: Cluster) -> None:
    with httpx.Client(base_url=f"{limited.base_url}/api/v1") as api:
        user = sign_up(api)
        started = time.monotonic()
        statuses = [api.get("/balances", headers=user) for _ in range(12)]
        elapsed = time.monotonic() - started
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    assert int(refused[0].headers["Retry-After"]) >= 0
    assert refused[0].json()["error"]["code"] == "RATE_LIMITED"
    # A bucket of 5 that refills 5 tokens a second: a slow machine earns a few more.
    assert sum(r.status_code == 200 for r in statuses) <= 5 + math.ceil(elapsed * 5)


def test_order_placement_is_limited_too(limited: Cluster) -> None:
    with httpx.Client(base_url=f"{limited.base_url}/api/v1") as api:
        user = sign_up(api, {"INR": "1000"})
        body = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1", "quantity": "1"}
        statuses = [api.post("/order", headers=user, json=body) for _ in range(15)]
        wrong_host = api.post("/order", headers={**user, "Host": "evil.example"}, json=body)
    codes = [r.status_code for r in statuses]
    assert 429 in codes, codes
    refused = next(r for r in statuses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert wrong_host.status_code == 400


#: The lane serves orders without an ``Origin`` header; with an allowed one, Litestar does.
_FAST: dict[str, str] = {}
_LITESTAR = {"Origin": "http://localhost:8050"}
_ORDER = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1", "quantity": "1"}


#: (spend the budget this way, then call that way); one account for all (sign-ups are limited).
_WAYS = [("orders", "balances"), ("balances", "orders"), ("litestar orders", "orders")]


def test_orders_and_other_calls_share_one_budget(limited: Cluster) -> None:
    """Spend the session's budget (5 a second) one way until refused, then call another way:
    only what the bucket refilled meanwhile gets through. With a budget per way in, the other
    way would start full and let at least 5 through at once."""
    calls = {
        "orders": lambda api, user: api.post("/order", headers={**user, **_FAST}, json=_ORDER),
        "litestar orders": lambda api, user: api.post(
            "/order", headers={**user, **_LITESTAR}, json=_ORDER
        ),
        "balances": lambda api, user: api.get("/balances", headers=user),
    }
    with httpx.Client(base_url=f"{limited.base_url}/api/v1", timeout=30) as api:
        user = sign_up(api, {"INR": "1000"})
        for spend, then in _WAYS:
            time.sleep(1.2)  # the bucket is full again
            for _ in range(60):  # spend until the first refusal: the bucket then holds < 1
                refused_at = time.monotonic()
                refused = calls[spend](api, user)
                if refused.status_code == 429:
                    break
            else:
                pytest.fail(f"{spend}: never refused")
            after = [calls[then](api, user) for _ in range(6)]
            elapsed = time.monotonic() - refused_at
            codes = [r.status_code for r in after]
            # Refilled at 5 a second since the refusal; a budget per way in would let 5 through.
            assert codes.count(200) <= 1 + math.ceil(elapsed * 5), (spend, then, codes, elapsed)
            assert refused.json()["error"]["code"] == "RATE_LIMITED"
            assert int(refused.headers["Retry-After"]) >= 1


def test_signin_brute_force_is_limited(limited: Cluster) -> None:
    with httpx.Client(base_url=f"{limited.base_url}/api/v1") as api:
        tries = [
            api.post("/signin", json={"username": "victim", "password": f"guess-{i:04d}"})
            for i in range(8)
        ]
    codes = [r.status_code for r in tries]
    assert 429 in codes
    assert codes.count(401) <= 4


def _create_app_in_production(secret: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "TIDEWATER_ENV": "production",
        "TIDEWATER_JWT_SECRET": secret,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    return subprocess.run(
        [sys.executable, "-c", "from edge.app import create_app\n" + code],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "secret", ["", "tidewater-development-secret-do-not-use-in-production", "short"]
)
def test_production_refuses_a_weak_secret(secret: str) -> None:
    done = _create_app_in_production(secret, "create_app()")
    assert done.returncode != 0
    assert "TIDEWATER_JWT_SECRET" in done.stderr


def test_production_accepts_a_strong_secret() -> None:
    done = _create_app_in_production("k" * 48, "print(type(create_app().app).__name__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Litestar"
