"""``tidewater audit`` on a running exchange: clean after real trading over REST, and it
catches a lost acknowledged order, a lost trade row and a command-log the matcher did not run."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from infra.audit import AuditReport, audit
from model import topics, wire
from model.settings import get_settings
from tests.integration.edge.conftest import fresh_database, fresh_redis_url, sign_up
from tests.support.cluster import Cluster

MARKETS = ("TATA_INR", "BTC_USDC")


def _trade(api: httpx.Client, rng: random.Random, users: list[dict[str, str]]) -> list[int]:
    """Random limit, market and cancel traffic; the ids of every order answered with a 2xx."""
    acknowledged: list[int] = []
    for _ in range(150):
        user = rng.choice(users)
        market = rng.choice(MARKETS)
        kind = rng.choice(("buy", "sell"))
        roll = rng.random()
        if roll < 0.2 and acknowledged:
            api.delete(f"/order/{rng.choice(acknowledged)}", headers=user)
            continue
        if market == "TATA_INR":
            price, quantity = (
                f"{rng.randint(95, 105)}.{rng.randint(0, 99):02d}",
                str(rng.randint(1, 5)),
            )
        else:
            price, quantity = str(rng.randint(29_900, 30_100)), f"0.{rng.randint(1, 20):03d}"
        body: dict[str, Any] = {"market": market, "kind": kind, "quantity": quantity}
        if roll < 0.35:
            body["type"] = "market"
        else:
            body |= {"type": "limit", "price": price}
        response = api.post("/order", json=body, headers=user)
        if response.status_code == 200:
            acknowledged.append(int(response.json()["orderId"]))
        else:
            assert response.status_code in (400, 409, 422), response.text
    return acknowledged


def _finding(report: AuditReport, name: str) -> bool:
    matches = [f for f in report.findings if name in f.check]
    assert matches, [f.check for f in report.findings]
    return all(f.ok for f in matches)


def test_audit_is_clean_after_trading_and_catches_losses(
    redis_url: str, database_url: str, tmp_path: Path
) -> None:
    with fresh_database(database_url, "tw_audit") as db_url:
        rurl = fresh_redis_url(redis_url)
        cluster = Cluster(rurl, db_url, tmp_path, with_agents=True, with_flow=True)
        cluster.start()
        try:
            with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=10) as api:
                deposits = {"TATA": "1000", "INR": "1000000", "BTC": "10", "USDC": "1000000"}
                users = [sign_up(api, deposits) for _ in range(4)]
                acknowledged = _trade(api, random.Random(11), users)
            assert len(acknowledged) > 50
            settings = get_settings()
            shards = {s: settings.markets_of(s) for s in settings.shard_names()}
            client = redis.Redis.from_url(rurl)
            with psycopg.connect(db_url, autocommit=True) as conn:
                report = audit(client, conn, settings.markets(), shards, acknowledged=acknowledged)
                assert report.ok, report.render()
                assert report.figures["trades"] > 0

                ack_file = tmp_path / "acknowledged.txt"
                ack_file.write_text("\n".join(map(str, acknowledged)))
                cli = subprocess.run(
                    [sys.executable, "-m", "infra.cli", "audit", "--acknowledged", str(ack_file)],
                    env={**cluster.matcher.env},
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=120,
                )
                assert cli.returncode == 0, cli.stdout + cli.stderr
                assert cli.stdout.strip().endswith("audit: clean")

                # An order the client saw acknowledged but the exchange does not know.
                lost = audit(
                    client, conn, settings.markets(), shards,
                    acknowledged=[*acknowledged, max(acknowledged) + 1], settle_s=1,
                )  # fmt: skip
                assert not _finding(lost, "every order in one state")
                assert _finding(lost, "trades stored")

                # A trade row lost from PostgreSQL.
                conn.execute(
                    "DELETE FROM trades WHERE (market, trade_id) IN "
                    "(SELECT market, trade_id FROM trades LIMIT 1)"
                )
                lost = audit(client, conn, settings.markets(), shards, settle_s=1)
                assert not _finding(lost, "trades stored")
                assert not _finding(lost, "candles")
                assert _finding(lost, "state hash")

            # A command that left the log: the live matcher ran it (and kept it in the snapshot
            # it writes on stop), a clean replay cannot.
            cluster.stop()
            placed = [
                entry_id
                for entry_id, fields in client.xrange(topics.commands("0"))
                if b"PlaceOrder" in fields[wire.COMMAND_FIELD]
            ]
            client.xdel(topics.commands("0"), placed[len(placed) // 2])
            cluster.matcher.start()
            with psycopg.connect(db_url, autocommit=True) as conn:
                diverged = audit(
                    client, conn, settings.markets(), shards, settle_s=5, check_candles=False
                )
            assert not _finding(diverged, "state hash")
            assert _finding(diverged, "journal: one writer")

            # A batch from a second writer of the shard, under an older lease: a forked journal.
            first_batch = client.xrange(topics.events("0"), count=1)[0][1]
            client.xadd(topics.events("0"), {**first_batch, wire.WRITER_FIELD: b"0"})
            with psycopg.connect(db_url, autocommit=True) as conn:
                forked = audit(
                    client, conn, settings.markets(), shards, settle_s=1, check_candles=False
                )
            journal = next(f for f in forked.findings if "journal: one writer" in f.check)
            assert not journal.ok
            assert "FORKED journal" in journal.detail
            assert "epoch 0 after epoch" in journal.detail
            assert "seq 1 again" in journal.detail
            client.close()
        finally:
            cluster.stop()


@pytest.fixture(autouse=True)
def _clean_settings() -> Any:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_audit_replays_from_the_snapshot_when_the_log_was_trimmed(
    redis_url: str, database_url: str, tmp_path: Path
) -> None:
    with fresh_database(database_url, "tw_audit") as db_url:
        rurl = fresh_redis_url(redis_url)
        extra = {"TIDEWATER_TRIM_COMMANDS": "1", "TIDEWATER_SNAPSHOT_EVERY": "40"}
        cluster = Cluster(rurl, db_url, tmp_path, extra, with_agents=True)
        cluster.start()
        try:
            with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=10) as api:
                deposits = {"TATA": "1000", "INR": "1000000", "BTC": "10", "USDC": "1000000"}
                users = [sign_up(api, deposits) for _ in range(3)]
                acknowledged = _trade(api, random.Random(5), users)
            client = redis.Redis.from_url(rurl)
            settings = get_settings()
            shards = {s: settings.markets_of(s) for s in settings.shard_names()}
            with psycopg.connect(db_url, autocommit=True) as conn:
                report = audit(
                    client, conn, settings.markets(), shards,
                    acknowledged=acknowledged, check_candles=False,
                )  # fmt: skip
            client.close()
        finally:
            cluster.stop()
    assert report.ok, report.render()
    hashed = next(f for f in report.findings if "state hash" in f.check)
    assert "replay from the snapshot" in hashed.detail
