"""The edge's line to the matcher when the matcher does not answer: a queued order answers 504
with its order and command ids, never a 5xx of another kind, and its outcome is readable once
the matcher is back."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.edge.conftest import fresh_database, fresh_redis_url, sign_up
from tests.support.cluster import Cluster
from tests.support.waiting import eventually


def test_an_order_the_matcher_does_not_answer_in_time_is_504_then_readable(
    redis_url: str, database_url: str, tmp_path: Path
) -> None:
    extra = {"TIDEWATER_REPLY_TIMEOUT_MS": "300"}
    with fresh_database(database_url, "tw_gateway") as db_url:
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, extra)
        cluster.start()
        try:
            with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=10) as api:
                user = sign_up(api, {"INR": "1000"})
                cluster.matcher.stop()
                body = {
                    "market": "TATA_INR", "kind": "buy", "type": "limit", "price": "10",
                    "quantity": "1",
                }  # fmt: skip
                late = api.post("/order", json=body, headers=user)
                assert late.status_code == 504, late.text
                error = late.json()["error"]
                assert error["code"] == "TIMEOUT"
                assert error["orderId"].isdigit()
                assert error["commandId"].count("-") == 1  # a stream entry id
                cluster.matcher.start()  # the command is on the stream: it is applied now

                found = eventually(
                    lambda: api.get(f"/order/{error['orderId']}", headers=user),
                    lambda r: r.status_code == 200,
                )
                assert found.status_code == 200, found.text
                assert found.json()["status"] == "new"
        finally:
            cluster.stop()
