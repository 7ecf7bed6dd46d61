"""OWASP API2/API4: sign-in brute force is rate limited.

An edge with ``TIDEWATER_SIGNIN_LIMIT=5`` (attempts per minute per IP, sign-up and sign-in
together) answers the sixth attempt with 429, ``RATE_LIMITED`` and a ``Retry-After`` that says
when to come back. While limited, even the right password is refused (the limit gives a guesser
no oracle), and so is every other username (it counts per IP, against credential stuffing);
trading with a token already issued goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.security.conftest import start_cluster
from tests.support.cluster import Cluster

LIMIT = 5


@pytest.fixture(scope="module")
def guarded(
    security_redis: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("guarded")
    cluster = start_cluster(
        security_redis, edge_database_url, workdir, {"TIDEWATER_SIGNIN_LIMIT": str(LIMIT)}
    )
    yield cluster
    cluster.stop()


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_signin_brute_force_is_cut_off(guarded: Cluster) -> None:
    name = f"v{uuid.uuid4().hex[:12]}"
    password = "the right password"
    with httpx.Client(base_url=f"{guarded.base_url}/api/v1", timeout=30) as api:
        created = api.post("/signup", json={"username": name, "password": password})  # 1 of 5
        assert created.status_code == 201, created.text
        token = {"Authorization": f"Bearer {created.json()['token']}"}

        guesses = [
            api.post("/signin", json={"username": name, "password": f"guess-{i:04d}"})
            for i in range(LIMIT + 3)
        ]
        codes = [r.status_code for r in guesses]
        assert codes[: LIMIT - 1] == [401] * (LIMIT - 1), codes
        for refused in guesses[LIMIT - 1 :]:
            _assert_limited(refused)

        _assert_limited(api.post("/signin", json={"username": name, "password": password}))
        other = {"username": "someone_else", "password": "whatever-it-is"}
        _assert_limited(api.post("/signin", json=other))
        _assert_limited(api.post("/signup", json={"username": f"n{name}", "password": password}))

        assert api.get("/balances", headers=token).status_code == 200
