"""Fixtures shared by the whole suite: real Redis and PostgreSQL, started only when asked for.

- ``redis_url`` / ``database_url`` (session): ``TEST_REDIS_URL`` / ``TEST_DATABASE_URL`` if set,
  else ONE throwaway server each for the whole run, started by ``infra.embedded`` the first time a
  test asks (tests that need no server never pay for one) and stopped at the end of the run.
- ``redis_client`` (function): a ``redis.Redis`` on that server whose database was flushed just
  before the test. Only ever the throwaway server or the one named by ``TEST_REDIS_URL``.
- ``pg_conn`` (function): an autocommit ``psycopg`` connection whose ``search_path`` is a fresh
  schema, dropped with everything in it after the test.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import redis
from psycopg import sql

from infra.embedded import EmbeddedPostgres, EmbeddedRedis

if TYPE_CHECKING:
    from collections.abc import Iterator


def pytest_report_header() -> str:
    """Which engine build this run tests (``TIDEWATER_ENGINE_BUILD``, see matcher/build.py)."""
    import matcher

    return f"engine build: {matcher.BUILD}"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the test Redis: ``TEST_REDIS_URL``, else a throwaway embedded server."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of the test database: ``TEST_DATABASE_URL``, else a throwaway embedded PostgreSQL."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = EmbeddedPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test Redis, its database flushed before the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pg_conn(database_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """An autocommit connection working in a fresh schema of its own (dropped afterwards)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            # search_path as a connection option: it stays put across RESET ALL.
            with psycopg.connect(
                database_url, autocommit=True, options=f"-c search_path={schema}"
            ) as conn:
                yield conn
        finally:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
