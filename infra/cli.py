"""The ``tidewater`` command: ``tidewater up`` starts the exchange, ``tidewater status`` reports.

``up`` works in steps, printing one line per step: Redis, PostgreSQL, then the services. Without
``REDIS_URL`` / ``DATABASE_URL`` in the environment it starts embedded servers with their data in
``.tidewater/`` (so data survives between runs). It then prints one status line with the URLs and
waits for Ctrl-C or SIGTERM, on which it stops everything in reverse order.

Only one ``up`` runs per data folder: it holds an exclusive lock on ``<data>/up.pid`` (which also
holds its pid) for as long as it runs; ``<data>/status.json`` describes the running instance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx
import psycopg
import redis

from edge.__main__ import main as edge_main
from infra.audit import audit
from infra.embedded import EmbeddedPostgres, EmbeddedRedis, ServerStartError
from infra.migrate import migrate, storage_path
from infra.processes import describe, folder_holders, has_env, parent_pid, port_holders
from infra.supervisor import ChildSpec, Supervisor
from matcher.__main__ import main as matcher_main
from model.logs import setup_logging
from model.settings import get_settings
from pipeline.flows.__main__ import main as flow_main
from pipeline.persist import main as persist_main

__all__ = ["main"]

_DEFAULT_DATA_DIR = ".tidewater"
_PID_FILE = "up.pid"
_STATUS_FILE = "status.json"
_RUN_MARK = "TIDEWATER_UP_DATA_DIR"
"""Set in the environment of every process ``up`` starts (children inherit it): its data folder."""


class _StartAbortedError(Exception):
    """Ctrl-C or SIGTERM arrived while ``up`` was still starting."""


def _say(message: str) -> None:
    print(message, flush=True)


def _mask(url: str) -> str:
    """Hide a password in a URL before printing it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


# -- the pid/lock file ------------------------------------------------------------------------


@dataclass
class _UpLock:
    """An exclusive ``flock`` on ``<data>/up.pid``; the kernel drops it if the process dies."""

    path: Path
    fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock and write our pid; ``False`` if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def held_elsewhere(self) -> bool:
        """Tell whether some process holds the lock (without keeping it)."""
        if not self.path.exists():
            return False
        if not self.acquire():
            return True
        self.release()
        return False

    def holder(self) -> str:
        """Return the pid written by the holder, or ``"?"``."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        """Empty the file and drop the lock."""
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


# -- what is in the way -----------------------------------------------------------------------


def _bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on ``host:port`` now (``None``: it could)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and werkzeug do
        try:
            sock.bind((host, port))
        except OSError as error:
            return error
    return None


def _leftover_services(data_dir: Path) -> set[int]:
    """Services recorded in the ``status.json`` a killed ``up`` left behind that still run with
    that run's Redis (a run from before children carried ``_RUN_MARK``)."""
    try:
        status = json.loads((data_dir / _STATUS_FILE).read_text())
        redis_url = str(status["redis_url"])
        pids = [int(pid) for pid in dict(status.get("services", {})).values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {pid for pid in pids if pid != os.getpid() and has_env(pid, "REDIS_URL", redis_url)}


def _by_tree(pids: set[int]) -> list[str]:
    """Name each process of ``pids`` whose parent is not one of them, counting those under it
    (PostgreSQL's backends under the postmaster, say)."""
    parents = {pid: parent_pid(pid) for pid in pids}

    def root(pid: int) -> int:
        seen = {pid}
        while (parent := parents.get(pid)) in pids and parent is not None and parent not in seen:
            seen.add(parent)
            pid = parent
        return pid

    trees = Counter(root(pid) for pid in pids)
    return [
        describe(pid) + (f" with {n - 1} more under it" if n > 1 else "")
        for pid, n in sorted(trees.items())
    ]


def _obstacles(data_dir: Path) -> list[str]:
    """What keeps ``up`` from starting cleanly, one line each: a process of an earlier run still
    holding the data folder (started by one, or with files open in it), or a port taken."""
    found: list[str] = []
    holders = set(
        folder_holders(data_dir, marker=(_RUN_MARK, str(data_dir)), ignore=[data_dir / "logs"])
    )
    holders |= _leftover_services(data_dir)
    found += [f"{line} still holds {data_dir}" for line in _by_tree(holders)]
    settings = get_settings()
    for name, host, port in (
        ("edge", settings.edge.host, settings.edge.port),
        ("dash", settings.dash.host, settings.dash.port),
    ):
        error = _bind_error(host, port)
        if error is None:
            continue
        if error.errno != errno.EADDRINUSE:
            found.append(f"the {name} cannot listen on {host}:{port}: {error}")
            continue
        owners = ", ".join(describe(pid) for pid in port_holders(port))
        found.append(
            f"port {port} (the {name}'s, TIDEWATER_{name.upper()}_PORT) is taken by "
            + (owners or "a process this user cannot see")
        )
    return found


def _refuse(data_dir: Path, obstacles: list[str]) -> None:
    lines = [f"tidewater: cannot start for {data_dir}:"]
    lines += [f"  - {line}" for line in obstacles]
    lines.append("Stop them (or choose other ports), then run `tidewater up` again.")
    print("\n".join(lines), file=sys.stderr, flush=True)


# -- up -----------------------------------------------------------------------------------------


def _child_services(redis_url: str, database_url: str, data_dir: Path) -> list[ChildSpec]:
    """The services ``up`` supervises, in start order: one matcher per shard, the agents
    (persist), the market-data flow, the edge, the Dash app and the market maker (which both
    wait for the edge by themselves, retrying)."""
    env = {"REDIS_URL": redis_url, "DATABASE_URL": database_url}
    settings = get_settings()
    python = sys.executable
    specs = [
        ChildSpec(f"matcher-{shard}", (python, "-m", "matcher", "--shard", shard), env)
        for shard in settings.shard_names()
    ]
    specs.append(ChildSpec("agents", (python, "-m", "pipeline"), env))
    flow_env = {
        **env,
        "TIDEWATER_FLOW_RECOVERY_DIR": str(data_dir / "flow-recovery"),
    }
    specs.append(ChildSpec("flow", (python, "-m", "pipeline.flows"), flow_env))
    specs.append(ChildSpec("edge", (python, "-m", "edge", "--port", str(settings.edge.port)), env))
    specs.append(ChildSpec("dash", (python, "-m", "dash_app"), env))
    specs.append(ChildSpec("mm", (python, "-m", "marketmaker"), env))
    return specs


def _wait_for_http(
    url: str, stop: _StopRequest, supervisor: Supervisor, timeout: float = 60.0
) -> bool:
    """Poll ``url`` until it answers 200 (``False`` on timeout), telling meanwhile of children
    that exit and restart; raise ``_StartAbortedError`` on a stop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in supervisor.poll():
            _say(f"services: {event}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if stop.wait(0.2):
            stop.check()
    return False


class _StopRequest:
    """SIGINT/SIGTERM as a flag to wait on.

    Until ``started`` is set, the first signal aborts the start (it raises
    ``_StartAbortedError`` wherever ``up`` is); any later one only sets the flag. Once
    :meth:`stopping` was called, SIGINT and SIGTERM are ignored for the rest of the process:
    nothing cuts the cleanup short, and a signal that comes after it (when the interpreter, on
    its way out, has put the default handlers back) does not turn a clean stop into a death by
    signal. ``just`` relays the SIGTERM it gets to ``up``, so a SIGTERM to ``./dev up``'s
    process group arrives twice. A stop that hangs can still be cut with SIGKILL: the children
    die with ``up`` (``infra.supervisor``).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.started = False
        self._stopping = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self._event.set()
        if not self.started and not self._stopping:
            self._stopping = True
            raise _StartAbortedError(signal.Signals(signum).name)

    def check(self) -> None:
        """Raise ``_StartAbortedError`` if a stop was asked for. The handler's own raise can be
        lost: one landing in an at-fork hook or a finalizer is only printed as "Exception
        ignored", so ``up`` checks again between the steps of its start."""
        if self._event.is_set():
            raise _StartAbortedError("stop requested")

    def stopping(self) -> None:
        """Say that the cleanup begins: from now on SIGINT and SIGTERM are ignored."""
        self._stopping = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; ``True`` once a stop was asked for."""
        return self._event.wait(timeout)

    def install(self) -> None:
        """Handle SIGINT and SIGTERM (never given back: see the class docstring)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)


def _check_external_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    finally:
        client.close()


def _check_external_postgres(url: str) -> None:
    with psycopg.connect(url, connect_timeout=3) as conn:
        conn.execute("SELECT 1")


def _up(data_dir: Path, *, from_wheels: bool | None) -> int:
    lock = _UpLock(data_dir / _PID_FILE)
    if not lock.acquire():
        _say(
            f"tidewater up is already running (pid {lock.holder()}) for {data_dir}; "
            "see `tidewater status`"
        )
        return 1
    obstacles = _obstacles(data_dir)
    if obstacles:
        lock.release()
        _refuse(data_dir, obstacles)
        return 1
    # Every process of this run inherits the mark, so the next run can tell a leftover of ours.
    os.environ[_RUN_MARK] = str(data_dir)
    status_file = data_dir / _STATUS_FILE
    total = 4
    stop = _StopRequest()
    # The one signal that may raise (see _StopRequest) ends here if it lands outside the `try`
    # below; the cleanup has run all the same.
    with contextlib.suppress(_StartAbortedError), contextlib.ExitStack() as cleanup:
        cleanup.callback(lock.release)
        stop.install()
        cleanup.callback(status_file.unlink, missing_ok=True)
        cleanup.callback(_say, "tidewater stopped")
        try:
            _say(f"tidewater: data folder {data_dir}")
            sources: dict[str, str] = {}

            redis_url = os.environ.get("REDIS_URL")
            if redis_url:
                _say(f"[1/{total}] redis: using REDIS_URL {_mask(redis_url)}")
                _check_external_redis(redis_url)
                sources["redis"] = "external (REDIS_URL)"
            else:
                _say(f"[1/{total}] redis: starting embedded server in {data_dir / 'redis'}")
                redis_server = EmbeddedRedis(data_dir, from_wheels=from_wheels)
                cleanup.callback(redis_server.stop)
                redis_url = redis_server.start()
                assert redis_server.binary is not None
                sources["redis"] = f"embedded, {redis_server.binary.describe()}"
            stop.check()
            _say(f"[1/{total}] redis: ready at {_mask(redis_url)} ({sources['redis']})")

            database_url = os.environ.get("DATABASE_URL")
            if database_url:
                _say(f"[2/{total}] postgres: using DATABASE_URL {_mask(database_url)}")
                _check_external_postgres(database_url)
                sources["postgres"] = "external (DATABASE_URL)"
            else:
                _say(f"[2/{total}] postgres: starting embedded server in {data_dir / 'pg'}")
                pg_server = EmbeddedPostgres(data_dir, from_wheels=from_wheels)
                cleanup.callback(pg_server.stop)
                database_url = pg_server.start()
                assert pg_server.binary is not None
                sources["postgres"] = f"embedded, {pg_server.binary.describe()}"
                for note in pg_server.notes:
                    _say(f"[2/{total}] postgres: note: {note}")
            stop.check()
            _say(f"[2/{total}] postgres: ready at {_mask(database_url)} ({sources['postgres']})")

            applied = migrate(database_url)
            _say(
                f"[3/{total}] database: migrated ({len(applied)} new: {', '.join(applied) or '-'})"
            )
            stop.check()
            _say(f"[3/{total}] database: storage is {storage_path(database_url)}")

            specs = _child_services(redis_url, database_url, data_dir)
            supervisor = Supervisor(specs, log_dir=data_dir / "logs", echo=_say)
            cleanup.callback(supervisor.stop_all)
            _say(f"[4/{total}] services: starting {', '.join(supervisor.names)}")
            supervisor.start_all()
            stop.check()
            settings = get_settings()
            port, dash_port = settings.edge.port, settings.dash.port
            for name, url in (
                ("edge", f"http://127.0.0.1:{port}/readyz"),
                ("dash", f"http://127.0.0.1:{dash_port}/"),
            ):
                if not _wait_for_http(url, stop, supervisor):
                    print(
                        f"tidewater: the {name} did not become ready; see {data_dir / 'logs'}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
            _say(f"[4/{total}] services: running {supervisor.pids()}")
            _say(f"  Dashboard         http://127.0.0.1:{dash_port}/")
            _say(f"  REST + WebSocket  http://127.0.0.1:{port}/api/v1  ws://127.0.0.1:{port}/ws")
            _say(f"  OpenAPI           http://127.0.0.1:{port}/schema")
            _say(f"  logs              {data_dir / 'logs'}")

            status = {
                "pid": os.getpid(),
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "data_dir": str(data_dir),
                "redis_url": _mask(redis_url),
                "database_url": _mask(database_url),
                "sources": sources,
                "services": supervisor.pids(),
            }
            status_file.write_text(json.dumps(status, indent=2) + "\n")
            _say(
                f"tidewater is up: REDIS_URL={_mask(redis_url)} "
                f"DATABASE_URL={_mask(database_url)} (Ctrl-C to stop)"
            )
            stop.started = True
            while not stop.wait(0.5):
                for event in supervisor.poll():
                    _say(f"services: {event}")
            _say("tidewater: stopping")
        except (_StartAbortedError, KeyboardInterrupt):
            _say("tidewater: interrupted while starting; stopping")
        except (ServerStartError, redis.RedisError, psycopg.Error, OSError) as error:
            print(f"tidewater: could not start: {error}", file=sys.stderr, flush=True)
            return 1
        finally:
            stop.stopping()
    return 0


# -- status -------------------------------------------------------------------------------------


def _reachable(kind: str, url: str) -> bool:
    try:
        if kind == "redis":
            _check_external_redis(url)
        else:
            _check_external_postgres(url)
    except (redis.RedisError, psycopg.Error, OSError):
        return False
    return True


def _status(data_dir: Path) -> int:
    lock = _UpLock(data_dir / _PID_FILE)
    if not lock.held_elsewhere():
        _say(f"tidewater is not running (no `tidewater up` holds {data_dir})")
        return 1
    try:
        status = json.loads((data_dir / _STATUS_FILE).read_text())
    except (OSError, ValueError):
        _say(f"tidewater up (pid {lock.holder()}) is starting")
        return 0
    _say(f"tidewater is up (pid {status['pid']}, since {status['started_at']})")
    healthy = True
    for kind, key in (("redis", "redis_url"), ("postgres", "database_url")):
        url = str(status[key])
        ok = "***@" in url or _reachable(kind, url)  # a masked URL cannot be dialled: trust up
        healthy = healthy and ok
        state = "ok" if ok else "NOT ANSWERING"
        _say(f"  {kind:<9} {state:<14} {url}  ({status['sources'][kind]})")
    for name, pid in dict(status.get("services", {})).items():
        _say(f"  {name:<9} {'running':<14} pid {pid}")
    return 0 if healthy else 1


def _run_tool(command: str, argv: list[str]) -> int:
    """Run a service whose imports are heavy (Dash, polars) only when it is asked for."""
    if command == "dash":
        from dash_app.__main__ import main as dash_main  # noqa: PLC0415

        return dash_main(argv)
    if command == "mm":
        from marketmaker.__main__ import main as mm_main  # noqa: PLC0415

        return mm_main(argv)
    from analytics.report import main as report_main  # noqa: PLC0415

    return report_main(argv)


def _audit(data_dir: Path, acknowledged: Path | None, settle: float, *, candles: bool) -> int:
    """Run :func:`infra.audit.audit` on the configured servers (or those of a running ``up``)."""
    settings = get_settings()
    redis_url, database_url = settings.redis_url, settings.database_url
    if redis_url is None or database_url is None:
        try:
            status = json.loads((data_dir / _STATUS_FILE).read_text())
        except (OSError, ValueError):
            print(
                "tidewater audit: set REDIS_URL and DATABASE_URL, or run it beside `tidewater up`",
                file=sys.stderr,
            )
            return 2
        redis_url = redis_url or str(status["redis_url"])
        database_url = database_url or str(status["database_url"])
    ids: list[int] = []
    if acknowledged is not None:
        try:
            ids = [int(x) for x in acknowledged.read_text().split()]
        except (OSError, ValueError) as error:
            print(f"tidewater audit: cannot read {acknowledged}: {error}", file=sys.stderr)
            return 2
    shards = {shard: settings.markets_of(shard) for shard in settings.shard_names()}
    client = redis.Redis.from_url(redis_url)
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            report = audit(
                client,
                conn,
                settings.markets(),
                shards,
                acknowledged=ids,
                settle_s=settle,
                check_candles=candles,
            )
    except (redis.RedisError, psycopg.Error, TimeoutError, RuntimeError) as error:
        print(f"tidewater audit: could not audit: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()
    _say(report.render())
    return 0 if report.ok else 1


# -- entry point ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidewater", description="Run the Tidewater exchange.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Redis, PostgreSQL and the services; Ctrl-C stops")
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path(_DEFAULT_DATA_DIR),
        help="where embedded servers keep their data (default: ./.tidewater)",
    )
    up.add_argument(
        "--from-wheels",
        action="store_true",
        default=None,
        help="ignore system redis-server/PostgreSQL and run the servers shipped in wheels",
    )

    status = commands.add_parser("status", help="say whether `tidewater up` runs, and its URLs")
    status.add_argument("--data-dir", type=Path, default=Path(_DEFAULT_DATA_DIR))

    for name, text in (
        ("matcher", "run one shard's matcher"),
        ("edge", "run the REST/WS edge"),
        ("agents", "run the persist agent of every shard"),
        ("flow", "run the Bytewax market-data flow"),
        ("dash", "run the Dash dashboard"),
        ("mm", "run the market maker"),
        ("report", "print a market summary from stored candles and trades"),
    ):
        service = commands.add_parser(name, help=text, add_help=False)
        service.add_argument("rest", nargs=argparse.REMAINDER)
    audit = commands.add_parser(
        "audit", help="check a running exchange's invariants (run it once load has stopped)"
    )
    audit.add_argument("--data-dir", type=Path, default=Path(_DEFAULT_DATA_DIR))
    audit.add_argument(
        "--acknowledged",
        type=Path,
        help="a file of order ids (one per line) that clients saw acknowledged with a 2xx",
    )
    audit.add_argument(
        "--settle", type=float, default=30.0, help="seconds to wait for the stores to catch up"
    )
    audit.add_argument("--no-candles", action="store_true", help="skip the candle check")
    db = commands.add_parser("db", help="database chores")
    db.add_argument("action", choices=["migrate"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tidewater`` with ``argv`` (default: the command line) and return its exit code."""
    args = _parser().parse_args(argv)
    # The CLI's own steps print lines of their own; its library logs speak only when -v.
    setup_logging(
        args.command or "tidewater", level=logging.INFO if args.verbose else logging.WARNING
    )
    if args.command == "matcher":
        return matcher_main(args.rest)
    if args.command == "edge":
        return edge_main(args.rest)
    if args.command == "agents":
        setup_logging("agents")
        asyncio.run(persist_main())
        return 0
    if args.command == "flow":
        flow_main()
        return 0
    if args.command in ("dash", "mm", "report"):
        return _run_tool(args.command, args.rest)
    if args.command == "db":
        url = get_settings().database_url
        if url is None:
            print("tidewater db migrate: set DATABASE_URL", file=sys.stderr)
            return 2
        _say(f"applied: {', '.join(migrate(url)) or 'nothing new'}")
        _say(f"storage: {storage_path(url)}")
        return 0
    data_dir = Path(args.data_dir).absolute()
    if args.command == "audit":
        return _audit(data_dir, args.acknowledged, args.settle, candles=not args.no_candles)
    if args.command == "up":
        return _up(data_dir, from_wheels=args.from_wheels)
    return _status(data_dir)


if __name__ == "__main__":
    sys.exit(main())
