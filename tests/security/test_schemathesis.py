"""Schemathesis against the live ``/schema/openapi.json``: every check, every phase.

The CLI (``schemathesis run``: the runner its authors provide for a live API, and the only one
that chains the examples, coverage, fuzzing and stateful phases) tests every operation as a
signed-up, funded user, with every check: no server error, statuses, content types, headers and
bodies as documented, invalid requests refused, valid ones accepted, auth not ignored, other
users' objects not reachable, allowed methods listed. The run must end with no failure and no
error, every operation tested and every phase run.

One setting is not the default, for the three routes that take amounts, the ones that page by
cursor or take a time range, Backpack's two that name an order by ``orderId`` or ``clientId``, and
cancel-all (a market in its body or its query, not both): a request the schema calls valid may
still be refused there with 400 or 422, for rules a JSON schema cannot state (each market's tick
and lot grid, each asset's decimals, the funds at hand, which fields a limit or market order needs;
a cursor's signature; a range's start before its end; exactly one of two parameters). The checks
that matter for hostile input, invalid data refused and no 5xx, are untouched everywhere.

``TIDEWATER_FUZZ_EXAMPLES`` and ``TIDEWATER_FUZZ_SEED`` widen or vary the run locally (CI runs the
defaults, in about 20 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.integration.edge.conftest import sign_up
from tests.support.cluster import Cluster

MAX_EXAMPLES = int(os.environ.get("TIDEWATER_FUZZ_EXAMPLES", "50"))
SEED = int(os.environ.get("TIDEWATER_FUZZ_SEED", "1"))
FUNDS = {"INR": "1000000", "TATA": "10000", "BTC": "10", "ETH": "100", "USDC": "1000000"}
CONFIG = """\
[[operations]]
include-name-regex = "^POST /api/v1/(order|order/quote|onramp)$"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "400", "401", "403", "404", "409", "422", "429",
]

[[operations]]
include-name-regex = "^(GET /api/v1/(orders/history|fills)|GET /wapi/v1/history/fills)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "429"]

[[operations]]
include-name-regex = "^((GET|DELETE) /api/v1/order|DELETE /api/v1/orders)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "429"]
"""


def _run(cluster: Cluster, workdir: Path) -> tuple[dict[str, Any], str]:
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=30) as api:
        user = sign_up(api, FUNDS)
    (workdir / "schemathesis.toml").write_text(CONFIG)
    report = workdir / "report.json"
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(workdir / "schemathesis.toml"),
        "--no-color",
        "run", f"{cluster.base_url}/schema/openapi.json",
        "--header", f"Authorization: {user['Authorization']}",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--mode", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "20",
        "--generation-database", "none",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=900, check=False
    )
    output = done.stdout + done.stderr
    assert report.exists(), output[-20_000:]
    result: dict[str, Any] = json.loads(report.read_text())
    return result, output


def test_schemathesis_finds_no_failure(fuzz_cluster: Cluster, tmp_path: Path) -> None:
    result, output = _run(fuzz_cluster, tmp_path)
    tail = output[-20_000:]
    assert result["failures"] == [], tail
    assert result["errors"] == [], tail
    assert result["exit_code"] == 0, tail
    assert result["complete"], tail
    operations = result["operations"]
    assert operations["tested"] == operations["total"] >= 16, operations
    assert operations["errored"] == operations["skipped"] == 0, operations
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert result["phases"][phase]["status"] == "success", (phase, result["phases"])
    assert result["test_cases"]["generated"] > 20 * operations["total"], result["test_cases"]
