"""A whole exchange for the market maker: matcher, edge, persist agent and market-data flow."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from client import ApiError, Client
from tests.integration.edge.conftest import edge_root, fresh_database, fresh_redis_url
from tests.support.cluster import Cluster, Service

T = TypeVar("T")
PASSWORD = "market-maker-test-password"


@pytest.fixture(scope="module")
def exchange(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Every service but the market maker; a database of its own, so trades are only its own."""
    with fresh_database(database_url, "tw_mm") as db_url:
        cluster = Cluster(
            fresh_redis_url(redis_url), db_url, tmp_path_factory.mktemp("exchange"),
            with_agents=True, with_flow=True,
        )  # fmt: skip
        cluster.start()
        yield cluster
        cluster.stop()


class MarketMakerProcess(Service):
    """``python -m marketmaker -v`` against the cluster's edge, as one account."""

    def __init__(self, cluster: Cluster, log: Path, **settings: str) -> None:
        self.username = f"mm{uuid.uuid4().hex[:10]}"
        env = {
            **os.environ,
            "TIDEWATER_EDGE_URL": cluster.base_url,
            "TIDEWATER_MM_USERNAME": self.username,
            "TIDEWATER_MM_PASSWORD": PASSWORD,
            "TIDEWATER_MM_REFRESH_MS": "200",
            "TIDEWATER_MM_LEVELS": "3",
            "TIDEWATER_MM_CROSS_PCT": "50",
            **settings,
        }
        super().__init__("marketmaker", ["-v"], env, log)


@pytest.fixture
def market_maker(exchange: Cluster, tmp_path: Path) -> Iterator[MarketMakerProcess]:
    """A market maker of its own (not started); killed if the test leaves it running."""
    process = MarketMakerProcess(exchange, tmp_path / "mm.log")
    yield process
    process.kill()


def eventually(
    read: Callable[[], T],
    ok: Callable[[T], bool],
    what: str,
    timeout: float,
    watch: Service | None = None,
) -> T:
    """Poll ``read`` until ``ok`` holds; fail naming ``what`` (and the last value) at the
    deadline, or at once if ``watch`` has died. Failed reads (the edge restarting) count as
    not yet."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if watch is not None and not watch.alive():
            raise AssertionError(f"{what}: the market maker died:\n{watch.output()}")
        try:
            last = read()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if ok(last):
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s; last seen: {last!r}")


def sign_in(api: httpx.Client, username: str) -> dict[str, str]:
    """The Authorization header of an account the market maker made (once it has)."""

    def sign_in_once() -> str | None:
        with Client(edge_root(api)) as client:
            try:
                return client.sign_in(username, PASSWORD).token
            except ApiError as exc:
                if exc.status != 401 and not exc.transient:
                    raise
                return None  # not signed up yet (or the edge is restarting)

    token = eventually(sign_in_once, lambda t: t is not None, f"{username} signed up", 60)
    return {"Authorization": f"Bearer {token}"}
