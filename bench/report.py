"""Run every benchmark and write ``docs/benchmarks.md``: each figure beside its target.

Run from the repository root (``just bench`` runs this)::

    PYTHONPATH=. .venv/bin/python bench/report.py          # every bench, full sizes (~15 min)
    PYTHONPATH=. .venv/bin/python bench/report.py --quick  # smoke run, a few minutes
    PYTHONPATH=. .venv/bin/python bench/report.py --only matcher,peer  # some of them
    PYTHONPATH=. .venv/bin/python bench/report.py --from-json build/bench/*.json  # render only

Each bench runs as its own process (``python bench/<name>.py [--quick] --json PATH``), one after
the other, its output shown as it comes and kept in ``--results`` (``build/bench/`` by default)
beside its JSON result. The targets come from those results (bench/_common.FIGURES is their one
table), never from this file. A bench that fails or writes no result is reported as such; the
exit code is then 1.

The page names the machine (CPU model, cores, RAM, kernel, Python, the Redis and PostgreSQL the
benches started, commit, date), how busy it was (load average before the run, and the CPU time
other processes took during it), and for each bench the exact command that reproduces it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import ROOT, SCHEMA, machine_busy_seconds

#: The benches in the order they run: name -> script. The name is the JSON result's ``bench``.
BENCHES: dict[str, str] = {
    "matcher": "bench/engine.py",
    "peer": "bench/peers.py",
    "edge": "bench/order_path.py",
    "market_data": "bench/market_data.py",
}
NOTES_LINK = "benchmarks-matcher-notes.md"  # relative to docs/
BUSY_LOAD = 0.5  # a 1-minute load average above this before the run: the machine was not quiet
BUSY_OTHER_PCT = 10.0  # other processes took more than this % of one core during the run

_RATE_UNITS = {"cmd/s", "orders/s", "events/s", "rows/s", "msg/s"}


# --- the inputs --------------------------------------------------------------------------------


@dataclass
class BenchRun:
    """One bench: its JSON result, or how it failed."""

    bench: str
    result: dict[str, Any] | None
    exit_code: int | None = None
    command: str = ""
    log: str = ""

    @property
    def failed(self) -> bool:
        """No result, a non-zero exit, or a result whose own checks failed."""
        if self.result is None or self.exit_code not in (None, 0):
            return True
        return self.result.get("exit_ok") is False


@dataclass
class Machine:
    """What the page says about the machine and the run as a whole."""

    cpu: str
    cores: str
    ram: str
    kernel: str
    python: str
    commit: str
    date: str
    load_before: float | None = None
    other_cpu_pct: float | None = None
    quick: bool = False
    note: str = ""
    command: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str) -> str:
    """The ``model name`` of /proc/cpuinfo (the first one; they are alike here)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"model name", "Model", "Hardware"} and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def core_count(cpuinfo: str) -> str:
    """Logical CPUs, and physical cores when /proc/cpuinfo tells them."""
    logical = os.cpu_count() or 0
    physical = {
        (fields.get("physical id"), fields.get("core id"))
        for fields in (
            {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in block.splitlines())}
            for block in cpuinfo.split("\n\n")
        )
        if "core id" in fields
    }
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    text = f"{logical} logical"
    if physical:
        text += f", {len(physical)} physical"
    if usable != logical:
        text += f" ({usable} usable by this process)"
    return text


def ram(meminfo: str) -> str:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return "unknown"


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def this_machine() -> Machine:
    cpuinfo = _read("/proc/cpuinfo")
    return Machine(
        cpu=cpu_model(cpuinfo),
        cores=core_count(cpuinfo),
        ram=ram(_read("/proc/meminfo")),
        kernel=f"{platform.system()} {platform.release()}",
        python=f"{platform.python_implementation()} {platform.python_version()}",
        commit=git_commit(),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


# --- rendering ---------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str) -> str:
    """A figure with its unit, rounded for reading: ``512,345 cmd/s``, ``9.87 µs``, ``3.2×``."""
    if value is None:
        return "not measured"
    if unit == "×":
        return f"{value:,.2f}×"
    if unit in _RATE_UNITS or unit == "B" or abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}" if abs(value) < 100 else f"{value:,.1f} {unit}"


def fmt_target(record: dict[str, Any]) -> str:
    if record.get("target") is None:
        return ""
    op = {">=": "≥", "<=": "≤"}.get(record.get("op") or "", record.get("op") or "")
    return f"{op} {fmt_value(float(record['target']), record['unit'])}"


def fmt_verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def _met(record: dict[str, Any]) -> bool | None:
    """Met or missed, from the record's value, op and target (None without a target or value)."""
    value, target, op = record.get("value"), record.get("target"), record.get("op")
    if value is None or target is None or op not in (">=", "<="):
        return None
    return bool(value >= target) if op == ">=" else bool(value <= target)


def _load(values: Sequence[float] | None) -> str:
    return "?" if not values else f"{values[0]:.2f}"


def render_bench(run: BenchRun) -> list[str]:
    """The section of one bench: how to reproduce it, then its table."""
    result = run.result or {}
    title = result.get("title") or f"{run.bench} ({BENCHES.get(run.bench, '?')})"
    out = [f"## {title}", ""]
    command = result.get("command") or run.command
    out += [f"Reproduce: `{command}`", ""]
    if run.failed:
        code = "no result" if run.result is None else "its own checks failed"
        if run.exit_code:
            code = f"exit code {run.exit_code}"
        out += [f"**This bench failed ({code});** its figures are missing or incomplete.", ""]
        if run.log:
            out += ["```", run.log.rstrip(), "```", ""]
    if run.result is None:
        return out
    loads = result.get("load_average", {})
    out += [
        f"Ran {result.get('elapsed_s', '?')} s from {result.get('started_at', '?')}"
        f"{' with `--quick` (reduced sizes)' if result.get('quick') else ''}; load average "
        f"(1 min) {_load(loads.get('before'))} before, {_load(loads.get('after'))} after.",
        "",
        "| figure | measured | target | verdict |",
        "| --- | ---: | ---: | --- |",
    ]
    for record in result.get("figures", []):
        out.append(
            f"| {record['name']} | {fmt_value(record.get('value'), record['unit'])} | "
            f"{fmt_target(record)} | {fmt_verdict(_met(record))} |"
        )
    notes = list(result.get("notes", []))
    if notes:
        out.append("")
        out += [f"- {note}" for note in notes]
    for table in result.get("tables", []):
        out += ["", *table]
    if run.bench == "matcher":
        out += ["", f"Method, workloads and where the time goes: [{NOTES_LINK}]({NOTES_LINK})."]
    out.append("")
    return out


def _servers(runs: Sequence[BenchRun]) -> dict[str, str]:
    found: dict[str, str] = {}
    for run in runs:
        for name, text in ((run.result or {}).get("servers") or {}).items():
            found.setdefault(name, text)
    return found


def summary(runs: Sequence[BenchRun]) -> tuple[int, int, int]:
    """(figures with a target and a value, met, missed) over every bench."""
    met = missed = 0
    for run in runs:
        for record in (run.result or {}).get("figures", []):
            verdict = _met(record)
            met += verdict is True
            missed += verdict is False
    return met + missed, met, missed


def render(runs: Sequence[BenchRun], machine: Machine) -> str:
    """The whole page."""
    quick = machine.quick or any((r.result or {}).get("quick") for r in runs)
    busy = (machine.load_before is not None and machine.load_before > BUSY_LOAD) or (
        machine.other_cpu_pct is not None and machine.other_cpu_pct > BUSY_OTHER_PCT
    )
    out = [
        "# Benchmarks",
        "",
        f"Written by `bench/report.py` (`just bench`) on {machine.date}; rerun it rather than "
        "editing this page.",
        "",
    ]
    if quick:
        out += [
            "> **Quick smoke run** (`--quick`): reduced sizes and short runs, to check that every "
            "bench works. These are not the project's figures.",
            "",
        ]
    if busy:
        out += [
            "> **The machine was busy**: other processes were running (see the load and the "
            "other processes' CPU below), so the figures are lower and noisier than on a quiet "
            "machine.",
            "",
        ]
    if machine.note:
        out += [f"> {machine.note}", ""]
    checked, met, missed = summary(runs)
    failed = [r.bench for r in runs if r.failed]
    line = f"{checked} figures have a target: {met} met, {missed} missed."
    if failed:
        line += f" Failed: {', '.join(failed)}."
    out += [line, ""]

    servers = _servers(runs)
    rows = [
        ("CPU", machine.cpu),
        ("Cores", machine.cores),
        ("RAM", machine.ram),
        ("OS", machine.kernel),
        ("Python", machine.python),
        ("Redis", servers.get("redis", "not started by these benches")),
        ("PostgreSQL", servers.get("postgres", "not started by these benches")),
        ("Commit", machine.commit),
        ("Date", machine.date),
    ]
    if machine.load_before is not None:
        rows.append(("Load average before the run (1 min)", f"{machine.load_before:.2f}"))
    if machine.other_cpu_pct is not None:
        rows.append(
            ("Other processes' CPU during the run", f"{machine.other_cpu_pct:.0f}% of one core")
        )
    rows += list(machine.extra.items())
    out += ["## Machine", "", "| | |", "| --- | --- |"]
    out += [f"| {name} | {value} |" for name, value in rows]
    out.append("")
    if machine.command:
        out += ["Whole page reproduced by:", "", "```", machine.command, "```", ""]
    for run in runs:
        out += render_bench(run)
    return "\n".join(out).rstrip() + "\n"


# --- running the benches ---------------------------------------------------------------------


def load_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or "bench" not in data:
        return None
    return data


def run_bench(name: str, quick: bool, results: Path, extra: Sequence[str]) -> BenchRun:
    """Run one bench in its own process; echo its output and keep it beside its JSON result."""
    script = BENCHES[name]
    out_json = results / f"{name}.json"
    out_json.unlink(missing_ok=True)
    args = [*(["--quick"] if quick else []), *extra]
    command = shlex.join(["PYTHONPATH=.", ".venv/bin/python", script, *args]).replace(
        "'PYTHONPATH=.'", "PYTHONPATH=."
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    print(f"\n== {script} {' '.join(args)}", flush=True)
    log_path = results / f"{name}.log"
    tail: list[str] = []
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, script, *args, "--json", str(out_json)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                log.write(line)
                tail = [*tail[-19:], line]
            code = process.wait()
        except KeyboardInterrupt:
            process.terminate()  # the bench stops its own servers on SIGTERM
            process.wait()
            raise
    result = load_result(out_json)
    return BenchRun(name, result, code, command, "".join(tail) if code else "")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="every bench with --quick")
    parser.add_argument(
        "--only", default=",".join(BENCHES), help=f"benches to run (of {', '.join(BENCHES)})"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--results", type=Path, default=ROOT / "build" / "bench", help="JSON results and logs"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        default=None,
        help="render these saved results instead of running anything",
    )
    parser.add_argument("--note", default="", help="a line to put at the top of the page")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench {sorted(unknown)}; known: {', '.join(BENCHES)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = this_machine()
    machine.note = args.note
    if args.from_json:
        runs = [BenchRun(str(p), load_result(p)) for p in args.from_json]
        for run in runs:
            if run.result is not None:
                run.bench = str(run.result["bench"])
        machine.quick = any((r.result or {}).get("quick") for r in runs)
    else:
        names = [n for n in BENCHES if n in args.only.split(",")]
        args.results.mkdir(parents=True, exist_ok=True)
        machine.quick = args.quick
        machine.load_before = os.getloadavg()[0]
        parts = [
            "PYTHONPATH=.",
            ".venv/bin/python",
            "bench/report.py",
            *(["--quick"] if args.quick else []),
        ]
        if set(names) != set(BENCHES):
            parts += ["--only", ",".join(names)]
        machine.command = shlex.join(parts)
        busy0, wall0, ours0 = machine_busy_seconds(), time.monotonic(), _children_cpu()
        runs = []
        for name in names:
            runs.append(run_bench(name, args.quick, args.results, []))
        wall = max(time.monotonic() - wall0, 1e-9)
        other = (machine_busy_seconds() - busy0) - (_children_cpu() - ours0)
        machine.other_cpu_pct = max(0.0, 100 * other / wall)
    page = render(runs, machine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page)
    checked, met, missed = summary(runs)
    print(f"\nwrote {args.out}: {checked} figures with a target, {met} met, {missed} missed")
    failed = [r.bench for r in runs if r.failed]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _children_cpu() -> float:
    """CPU seconds of this process and every child it (or they) waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


if __name__ == "__main__":
    sys.exit(main())
