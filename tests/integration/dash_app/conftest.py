"""A whole exchange for the dashboard: matcher, edge, persist agents and the market-data flow on
a database and Redis of their own, with market data flowing (from the market maker when the
package exists, else from two test users trading through the REST API), and the Dash app as a
subprocess when a test asks for it."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import Client
from infra.embedded import free_port
from tests.integration.edge.conftest import edge_root, fresh_database, fresh_redis_url, sign_up
from tests.support.cluster import Cluster, Service
from tests.support.waiting import eventually

#: The market the dashboard tests look at.
MARKET = "TATA_INR"
HAVE_MARKET_MAKER = importlib.util.find_spec("marketmaker") is not None


def seed_market(api: httpx.Client) -> None:
    """Two users trade TATA_INR so that depth, trades, candles and the ticker all have data."""
    seller = sign_up(api, {"TATA": "1000"})["Authorization"].removeprefix("Bearer ")
    buyer = sign_up(api, {"INR": "100000"})["Authorization"].removeprefix("Bearer ")
    orders = [
        (seller, "sell", price, qty)
        for price, qty in (("101.00", "5"), ("101.50", "3"), ("102.00", "8"), ("103.25", "4"))
    ]
    orders += [
        (buyer, "buy", price, qty)
        for price, qty in (("99.00", "6"), ("98.50", "4"), ("97.75", "9"))
    ]
    orders += [(buyer, "buy", "101.50", "6"),  # takes 5 @ 101.00 and 1 @ 101.50
               (seller, "sell", "99.00", "2")]  # hits 2 of the bid at 99.00  # fmt: skip
    with Client(edge_root(api)) as client:
        for who, kind, price, qty in orders:
            body = {"market": MARKET, "kind": kind, "type": "limit", "price": price,
                    "quantity": qty}  # fmt: skip
            client.place(who, body)


@pytest.fixture(scope="package")
def exchange(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Matcher, edge, agents and flow on a fresh database, with market data for ``MARKET``."""
    with fresh_database(database_url, "tw_dash") as db_url:
        workdir = tmp_path_factory.mktemp("dash-exchange")
        # The dashboard's port, known to the edge: its browsers call the edge (CORS). The writer
        # leases live 10 s, not 2: with 50 headless pages loading on two cores, the flow's
        # renewal once waited more than 2 s, and a writer that loses its lease stops for good
        # here (`tidewater up` restarts it; this cluster has no supervisor).
        extra = {"TIDEWATER_DASH_PORT": str(free_port()), "TIDEWATER_LEASE_TTL_MS": "10000"}
        cluster = Cluster(
            fresh_redis_url(redis_url),
            db_url,
            workdir,
            extra=extra,
            with_agents=True,
            with_flow=True,
        )
        cluster.start()
        maker = Service(
            "marketmaker",
            [],
            {
                **cluster.edge.env,
                "TIDEWATER_EDGE_URL": cluster.base_url,
                "TIDEWATER_MM_MARKETS": MARKET,
                "TIDEWATER_MM_REFRESH_MS": "500",
            },
            workdir / "marketmaker.log",
        )
        try:
            with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=10) as api:
                if HAVE_MARKET_MAKER:
                    maker.start()
                else:
                    seed_market(api)
                ticker = eventually(
                    lambda: api.get("/ticker", params={"symbol": MARKET}).json(),
                    lambda t: int(t["trades"]) > 0,
                    timeout=60,
                )
                assert int(ticker["trades"]) > 0, (
                    f"no trades printed:\n{maker.output() if HAVE_MARKET_MAKER else ''}"
                )
            yield cluster
        finally:
            maker.stop()
            cluster.stop()


class DashServer:
    """``python -m dash_app`` on a free port, pointed at an edge."""

    def __init__(self, edge_url: str, env: dict[str, str], log: Path) -> None:
        self.port = int(env.get("TIDEWATER_DASH_PORT") or free_port())
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = Service(
            "dash_app",
            [],
            {
                **env,
                "TIDEWATER_DASH_PORT": str(self.port),
                "TIDEWATER_EDGE_URL": edge_url,
                "TIDEWATER_DASH_REFRESH_MS": "500",
            },
            log,
        )

    def start(self, timeout: float = 30) -> None:
        self.service.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.service.alive():
                raise RuntimeError(f"dash app died:\n{self.service.output()}")
            try:
                if httpx.get(f"{self.url}/_dash-layout", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.service.stop()
        raise RuntimeError(f"dash app not serving:\n{self.service.output()}")


@pytest.fixture(scope="package")
def dash_server(
    exchange: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashServer]:
    """The dashboard as a deployment runs it, reading the test exchange's edge."""
    server = DashServer(
        exchange.base_url, exchange.edge.env, tmp_path_factory.mktemp("dash") / "dash.log"
    )
    server.start()
    yield server
    assert server.service.stop() == 0, server.service.output()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (the browser tests skip without it)."""
    from playwright.sync_api import sync_playwright

    from tests.integration.dash_app.test_browser import CHROMIUM

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()
