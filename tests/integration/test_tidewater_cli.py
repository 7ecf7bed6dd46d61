"""``tidewater up`` and ``tidewater status`` as a user runs them, in a folder of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
import redis
import websockets

from infra.embedded import free_port, port_is_listening
from infra.processes import describe, folder_holders
from tests.integration.edge.conftest import sign_up
from tests.support.load import DEPOSITS, LoadGenerator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EDGE_PORT = free_port()
DASH_PORT = free_port()
STATUS_LINE = re.compile(r"^tidewater is up: REDIS_URL=(\S+) DATABASE_URL=(\S+) ")


def _tidewater(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.cli", *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env["TIDEWATER_EDGE_PORT"] = str(EDGE_PORT)
    env["TIDEWATER_DASH_PORT"] = str(DASH_PORT)
    # The market maker keeps to two markets, so tests trade TATA_INR among their own users.
    env["TIDEWATER_MM_MARKETS"] = "BTC_USDC,ETH_USDC"
    env.update(extra)
    return env


class _Up:
    """A running ``tidewater up``: its output lines as they come, its URLs once it is up."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            _tidewater("up"),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_until_up(self, timeout: float = 90) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = STATUS_LINE.match(line)
                if match:
                    return match.group(1), match.group(2)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("tidewater up did not come up:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def project_dir() -> Iterator[Path]:
    """An empty working folder, as a fresh checkout would be (reachable by the service user)."""
    path = Path(tempfile.mkdtemp(prefix="tidewater-cli-"))
    path.chmod(0o701)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _tidewater(*args), cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def test_up_status_second_up_and_clean_stop(project_dir: Path) -> None:
    up = _Up(project_dir, _env())
    try:
        redis_url, database_url = up.wait_until_up()
        client = redis.Redis.from_url(redis_url)
        try:
            client.set("tw:test:kept", "1")
        finally:
            client.close()
        with psycopg.connect(database_url) as conn:
            conn.execute("CREATE TABLE kept (v int)")
            conn.execute("INSERT INTO kept VALUES (7)")

        markets = urllib.request.urlopen(f"http://127.0.0.1:{EDGE_PORT}/api/v1/markets", timeout=5)
        assert b"TATA_INR" in markets.read()

        status = _run(project_dir, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert re.search(r"redis\s+ok", status.stdout)
        assert re.search(r"postgres\s+ok", status.stdout)

        second = _run(project_dir, "up")
        assert second.returncode == 1
        assert "already running" in second.stdout
    finally:
        code = up.stop()
    assert code == 0, "\n".join(up.lines)
    assert up.lines[-1] == "tidewater stopped"
    assert any(line.startswith("[1/4] redis: ready at") for line in up.lines)
    assert any(line.startswith("[2/4] postgres: ready at") for line in up.lines)
    assert any(line.startswith("[3/4] database: migrated") for line in up.lines)
    assert any(line.startswith("[3/4] database: storage is plain PostgreSQL") for line in up.lines)
    assert any(line.startswith("[4/4] services: running") for line in up.lines)
    assert not port_is_listening(_port(redis_url))
    assert not port_is_listening(_port(database_url))
    assert not port_is_listening(EDGE_PORT)
    assert not port_is_listening(DASH_PORT)

    status = _run(project_dir, "status")
    assert status.returncode == 1
    assert "not running" in status.stdout

    # Data in .tidewater/ survives into the next `up`.
    again = _Up(project_dir, _env())
    try:
        redis_url, database_url = again.wait_until_up()
        client = redis.Redis.from_url(redis_url)
        try:
            assert client.get("tw:test:kept") == b"1"
        finally:
            client.close()
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [(7,)]
    finally:
        assert again.stop() == 0


def test_up_uses_given_urls_instead_of_embedded_servers(
    project_dir: Path, redis_url: str, database_url: str
) -> None:
    up = _Up(project_dir, _env(REDIS_URL=redis_url, DATABASE_URL=database_url))
    try:
        shown_redis, shown_database = up.wait_until_up()
    finally:
        assert up.stop() == 0
    assert "[1/4] redis: using REDIS_URL " + redis_url in up.lines
    assert "[2/4] postgres: using DATABASE_URL " + database_url in up.lines
    assert (shown_redis, shown_database) == (redis_url, database_url)
    assert not (project_dir / ".tidewater" / "redis").exists()
    assert not (project_dir / ".tidewater" / "pg").exists()


def test_up_end_to_end_trades_stream_store_and_stop_clean(project_dir: Path) -> None:
    """Two users trade over REST; the trade shows on the WebSocket and as candles in PostgreSQL;
    the market maker and the dashboard run; stopping leaves no process and no port behind."""
    up = _Up(project_dir, _env(TIDEWATER_MM_REFRESH_MS="300"))
    try:
        _redis_url, database_url = up.wait_until_up(timeout=180)
        status = json.loads((project_dir / ".tidewater" / "status.json").read_text())
        children = dict(status["services"])
        assert {"matcher-0", "agents", "flow", "edge", "dash", "mm"} <= set(children)
        assert any(f"Dashboard         http://127.0.0.1:{DASH_PORT}/" in ln for ln in up.lines)
        assert httpx.get(f"http://127.0.0.1:{DASH_PORT}/", timeout=10).status_code == 200

        base = f"http://127.0.0.1:{EDGE_PORT}"
        with httpx.Client(base_url=f"{base}/api/v1", timeout=10) as api:
            seller = sign_up(api, {"TATA": "100"})
            buyer = sign_up(api, {"INR": "100000"})
            trades = asyncio.run(_trade_and_watch(base, api, seller, buyer))
            assert [(t["p"], t["q"]) for t in trades] == [("123.45", "7")]
            # The market maker keeps its markets two-sided and prints trades there.
            _eventually(lambda: _two_sided(api, "BTC_USDC") and _has_trades(api, "BTC_USDC"))
        with psycopg.connect(database_url) as conn:
            _eventually(lambda: _candles(conn, "TATA_INR") >= 6)  # 1m ... 1w
            stored = conn.execute(
                "SELECT price, quantity FROM trades WHERE market = 'TATA_INR'"
            ).fetchall()
            assert stored == [(12345, 7)]
            conn.execute("ROLLBACK")
    finally:
        code = up.stop()
    assert code == 0, "\n".join(up.lines[-50:])
    # Readable, prefixed child logs on the console.
    assert any(line.startswith("edge") and " | " in line for line in up.lines)
    for name, pid in children.items():
        assert not _process_alive(pid), f"{name} (pid {pid}) outlived tidewater up"
    for port in (EDGE_PORT, DASH_PORT, _port(_redis_url), _port(database_url)):
        assert not port_is_listening(port)


async def _trade_and_watch(
    base: str, api: httpx.Client, seller: dict[str, str], buyer: dict[str, str]
) -> list[dict[str, str]]:
    ws_url = base.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["trades@TATA_INR"], "id": 1}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack == {"id": 1, "result": None}
        order = {"market": "TATA_INR", "type": "limit", "price": "123.45", "quantity": "7"}
        sold = api.post("/order", json={**order, "kind": "sell"}, headers=seller)
        assert sold.status_code == 200, sold.text
        bought = api.post("/order", json={**order, "kind": "buy"}, headers=buyer)
        assert bought.status_code == 200, bought.text
        assert bought.json()["status"] == "filled"
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["stream"] == "trades@TATA_INR"
        return [message["data"]]


def _eventually(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{check} never held within {timeout}s")


def _two_sided(api: httpx.Client, market: str) -> bool:
    depth = api.get("/depth", params={"symbol": market}).json()
    return bool(depth["bids"]) and bool(depth["asks"])


def _has_trades(api: httpx.Client, market: str) -> bool:
    return bool(api.get("/trades", params={"symbol": market}).json())


def _candles(conn: psycopg.Connection[Any], market: str) -> int:
    row = conn.execute("SELECT count(*) FROM candles WHERE market = %s", (market,)).fetchone()
    conn.execute("ROLLBACK")
    return int(row[0]) if row else 0


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie runs nothing
        return stat.read().split(")")[-1].split()[0] != "Z"


# -- no process outlives `up`, and `up` starts only on a clear field ------------------------------

RUN_MARK = "TIDEWATER_UP_DATA_DIR"  # set by `up` in the environment of everything it starts


def test_up_refuses_a_taken_port_naming_the_process(project_dir: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            f"s = socket.create_server(('127.0.0.1', {DASH_PORT}))\n"
            "print('listening', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "listening\n"
        refused = _run(project_dir, "up")
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"port {DASH_PORT} (the dash's, TIDEWATER_DASH_PORT) is taken by pid {holder.pid} (" in (
        refused.stderr
    )
    assert f"socket.create_server(('127.0.0.1', {DASH_PORT}))" in refused.stderr
    assert f"port {EDGE_PORT}" not in refused.stderr
    # Nothing was started, and the folder is free again.
    assert not (project_dir / ".tidewater" / "redis").exists()
    assert _run(project_dir, "status").returncode == 1


def test_up_refuses_while_a_previous_runs_process_holds_the_data_folder(
    project_dir: Path,
) -> None:
    """Three leftovers of earlier runs, each named: a process `up` started (it carries the
    run's mark), one with a file open in the folder (a Redis from before the mark), and a
    service recorded in the `status.json` a killed `up` left, still on that run's Redis."""
    data_dir = project_dir / ".tidewater"
    (data_dir / "redis").mkdir(parents=True)
    sleep = [sys.executable, "-c", "import sys, time; time.sleep(60)"]
    marked = subprocess.Popen([*sleep, "marked"], env={**os.environ, RUN_MARK: str(data_dir)})
    aof = data_dir / "redis" / "appendonly.aof"
    holding = subprocess.Popen(
        [sys.executable, "-c", f"import time; f = open({str(aof)!r}, 'a'); time.sleep(60)"]
    )
    old_redis = "redis://127.0.0.1:1/0"
    recorded = subprocess.Popen([*sleep, "recorded"], env={**os.environ, "REDIS_URL": old_redis})
    unrelated = subprocess.Popen([*sleep, "unrelated"])  # not ours: never named
    status = {"pid": 1, "redis_url": old_redis, "services": {"matcher-0": recorded.pid}}
    (data_dir / "status.json").write_text(json.dumps(status))
    leftovers = (marked, holding, recorded)
    try:
        _eventually(aof.exists, timeout=10)
        refused = _run(project_dir, "up")
    finally:
        for proc in (*leftovers, unrelated):
            proc.kill()
            proc.wait()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith(f"tidewater: cannot start for {data_dir}:\n")
    for proc in leftovers:
        assert f"pid {proc.pid} ({sys.executable} -c " in refused.stderr
    assert f"pid {unrelated.pid} " not in refused.stderr
    assert refused.stderr.count(f"still holds {data_dir}") == 3


def _left_of_run(data_dir: Path) -> list[str]:
    """Every live process of the `up` run in ``data_dir``: those carrying its mark and those
    with a file open in the folder (Redis and PostgreSQL rewrite their environment block)."""
    pids = folder_holders(data_dir, marker=(RUN_MARK, str(data_dir)), ignore=[data_dir / "logs"])
    return [describe(pid) for pid in pids]


def _wait_gone(data_dir: Path, ports: list[int], timeout: float) -> tuple[float, list[str]]:
    """Seconds until no process of the run is left and no port of it listens, and what was
    still there if that did not happen within ``timeout``."""
    started = time.monotonic()
    while True:
        left = _left_of_run(data_dir) + [f"port {p}" for p in ports if port_is_listening(p)]
        elapsed = time.monotonic() - started
        if not left or elapsed > timeout:
            return elapsed, left
        time.sleep(0.05)


def _ports_of(up: _Up) -> list[int]:
    """The ports one run of `up` listens on: the edge, the dash, its Redis and PostgreSQL."""
    ports = [EDGE_PORT, DASH_PORT]
    for line in up.lines:
        match = re.match(r"\[[12]/4\] (?:redis|postgres): ready at \S+?:(\d+)/", line)
        if match:
            ports.append(int(match.group(1)))
    return ports


@pytest.mark.parametrize("when", ["starting", "stopping"])
def test_signals_while_up_stops_do_not_cut_the_cleanup_short(project_dir: Path, when: str) -> None:
    """`just` relays the SIGTERM it gets, so a SIGTERM to `./dev up`'s process group reaches
    `up` twice. A first signal while `up` starts (once its children run) or once it runs, then
    SIGTERM and SIGINT over and over until it exits: it stops everything, in order, and says so."""
    data_dir = project_dir / ".tidewater"
    up = _Up(project_dir, _env())
    try:
        if when == "stopping":
            up.wait_until_up()
        else:
            _eventually(lambda: any(ln.startswith("[4/4] services: starting") for ln in up.lines))
        up.proc.send_signal(signal.SIGTERM)
        sent = 1
        deadline = time.monotonic() + 60
        while up.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError):
                up.proc.send_signal(signal.SIGINT if sent % 2 else signal.SIGTERM)
                sent += 1
    finally:
        code = up.stop()
    assert sent >= 3  # signals kept coming while it stopped
    assert code == 0, "\n".join(up.lines[-50:])
    assert up.lines[-1] == "tidewater stopped"
    _, left = _wait_gone(data_dir, _ports_of(up), timeout=0)
    assert left == []


def test_up_killed_under_load_leaves_nothing_and_the_next_up_starts_clean(
    project_dir: Path,
) -> None:
    """SIGKILL of `up` while orders come in: within a few seconds no process of it is left and
    no port of it listens (the kernel's parent-death signal: nothing of `up` ran); a new `up` in
    the same folder starts, and the audit finds every acknowledged order and nothing wrong."""
    data_dir = project_dir / ".tidewater"
    up = _Up(project_dir, _env())
    try:
        up.wait_until_up()
        ports = _ports_of(up)
        assert len(ports) == 4
        with httpx.Client(base_url=f"http://127.0.0.1:{EDGE_PORT}/api/v1", timeout=10) as api:
            traders = [sign_up(api, DEPOSITS) for _ in range(5)]
        load = LoadGenerator(f"http://127.0.0.1:{EDGE_PORT}", traders, rate=100, seed=10)
        load.start()
        try:
            _eventually(lambda: len(load.result.acknowledged) >= 100, timeout=30)
            up.proc.kill()
            up.proc.wait(timeout=10)
            gone_after, left = _wait_gone(data_dir, ports, timeout=10)
        finally:
            result = load.stop()
    finally:
        up.stop()
    print(
        f"\nup SIGKILLed: {len(result.acknowledged)} orders acknowledged; gone in {gone_after:.2f}s"
    )
    assert left == [], f"still there {gone_after:.1f}s after SIGKILL of up: {left}"
    assert gone_after < 5
    assert result.server_errors == []

    acknowledged = project_dir / "acknowledged.txt"
    acknowledged.write_text("".join(f"{order_id}\n" for order_id in result.acknowledged))
    again = _Up(project_dir, _env())
    try:
        again.wait_until_up()
        # The audit wants a quiet exchange: the market maker trades on its own, so it waits.
        market_maker = json.loads((data_dir / "status.json").read_text())["services"]["mm"]
        os.kill(market_maker, signal.SIGSTOP)
        try:
            audit = _run(
                project_dir, "audit", "--acknowledged", str(acknowledged), "--settle", "60"
            )
        finally:
            os.kill(market_maker, signal.SIGCONT)
    finally:
        code = again.stop()
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert code == 0, "\n".join(again.lines[-50:])
    assert not any("restarted" in line for line in again.lines), "\n".join(again.lines)
