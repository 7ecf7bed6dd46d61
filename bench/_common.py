"""What the benchmarks share: the table of figures and targets, the JSON result, and the
process helpers (CPU accounting from ``/proc``, child services, py-spy, a temp work folder).

Figures and targets
-------------------
``FIGURES`` is the one table of the headline figures each bench reports and, where the issues set
one, its target. Each bench prints its verdicts from it and writes it into its ``--json`` result;
``bench/report.py`` reads the targets from those results, never from a copy of its own.

A ``--json PATH`` result is one object::

    {"schema": 1, "bench": "matcher", "title": ..., "command": "PYTHONPATH=. ... --quick",
     "quick": true, "exit_ok": true, "started_at": ..., "elapsed_s": ...,
     "load_average": {"before": [...], "after": [...]}, "servers": {"redis": ..., "postgres": ...},
     "figures": [{"key", "name", "value", "unit", "op", "target", "met"}, ...],
     "all": {every figure the bench printed on its JSON line}}

``met`` is true or false for a figure with a target and a value, null otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the matcher benchmarks import this module without Redis or PostgreSQL
    import redis

    from infra.embedded import EmbeddedServices

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = 1

Op = Literal[">=", "<="]


# --- figures and targets ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A headline figure: its key in the bench's figures, what to call it, and its target."""

    key: str
    name: str
    unit: str
    op: Op | None = None
    target: float | None = None

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target; None without a target or a value."""
        if self.op is None or self.target is None or value is None:
            return None
        return value >= self.target if self.op == ">=" else value <= self.target


_C16_ORDERS_PER_S = 6_000.0


def _peer_figures(key: str, name: str) -> tuple[Figure, ...]:
    """One peer's figures in bench/peers.py (not measured when skipped or when its fills differ)."""
    return (
        Figure(f"{key}_w1_cmd_per_s", f"{name} W1 throughput", "cmd/s"),
        Figure(f"{key}_w1_ratio", f"{name} / Tidewater, throughput", "×"),
        Figure(f"{key}_w1_p50_us", f"{name} W1 latency, p50", "µs"),
        Figure(f"{key}_w1_p99_us", f"{name} W1 latency, p99", "µs"),
        Figure(f"{key}_w1_p999_us", f"{name} W1 latency, p99.9", "µs"),
    )


#: The headline figures of each bench, in the order the report shows them.
FIGURES: dict[str, tuple[Figure, ...]] = {
    "matcher": (
        Figure("w1_cmd_per_s", "W1 throughput (limit orders)", "cmd/s", ">=", 1_000_000),
        Figure("w1_p50_us", "W1 latency per command, p50", "µs"),
        Figure("w1_p99_us", "W1 latency per command, p99", "µs", "<=", 5.0),
        Figure("w1_p999_us", "W1 latency per command, p99.9", "µs"),
        Figure("w2_cmd_per_s", "W2 throughput (exchange-core mix)", "cmd/s", ">=", 600_000),
        Figure("w2_p99_us", "W2 latency per apply, p99", "µs"),
        Figure("bytes_per_resting_order", "Memory per resting order (tracemalloc)", "B", "<=", 200),
        Figure("bytes_per_resting_order_rss", "Memory per resting order (RSS growth)", "B"),
        Figure("bytes_per_client_id", "Memory per remembered clientOrderId (tracemalloc)", "B"),
        Figure("w1_ref_ratio", "W1 engine / test-suite reference matcher", "×"),
    ),
    "peer": (
        Figure("tidewater_w1_cmd_per_s", "Tidewater W1 throughput", "cmd/s"),
        Figure("tidewater_w1_p50_us", "Tidewater W1 latency, p50", "µs"),
        Figure("tidewater_w1_p99_us", "Tidewater W1 latency, p99", "µs"),
        Figure("tidewater_w1_p999_us", "Tidewater W1 latency, p99.9", "µs"),
        *_peer_figures("lme", "lightmatchingengine"),
        *_peer_figures("liquibook", "liquibook"),
        *_peer_figures("nautilus", "nautilus_trader"),
    ),
    "edge": (
        Figure("c1_p50_ms", "1 connection: latency p50", "ms", "<=", 0.6),
        Figure("c1_p99_ms", "1 connection: latency p99", "ms", "<=", 1.5),
        Figure("c1_orders_per_s", "1 connection: orders/s", "orders/s"),
        Figure("c16_orders_per_s", "16 connections: orders/s", "orders/s", ">=", _C16_ORDERS_PER_S),
        Figure("c16_p99_ms", "16 connections: latency p99", "ms"),
        Figure("c64_orders_per_s", "64 connections: orders/s", "orders/s", ">=", 10_000),
        Figure("c64_p99_ms", "64 connections: latency p99", "ms", "<=", 20.0),
        Figure("open80_p99_ms", "Paced at 80% of the best rate: latency p99", "ms"),
        Figure(
            "rest_c16_orders_per_s", "20,000 resting orders, 16 connections: orders/s", "orders/s"
        ),
        Figure("rest_c16_vs_c16", "20,000 resting / empty book, 16 connections", "×", ">=", 0.9),
        Figure("w2_c64_orders_per_s", "Edge with 2 workers, 64 connections: orders/s", "orders/s"),
        Figure(
            "matcher_drain_commands_per_s",
            "Matcher service alone (Redis in and out): drain",
            "cmd/s",
            ">=",
            150_000,
        ),
        Figure("stage_total_us", "One order at 1 connection, traced: client to client, p50", "µs"),
        Figure(
            "fence_cost_us", "The one-writer fence: commit script, fenced minus bare, p50", "µs"
        ),
    ),
    "market_data": (
        Figure(
            "flow_events_per_s", "Bytewax flow, one worker: events/s", "events/s", ">=", 100_000
        ),
        Figure("candle_delay_p99_ms", "Trade → in-progress 1m candle push, p99", "ms"),
        Figure("ws_1000_age_p99_ms", "WebSocket event age, 1,000 clients, p99", "ms", "<=", 50.0),
        Figure("ws_1000_deliveries_per_s", "WebSocket deliveries/s, 1,000 clients", "msg/s"),
        Figure(
            "persist_row_writes_per_s",
            "Persist agent: row writes/s (inserts + updates)",
            "rows/s",
            ">=",
            100_000,
        ),
        Figure("persist_rows_per_s", "Persist agent: rows inserted/s", "rows/s"),
    ),
}


def figure(bench: str, key: str) -> Figure:
    """The entry of ``FIGURES`` for one figure of one bench."""
    for entry in FIGURES[bench]:
        if entry.key == key:
            return entry
    raise KeyError(f"{bench}: no figure {key!r} in bench/_common.FIGURES")


def target_of(bench: str, key: str) -> float:
    """The target of one figure (a figure without one is a mistake in the caller)."""
    target = figure(bench, key).target
    if target is None:
        raise KeyError(f"{bench}: figure {key!r} has no target")
    return target


def targeted(bench: str) -> list[Figure]:
    """The figures of a bench that have a target."""
    return [f for f in FIGURES[bench] if f.target is not None]


def verdict(ok: bool | None) -> str:
    """``met``, ``MISSED`` or ``-`` (no target or no value)."""
    return "-" if ok is None else ("met" if ok else "MISSED")


def figure_records(bench: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The headline figures of ``values`` beside their targets, as JSON-ready records."""
    out = []
    for entry in FIGURES[bench]:
        raw = values.get(entry.key)
        value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        out.append(
            {
                "key": entry.key,
                "name": entry.name,
                "value": value,
                "unit": entry.unit,
                "op": entry.op,
                "target": entry.target,
                "met": entry.met(value),
            }
        )
    return out


def reproduce_command(argv: Sequence[str]) -> str:
    """The shell command that reruns this bench with ``argv`` (``--json PATH`` left out)."""
    args: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        if arg.startswith("--json="):
            continue
        args.append(arg)
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    python = Path(sys.executable)
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    return shlex.join(["PYTHONPATH=.", str(python), str(script), *args]).replace(
        "'PYTHONPATH=.'", "PYTHONPATH=."
    )


class JsonResult:
    """Collects what a bench's ``--json`` result needs from the start of the run to its end."""

    def __init__(self, bench: str, title: str, path: Path | None, quick: bool) -> None:
        self.bench, self.title, self.path, self.quick = bench, title, path, quick
        self.command = reproduce_command(sys.argv[1:])
        self.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.started = time.perf_counter()
        self.load_before = list(os.getloadavg())
        self.servers: dict[str, str] = {}
        self.notes: list[str] = []
        self.tables: list[list[str]] = []  # Markdown tables, each a list of lines

    def write(self, values: Mapping[str, Any], *, exit_ok: bool) -> None:
        """Write the result file (nothing when no ``--json`` was given)."""
        if self.path is None:
            return
        result = {
            "schema": SCHEMA,
            "bench": self.bench,
            "title": self.title,
            "command": self.command,
            "quick": self.quick,
            "exit_ok": exit_ok,
            "started_at": self.started_at,
            "elapsed_s": round(time.perf_counter() - self.started, 1),
            "load_average": {"before": self.load_before, "after": list(os.getloadavg())},
            "servers": self.servers,
            "notes": self.notes,
            "tables": self.tables,
            "figures": figure_records(self.bench, values),
            "all": dict(values),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(result, indent=1, default=str) + "\n")


def server_versions(services: EmbeddedServices) -> dict[str, str]:
    """The Redis (or Valkey) and PostgreSQL versions the embedded servers run, and from where."""
    import psycopg
    import redis

    out: dict[str, str] = {}
    where = services.report()
    client = redis.Redis.from_url(services.redis_url)
    try:
        info: Any = client.info("server")
    finally:
        client.close()
    name = "Valkey" if "valkey_version" in info else "Redis"
    version = info.get("valkey_version") or info.get("redis_version", "?")
    out["redis"] = f"{name} {version}" + (f" ({where['redis']})" if "redis" in where else "")
    with psycopg.connect(services.database_url, autocommit=True) as pg:
        row = pg.execute("SHOW server_version").fetchone()
    version = str(row[0]) if row else "?"
    out["postgres"] = f"PostgreSQL {version}" + (
        f" ({where['postgres']})" if "postgres" in where else ""
    )
    return out


# --- small helpers ---------------------------------------------------------------------------


def percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile of an ascending sequence (0 when empty)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that every ``finally`` runs."""


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted


# --- CPU accounting from /proc ---------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None:
                parents.setdefault(stat[0], []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _machine_seconds() -> tuple[float, float, float]:
    """CPU seconds since boot over every CPU: (processes, interrupts, stolen by the host)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system) / _TICK, (irq + softirq) / _TICK, steal / _TICK


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot, over every CPU."""
    return _machine_seconds()[0]


class CpuMeter:
    """CPU used by named process trees (and by everything else) between two readings."""

    def __init__(self, roots: Callable[[], dict[str, tuple[int | None, bool]]]) -> None:
        """``roots`` gives, per name, a pid and whether to count its descendants too."""
        self._roots = roots
        self._start: dict[str, float] = {}
        self._pids: dict[str, list[int]] = {}
        self._t0 = 0.0
        self._machine0 = (0.0, 0.0, 0.0)

    def _read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, pids in self._pids.items():
            total = 0.0
            for pid in pids:
                stat = _proc_stat(pid)
                total += stat[1] if stat else 0.0
            out[name] = total
        return out

    def start(self) -> None:
        self._pids = {
            name: process_tree(pid) if tree else [pid]
            for name, (pid, tree) in self._roots().items()
            if pid is not None
        }
        self._start = self._read()
        self._machine0 = _machine_seconds()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Percent of one core per name, plus ``other`` processes, ``irq`` and ``steal``."""
        wall = max(time.monotonic() - self._t0, 1e-9)
        now = self._read()
        used = {name: now[name] - self._start.get(name, 0.0) for name in now}
        busy, irq, steal = (b - a for a, b in zip(self._machine0, _machine_seconds(), strict=True))
        used["other"] = max(0.0, busy - sum(used.values()))
        used["irq"], used["steal"] = irq, steal
        return {name: round(100 * seconds / wall, 1) for name, seconds in used.items()}


# --- child processes -------------------------------------------------------------------------


class Service:
    """``python -m <module> <args>`` as a child in its own session, stopped with SIGTERM."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.module, self.args, self.env, self.log = module, args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Imported here: `import infra` loads psycopg, which the matcher benchmarks do without.
        from infra.processes import parent_death_signal

        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
                preexec_fn=parent_death_signal(signal.SIGTERM),  # noqa: PLW1509
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, wait, SIGKILL (the whole session) if it does not go."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def redis_pid(client: redis.Redis) -> int | None:
    info: Any = client.info("server")
    return int(info["process_id"]) if "process_id" in info else None


# --- profiling -------------------------------------------------------------------------------


def _start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` (and its children) without pausing it, until SIGINT; stacks to ``out``."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy not found: pip install py-spy (not a project dependency)")
        return None
    command = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    command += ["--rate", "200", "--format", "raw", "--output", str(out)]
    from infra.processes import parent_death_signal

    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=parent_death_signal(signal.SIGTERM),  # noqa: PLW1509
    )


@contextlib.contextmanager
def py_spy(targets: dict[str, int | None], out_dir: Path | None) -> Iterator[None]:
    """Profile the named processes for the length of the block, then print a summary of each.

    Does nothing when ``out_dir`` is None.
    """
    if out_dir is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    spies: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for name, pid in targets.items():
            spy = _start_py_spy(pid, out_dir / f"{name}.txt") if pid is not None else None
            if spy is not None:
                spies.append((name, spy))
        time.sleep(0.5)  # let py-spy attach
        yield
    finally:
        for _, spy in spies:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        for _, spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
    for name, _ in spies:
        print(f"--- py-spy: {name} ({out_dir / name}.txt) ---")
        print(profile_summary(out_dir / f"{name}.txt"), flush=True)


_PROJECT_DIRS = ("edge/", "matcher/", "model/")


def _package(frame: str) -> str:
    """The package a frame's code belongs to: ``litestar``, ``redis``, ``edge``, ``asyncio``...

    C code (msgspec, hiredis, uvloop's loop, system calls) counts for the Python frame that
    called it; uvloop's own loop shows as ``asyncio/runners.py``, named ``event loop`` here.
    """
    path = frame.partition(" (")[2].rsplit(":", 1)[0]
    if path.startswith("asyncio/runners.py"):
        return "event loop (uvloop, I/O system calls)"
    for marker in ("site-packages/", "lib/python3.11/", "lib/python3.12/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    head, sep, _ = path.partition("/")
    return head if sep else (path.removesuffix(".py") or frame)


def _frame_name(frame: str) -> str:
    """``handle (edge/trading.py:123)`` → ``handle (edge/trading.py)``; site-packages shortened."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if where else name


def profile_summary(path: Path, top: int = 25) -> str:
    """Top functions by own samples and by samples under them, from collapsed stacks."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    lines_of_ours: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return f"(no profile at {path})"
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";")]
        own[frames[-1]] += count
        packages[_package(stack.rsplit(";", 1)[-1])] += count
        for name in set(frames):
            under[name] += count
        ours = [f for f in stack.split(";") if f.partition(" (")[2].startswith(_PROJECT_DIRS)]
        lines_of_ours[ours[-1] if ours else "(outside edge/, matcher/, model/)"] += count
    if not total:
        return f"(empty profile at {path})"
    out = [f"{total} samples; own, by package:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in packages.most_common(12)]
    out.append("own, by function:")
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    out.append("including callees:")
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in under.most_common(top)]
    out.append("by the deepest line of project code on the stack (library calls included):")
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in lines_of_ours.most_common(top)]
    return "\n".join(out)


@contextlib.contextmanager
def temp_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tidewater-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
