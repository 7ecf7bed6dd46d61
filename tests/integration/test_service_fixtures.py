"""The suite's shared fixtures: a flushed Redis and a private PostgreSQL schema per test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg
    import redis


@pytest.mark.parametrize("run", [1, 2])
def test_redis_client_starts_empty(redis_client: redis.Redis, run: int) -> None:
    assert redis_client.dbsize() == 0  # the other run's key was flushed
    redis_client.set("tw:test:run", run)
    assert redis_client.get("tw:test:run") == str(run).encode()


@pytest.mark.parametrize("run", [1, 2])
def test_pg_conn_has_a_fresh_schema(pg_conn: psycopg.Connection[tuple[Any, ...]], run: int) -> None:
    schema = pg_conn.execute("SELECT current_schema()").fetchone()
    assert schema is not None
    assert str(schema[0]).startswith("test_")
    tables = pg_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchone()
    assert tables == (0,)  # the other run's table went with its schema
    pg_conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY)")
    pg_conn.execute("INSERT INTO orders VALUES (%s)", (run,))
    assert pg_conn.execute("SELECT id FROM orders").fetchall() == [(run,)]
