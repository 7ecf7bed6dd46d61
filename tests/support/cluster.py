"""Run the real services as processes for a test: matcher and edge, on a given Redis and DB.

Each service is the same ``python -m ...`` a deployment runs, configured only through the
environment, on free ports. Tests can kill (SIGKILL), stop (SIGTERM) and restart each one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from infra.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]

#: Settings for tests: limits out of the way unless a test sets its own.
TEST_ENV = {
    "TIDEWATER_RATE_LIMIT": "0",
    "TIDEWATER_IP_RATE_LIMIT": "0",
    "TIDEWATER_SIGNIN_LIMIT": "0",
    "TIDEWATER_TRIM_COMMANDS": "0",
    "TIDEWATER_REPLY_TIMEOUT_MS": "5000",
}


class Service:
    """One child process: ``python -m <module> <args>`` with an environment."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.module, self.args, self.env, self.log = module, args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no goodbye, no snapshot."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


class Cluster:
    """A matcher and an edge (and, if asked, the persist agent) on one Redis and database."""

    def __init__(
        self,
        redis_url: str,
        database_url: str,
        workdir: Path,
        extra: dict[str, str] | None = None,
        *,
        with_agents: bool = False,
        with_flow: bool = False,
    ) -> None:
        self.redis_url, self.database_url = redis_url, database_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **TEST_ENV,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            **(extra or {}),
        }
        self.matcher = Service("matcher", [], env, workdir / "matcher.log")
        self.edge = Service("edge", ["--port", str(self.port)], env, workdir / "edge.log")
        self.agents = Service("pipeline", [], env, workdir / "agents.log")
        flow_env = {**env, "TIDEWATER_FLOW_RECOVERY_DIR": str(workdir / "flow-recovery")}
        self.flow = Service("pipeline.flows", [], flow_env, workdir / "flow.log")
        self.with_agents = with_agents
        self.with_flow = with_flow

    def start(self) -> None:
        self.matcher.start()
        if self.with_agents:
            self.agents.start()
        if self.with_flow:
            self.flow.start()
        self.edge.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()  # leave no process behind when a test never gets to stop us
            raise

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.edge.alive():
                raise RuntimeError(f"edge died:\n{self.edge.output()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"edge not ready:\n{self.edge.output()}\n{self.matcher.output()}")

    def stop(self) -> None:
        self.edge.stop()
        self.agents.stop()
        self.flow.stop()
        self.matcher.stop()
