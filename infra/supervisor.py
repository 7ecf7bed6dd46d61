"""Run Tidewater's services as child processes: start them, restart one that crashes, stop all.

``tidewater up`` hands a list of ``ChildSpec`` to a ``Supervisor`` once Redis and PostgreSQL are
up. Children start in list order and stop in reverse order (SIGTERM, then SIGKILL after a grace
period). A child that exits on its own is restarted after a delay (1 s by default) that doubles with
each quick crash, up to 30 s, and resets once the child has stayed up for a minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

__all__ = ["ChildSpec", "Supervisor"]

log = structlog.get_logger(__name__)

_MAX_BACKOFF = 30.0
_HEALTHY_AFTER = 60.0


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
        self, specs: Sequence[ChildSpec], *, log_dir: Path, restart_delay: float = 1.0
    ) -> None:
        self._children = [_Child(spec, backoff=restart_delay) for spec in specs]
        self._log_dir = log_dir
        self._restart_delay = restart_delay

    @property
    def names(self) -> list[str]:
        """The services, in start order."""
        return [child.spec.name for child in self._children]

    def pids(self) -> dict[str, int]:
        """The process id of each running child."""
        return {c.spec.name: c.proc.pid for c in self._children if c.proc and c.proc.poll() is None}

    def _spawn(self, child: _Child) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        with (self._log_dir / f"{child.spec.name}.log").open("ab") as out:
            child.proc = subprocess.Popen(
                child.spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **child.spec.env},
                start_new_session=True,
            )
        child.started_at = time.monotonic()
        log.info("supervisor.started", service=child.spec.name, pid=child.proc.pid)

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
        """Stop children in reverse start order: SIGTERM, wait ``grace`` seconds, then SIGKILL."""
        for child in reversed(self._children):
            proc, child.proc = child.proc, None
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("supervisor.kill", service=child.spec.name, pid=proc.pid)
                proc.kill()
                proc.wait()
            log.info("supervisor.stopped", service=child.spec.name)
