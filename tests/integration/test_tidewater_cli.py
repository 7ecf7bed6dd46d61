"""``tidewater up`` and ``tidewater status`` as a user runs them, in a folder of their own."""

from __future__ import annotations

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
from typing import IO, TYPE_CHECKING

import psycopg
import pytest
import redis

from infra.embedded import free_port, port_is_listening

if TYPE_CHECKING:
    from collections.abc import Iterator

EDGE_PORT = free_port()
STATUS_LINE = re.compile(r"^tidewater is up: REDIS_URL=(\S+) DATABASE_URL=(\S+) ")


def _tidewater(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.cli", *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env["TIDEWATER_EDGE_PORT"] = str(EDGE_PORT)
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
