"""Run Tidewater's services as child processes: start them, restart one that crashes, stop all.

``tidewater up`` hands a list of ``ChildSpec`` to a ``Supervisor`` once Redis and PostgreSQL are
up. Children start in list order and stop in reverse order (SIGTERM, then SIGKILL after a grace
period). A child that exits on its own is restarted after a delay (1 s by default) that doubles with
each quick crash, up to 30 s, and resets once the child has stayed up for a minute.

Each child runs in a process group of its own, so a stop reaches what it started too (uvicorn
workers, say), and so does the restart of a child that died: its group is killed first. Its
output goes to ``<log_dir>/<name>.log`` and, when an ``echo`` callable is given, line by line to
the console prefixed with the child's name (``edge     | ...``).

No child outlives the supervising process, however that ends: each gets SIGKILL from the kernel
when it dies (``PR_SET_PDEATHSIG``, :func:`infra.processes.parent_death_signal`). SIGKILL rather
than SIGTERM because nobody is left to insist if a child lingers over its shutdown, and every
service already survives a SIGKILL (that is what the fault tests do to them). The signal reaches
the child only, not what the child started itself. The kernel ties it to the *thread* that
forked the child, so ``start_all()`` and ``poll()`` (which restarts children) must be called from
the main thread; they raise ``RuntimeError`` otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import structlog

from infra.processes import parent_death_signal

__all__ = ["ChildSpec", "Supervisor"]

log = structlog.get_logger(__name__)

_MAX_BACKOFF = 30.0
_HEALTHY_AFTER = 60.0
_PARENT_DEATH = signal.SIGKILL


@dataclass(frozen=True)
class ChildSpec:
    """How to run one service: a name for logs and status, its command and extra environment."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0


class Supervisor:
    """Start, watch and stop a list of child services; output goes to ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        log_dir: Path,
        restart_delay: float = 1.0,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self._children = [_Child(spec, backoff=restart_delay) for spec in specs]
        self._log_dir = log_dir
        self._restart_delay = restart_delay
        self._echo = echo
        self._width = max((len(spec.name) for spec in specs), default=0)

    @property
    def names(self) -> list[str]:
        """The services, in start order."""
        return [child.spec.name for child in self._children]

    def pids(self) -> dict[str, int]:
        """The process id of each running child."""
        return {c.spec.name: c.proc.pid for c in self._children if c.proc and c.proc.poll() is None}

    def _spawn(self, child: _Child) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "the supervisor starts children from the main thread only: their parent-death "
                "signal would fire when the thread that forked them ends"
            )
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_file = (self._log_dir / f"{child.spec.name}.log").open("ab")
        child.proc = subprocess.Popen(
            child.spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **child.spec.env},
            start_new_session=True,
            # Only prctl() and getppid() run in the child, prepared before the fork.
            preexec_fn=parent_death_signal(_PARENT_DEATH),  # noqa: PLW1509
        )
        assert child.proc.stdout is not None
        prefix = f"{child.spec.name:<{self._width}} | "
        threading.Thread(
            target=self._pump,
            args=(child.proc.stdout, log_file, prefix),
            name=f"log-{child.spec.name}",
            daemon=True,
        ).start()
        child.started_at = time.monotonic()
        log.info("supervisor.started", service=child.spec.name, pid=child.proc.pid)

    def _pump(self, source: IO[bytes], log_file: IO[bytes], prefix: str) -> None:
        """Copy a child's output to its log file, and each line to the console if echoing."""
        with source, log_file:
            for line in source:
                log_file.write(line)
                log_file.flush()
                if self._echo is not None:
                    self._echo(prefix + line.decode(errors="replace").rstrip())

    def start_all(self) -> None:
        """Start every child in order."""
        for child in self._children:
            self._spawn(child)

    def poll(self) -> list[str]:
        """Restart children that exited; return one line per event worth telling the user."""
        events: list[str] = []
        now = time.monotonic()
        for child in self._children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                # What it started (workers holding its port, say) must not outlive it either.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                if now - child.started_at >= _HEALTHY_AFTER:
                    child.backoff = self._restart_delay
                child.next_start = now + child.backoff
                child.backoff = min(child.backoff * 2, _MAX_BACKOFF)
                child.proc = None
                events.append(
                    f"{child.spec.name} exited with code {code}; restarting in "
                    f"{child.next_start - now:.1f}s"
                )
                log.warning("supervisor.exited", service=child.spec.name, code=code)
            if child.proc is None and now >= child.next_start:
                child.restarts += 1
                self._spawn(child)
                events.append(f"{child.spec.name} restarted (restart #{child.restarts})")
        return events

    def stop_all(self, grace: float = 10.0) -> None:
        """Stop children in reverse start order: SIGTERM to the child's process group, wait
        ``grace`` seconds, then SIGKILL the group."""
        for child in reversed(self._children):
            proc, child.proc = child.proc, None
            if proc is None:
                continue
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    log.warning("supervisor.kill", service=child.spec.name, pid=proc.pid)
            # Whatever the child left in its group (workers, helpers) goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            log.info("supervisor.stopped", service=child.spec.name)
