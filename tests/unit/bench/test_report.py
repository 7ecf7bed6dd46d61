"""bench/report.py turns the benches' JSON results into docs/benchmarks.md.

Synthetic results only: no bench runs here, nothing is timed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench._common import FIGURES, JsonResult, figure, figure_records

MACHINE = report.Machine(
    cpu="Test CPU @ 1.00GHz",
    cores="2 logical",
    ram="4.0 GiB",
    kernel="Linux test",
    python="CPython 3.11.7",
    commit="abc1234",
    date="2030-01-02 03:04 UTC",
)


def result(bench: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A result as a bench's ``--json`` writes it, from a few figures."""
    return {
        "schema": 1,
        "bench": bench,
        "title": f"{bench} title",
        "command": f"PYTHONPATH=. .venv/bin/python {report.BENCHES[bench]}",
        "quick": False,
        "exit_ok": True,
        "started_at": "2030-01-02T03:04:05+00:00",
        "elapsed_s": 1.5,
        "load_average": {"before": [0.1, 0.1, 0.1], "after": [0.2, 0.1, 0.1]},
        "servers": {},
        "notes": [],
        "figures": figure_records(bench, values),
        "all": values,
    } | extra


def row(page: str, name: str) -> list[str]:
    """The cells of the table row of one figure."""
    lines = [line for line in page.splitlines() if line.startswith(f"| {name} |")]
    assert len(lines) == 1, f"{name!r}: {len(lines)} rows in\n{page}"
    return [cell.strip() for cell in lines[0].strip("|").split("|")]


MATCHER = {
    "w1_cmd_per_s": 1_012_345,  # >= 1,000,000: met
    "w1_p50_us": 1.234,  # no target
    "w1_p99_us": 12.5,  # <= 5: missed
    "bytes_per_resting_order": 200.0,  # <= 200: met, on the line
    # w2_cmd_per_s missing: not measured
}


@pytest.mark.parametrize(
    ("name", "measured", "target", "verdict"),
    [
        ("W1 throughput (limit orders)", "1,012,345 cmd/s", "≥ 1,000,000 cmd/s", "met"),
        ("W1 latency per command, p99", "12.50 µs", "≤ 5.00 µs", "**missed**"),
        ("Memory per resting order (tracemalloc)", "200 B", "≤ 200 B", "met"),
        ("W1 latency per command, p50", "1.23 µs", "", ""),
        ("W2 throughput (exchange-core mix)", "not measured", "≥ 600,000 cmd/s", ""),
    ],
)
def test_each_figure_stands_beside_its_target_with_its_verdict(
    name: str, measured: str, target: str, verdict: str
) -> None:
    page = report.render([report.BenchRun("matcher", result("matcher", MATCHER))], MACHINE)
    assert row(page, name) == [name, measured, target, verdict]


def test_a_ratio_has_no_target_and_reads_as_times() -> None:
    values = {"tidewater_w1_cmd_per_s": 200_000, "liquibook_w1_cmd_per_s": 300_000}
    page = report.render(
        [report.BenchRun("peer", result("peer", values | {"liquibook_w1_ratio": 1.5}))], MACHINE
    )
    assert row(page, "liquibook / Tidewater, throughput")[1:] == ["1.50×", "", ""]
    assert row(page, "liquibook W1 throughput")[1] == "300,000 cmd/s"
    assert row(page, "nautilus_trader W1 throughput")[1] == "not measured"  # skipped peer


def test_the_verdict_is_computed_from_value_and_target_not_copied() -> None:
    tampered = result("matcher", {"w1_cmd_per_s": 100})
    for record in tampered["figures"]:
        record["met"] = True  # a wrong verdict in the input changes nothing
    page = report.render([report.BenchRun("matcher", tampered)], MACHINE)
    assert row(page, "W1 throughput (limit orders)")[3] == "**missed**"


def test_summary_counts_every_targeted_figure_of_every_bench() -> None:
    edge = {"c1_p50_ms": 0.5, "c1_p99_ms": 2.0, "c16_orders_per_s": 6_000}  # met, missed, met
    runs = [
        report.BenchRun("matcher", result("matcher", MATCHER)),
        report.BenchRun("edge", result("edge", edge)),
    ]
    assert report.summary(runs) == (6, 4, 2)
    assert "6 figures have a target: 4 met, 2 missed." in report.render(runs, MACHINE)


def test_machine_servers_and_reproduce_commands_are_on_the_page() -> None:
    servers = {"redis": "Valkey 8.0.1 (system binary /x)", "postgres": "PostgreSQL 17.2"}
    runs = [
        report.BenchRun("matcher", result("matcher", MATCHER)),
        report.BenchRun("edge", result("edge", {"c1_p50_ms": 0.5}, servers=servers)),
    ]
    page = report.render(runs, MACHINE)
    for expected in (
        "| CPU | Test CPU @ 1.00GHz |",
        "| Cores | 2 logical |",
        "| RAM | 4.0 GiB |",
        "| Python | CPython 3.11.7 |",
        "| Redis | Valkey 8.0.1 (system binary /x) |",
        "| PostgreSQL | PostgreSQL 17.2 |",
        "| Date | 2030-01-02 03:04 UTC |",
        "Reproduce: `PYTHONPATH=. .venv/bin/python bench/engine.py`",
        "Reproduce: `PYTHONPATH=. .venv/bin/python bench/order_path.py`",
        "(benchmarks-matcher-notes.md)",
    ):
        assert expected in page


def test_a_failed_bench_is_reported_and_does_not_hide_the_others() -> None:
    runs = [
        report.BenchRun("matcher", result("matcher", MATCHER), exit_code=0),
        report.BenchRun(
            "edge", None, exit_code=1, command="PYTHONPATH=. x bench/order_path.py", log="boom\n"
        ),
    ]
    page = report.render(runs, MACHINE)
    assert "Failed: edge." in page
    assert "**This bench failed (exit code 1);**" in page
    assert "boom" in page
    assert row(page, "W1 throughput (limit orders)")[3] == "met"


def test_quick_and_busy_runs_are_labelled_and_a_quiet_full_run_is_not() -> None:
    runs = [report.BenchRun("matcher", result("matcher", MATCHER))]
    quiet = report.render(runs, MACHINE)
    assert "Quick smoke run" not in quiet
    assert "machine was busy" not in quiet
    busy = report.Machine(**{**MACHINE.__dict__, "load_before": 2.5, "other_cpu_pct": 80.0})
    quick = [report.BenchRun("matcher", result("matcher", MATCHER, quick=True))]
    page = report.render(quick, busy)
    assert "Quick smoke run" in page
    assert "machine was busy" in page
    assert "| Other processes' CPU during the run | 80% of one core |" in page


def test_a_result_written_by_a_bench_renders_through_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "matcher.json"
    monkeypatch.setattr(sys, "argv", ["bench/engine.py", "--quick", "--json", str(path)])
    written = JsonResult("matcher", "Matching engine alone", path, quick=True)
    written.write(MATCHER, exit_ok=True)
    stored = json.loads(path.read_text())
    assert stored["command"].endswith("bench/engine.py --quick")
    assert {r["key"] for r in stored["figures"]} == {f.key for f in FIGURES["matcher"]}
    assert next(r for r in stored["figures"] if r["key"] == "w1_p99_us")["met"] is False

    out = tmp_path / "benchmarks.md"
    assert report.main(["--from-json", str(path), "--out", str(out)]) == 0
    page = out.read_text()
    assert "Quick smoke run" in page
    assert row(page, "W1 throughput (limit orders)") == [
        "W1 throughput (limit orders)",
        "1,012,345 cmd/s",
        "≥ 1,000,000 cmd/s",
        "met",
    ]


def test_a_missing_or_foreign_json_file_counts_as_failed(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"w1_cmd_per_s": 1}')
    out = tmp_path / "benchmarks.md"
    assert report.main(["--from-json", str(foreign), "--out", str(out)]) == 1
    assert "Failed:" in out.read_text()


def test_targets_come_from_the_one_table() -> None:
    records = figure_records("edge", {"c16_orders_per_s": 1.0})
    rest = next(r for r in records if r["key"] == "c16_orders_per_s")
    assert rest["target"] == figure("edge", "c16_orders_per_s").target
    assert rest["op"] == ">="
    assert rest["met"] is False
