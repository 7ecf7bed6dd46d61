"""Fixtures for the edge: a migrated database of its own and a running matcher + edge."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from psycopg import sql

from client import Client
from client.routes import API_PREFIX
from infra.migrate import migrate
from tests.support.cluster import Cluster

_redis_dbs = itertools.count()


def with_path(url: str, path: str) -> str:
    """``url`` with its path (database name or number) replaced."""
    return urlsplit(url)._replace(path=f"/{path}").geturl()


@contextlib.contextmanager
def fresh_database(database_url: str, prefix: str = "tw_edge") -> Iterator[str]:
    """A new, migrated database on the test server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_path(database_url, name)
    migrate(url)
    try:
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def edge_database_url(database_url: str) -> Iterator[str]:
    """A fresh, migrated database shared by the edge tests (dropped at the end)."""
    with fresh_database(database_url) as url:
        yield url


def fresh_redis_url(redis_url: str) -> str:
    """A Redis database of its own, emptied: numbers 1..N-1 in turn (N = the server's
    ``databases``; the embedded test server has 128), so a cluster reuses a number only after
    every other one was handed out."""
    client = redis.Redis.from_url(redis_url)
    try:
        count = int(client.config_get("databases").get("databases", 16))
    except redis.ResponseError:  # CONFIG disabled on a managed server: assume the default
        count = 16
    finally:
        client.close()
    number = 1 + next(_redis_dbs) % (count - 1)
    url = with_path(redis_url, str(number))
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="module")
def cluster(
    redis_url: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A matcher and an edge, shared by the tests of one module."""
    running = Cluster(
        fresh_redis_url(redis_url), edge_database_url, tmp_path_factory.mktemp("cluster")
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def api(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=10) as client:
        yield client


def edge_root(api: httpx.Client) -> str:
    """The edge's root URL of an HTTP client made for its ``/api/v1``."""
    return str(api.base_url).rstrip("/").removesuffix(API_PREFIX)


def sign_up(api: httpx.Client, deposits: dict[str, str] | None = None) -> dict[str, str]:
    """A new user with a token (and deposits), made through ``client.Client`` on the edge that
    ``api`` calls; returns the Authorization header, for tests that speak raw HTTP."""
    name = f"u{uuid.uuid4().hex[:12]}"
    with Client(edge_root(api)) as client:
        token = client.sign_up(name, "correct horse battery").token
        for asset, amount in (deposits or {}).items():
            client.onramp(token, asset, amount)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def full(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The whole order path and market data: matcher, edge, persist agent and flow, on a
    database of the module's own (tickers and candles count every trade stored in it)."""
    with fresh_database(database_url, "tw_md") as db_url:
        cluster = Cluster(
            fresh_redis_url(redis_url), db_url, tmp_path_factory.mktemp("full"),
            with_agents=True, with_flow=True,
        )  # fmt: skip
        cluster.start()
        yield cluster
        cluster.stop()
