"""Real Redis, PostgreSQL and matcher for the flow: a schema per test, a MatcherService, and
the persist agent's store for the ``trades`` rows (the flow writes none)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from infra.migrate import migrate
from matcher.service import MatcherService
from model import topics
from model.commands import Command
from model.config import load_markets
from model.events import StateEvent
from model.lease import WriterLease
from model.settings import MatcherSettings
from pipeline.fence import FLOW_ROLE, Fence, persist_role
from pipeline.persist import PersistStore
from tests.integration.pipeline.writers import holding
from tests.support.streams import all_events, submit_all

CONFIG = load_markets()
SHARD = "t"
MARKETS = sorted(CONFIG.markets)


@dataclass
class FlowEnv:
    redis_url: str
    database_url: str  # search_path = this test's schema
    client: redis.Redis
    service: MatcherService
    tmp: Path
    lease: WriterLease  # the flow's writer lease, held (and renewed) for the test
    fence: Fence

    def run_matcher(self, commands: list[Command]) -> None:
        """Submit commands and let the matcher commit all of them."""
        submit_all(self.client, SHARD, commands)
        while self.service.step(block_ms=1):
            pass
        self.service.settle()

    def persist(self, database_url: str | None = None) -> None:
        """Store every event of the shard as the persist agent does (its ``PersistStore``,
        under its lease): the ``trades`` rows the SQL recomputations read."""
        url = database_url or self.database_url
        events: list[StateEvent] = [e for _, e in all_events(self.client, SHARD)]
        with holding(self.client, topics.persist_lease(SHARD), persist_role(SHARD), url) as (
            _,
            fence,
        ):
            asyncio.run(_store(url, fence, events))

    def query(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(statement.encode(), args).fetchall()


async def _store(url: str, fence: Fence, events: list[StateEvent]) -> None:
    store = PersistStore(url, CONFIG, SHARD, fence)
    try:
        await store.write(events)
    finally:
        await store.close()


def schema_url(database_url: str, schema: str) -> str:
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def new_schema(database_url: str) -> Iterator[Any]:
    """A factory of fresh migrated schemas (dropped afterwards); returns their URLs."""
    made: list[str] = []

    def make() -> str:
        schema = f"flow_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        made.append(schema)
        url = schema_url(database_url, schema)
        migrate(url)
        return url

    yield make
    with psycopg.connect(database_url, autocommit=True) as admin:
        for schema in made:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


@pytest.fixture
def flow_env(
    redis_url: str, redis_client: redis.Redis, new_schema: Any, tmp_path: Path
) -> Iterator[FlowEnv]:
    settings = MatcherSettings(batch_size=64, snapshot_every_ms=3_600_000, trim_commands=False)
    service = MatcherService(redis_client, SHARD, CONFIG, settings)
    assert service.take_lease()
    service.recover()
    url = new_schema()
    with holding(redis_client, topics.flow_lease(), FLOW_ROLE, url) as (lease, fence):
        yield FlowEnv(redis_url, url, redis_client, service, tmp_path, lease, fence)
    service.lease.release()
