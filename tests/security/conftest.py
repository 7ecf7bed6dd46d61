"""Fixtures for the hostile-input tests: a matcher + edge shared by the folder, and a helper
that reads an account's state back to prove a refused request changed nothing.

Rate limits are off (``TEST_ENV``) except on the brute-force test's own edge; schemathesis,
which trades at random in every market, gets an edge of its own (``fuzz_cluster``). The clusters
here use a Redis server of their own (one database each), apart from the databases the other
integration tests hand out.

The shared TATA_INR book: tests that need an order to rest bid below 2.50; asks rest at 10 and
11 (placed so that an order slipping through would trade at once).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from infra.embedded import EmbeddedRedis
from tests.integration.edge.conftest import edge_database_url, with_path
from tests.support.cluster import Cluster

__all__ = ["ALLOWED_ORIGIN", "LANES", "Lane", "edge_database_url", "snapshot"]

#: A browser origin the edge allows (settings' default ``cors_origins``).
ALLOWED_ORIGIN = "http://localhost:8050"

Lane = dict[str, str]
#: Extra headers that steer ``POST /api/v1/order`` to each implementation: the fast lane serves
#: requests without an ``Origin`` header; with one, the Litestar route does (and adds CORS).
LANES: dict[str, Lane] = {"fast": {}, "litestar": {"Origin": ALLOWED_ORIGIN}}

_databases = itertools.count(0)


@pytest.fixture(scope="session")
def security_redis() -> Iterator[str]:
    server = EmbeddedRedis()
    try:
        yield server.start()
    finally:
        server.stop()


def fresh_redis(security_redis: str) -> str:
    """A database of the folder's Redis server, emptied."""
    url = with_path(security_redis, str(next(_databases)))
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


def start_cluster(
    security_redis: str, database_url: str, workdir: Path, extra: dict[str, str] | None = None
) -> Cluster:
    cluster = Cluster(fresh_redis(security_redis), database_url, workdir, extra)
    cluster.start()
    return cluster


@pytest.fixture(scope="session")
def cluster(
    security_redis: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A matcher and an edge shared by the tests in this folder."""
    running = start_cluster(security_redis, edge_database_url, tmp_path_factory.mktemp("edge"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def fuzz_cluster(
    security_redis: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A matcher and an edge for schemathesis alone (its random orders fill every book)."""
    running = start_cluster(security_redis, edge_database_url, tmp_path_factory.mktemp("fuzz"))
    yield running
    running.stop()


@pytest.fixture
def api(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=30) as client:
        yield client


def snapshot(api: httpx.Client, user: dict[str, str]) -> dict[str, Any]:
    """What a user owns: balances and open orders (with their status and fills)."""
    balances = api.get("/balances", headers=user)
    opened = api.get("/orders/open", headers=user)
    assert balances.status_code == opened.status_code == 200, (balances.text, opened.text)
    return {"balances": balances.json(), "open": opened.json()}
