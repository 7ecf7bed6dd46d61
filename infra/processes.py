"""Processes on this machine: children that die with their parent, and who holds a port or folder.

- :func:`parent_death_signal` builds the ``preexec_fn`` that asks Linux to signal a child when
  its parent dies (``PR_SET_PDEATHSIG``). The embedded servers, the supervisor of
  ``tidewater up`` and the benchmarks' services all use it, so a launcher killed with SIGKILL
  leaves nothing behind. The kernel sends the signal when the *thread* that forked the child
  ends, so it is only set for children forked from the main thread (whose end is the process's
  end); from another thread the function returns ``None``.
- :func:`port_holders` and :func:`folder_holders` find, from ``/proc``, the processes that listen
  on a TCP port or keep a folder busy, and :func:`describe` names one (pid and command line), so
  ``tidewater up`` can say what is in its way instead of failing later.

Everything here reads Linux's ``/proc``; elsewhere the finders return nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = [
    "describe",
    "folder_holders",
    "has_env",
    "parent_death_signal",
    "parent_pid",
    "port_holders",
    "running",
]

_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_TCP_LISTEN = "0A"


def parent_death_signal(sig: signal.Signals) -> Callable[[], None] | None:
    """Build a ``preexec_fn`` asking Linux to send ``sig`` to the child when this process dies.

    Returns ``None`` off Linux and off the main thread (see the module docstring). The child
    also checks that its parent is still the process that forked it: a parent that died
    between the fork and the ``prctl`` would send no signal, so the child exits instead.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    number = int(sig)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, number, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError):
        for entry in os.listdir(_PROC):
            if entry.isdigit():
                yield int(entry)


def parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` (``None`` if ``pid`` is gone)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[-1].split()[1])


def running(pid: int) -> bool:
    """Tell whether ``pid`` is a live process (a zombie, which runs nothing, is not)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def describe(pid: int) -> str:
    """``"pid 1234 (python -m matcher --shard 0)"``: a process as an operator would look it up."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        raw = b""
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    if not command:
        with contextlib.suppress(OSError):
            command = "[" + (_PROC / str(pid) / "comm").read_text().strip() + "]"
    return f"pid {pid} ({command or 'command line not readable'})"


def _fd_targets(pid: int) -> Iterator[str]:
    """Where ``pid``'s open file descriptors point (``/a/file``, ``socket:[123]``...)."""
    fd_dir = _PROC / str(pid) / "fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:  # gone, or another user's process
        return
    for name in names:
        with contextlib.suppress(OSError):
            yield os.readlink(fd_dir / name)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holders(port: int) -> list[int]:
    """The processes with a socket listening on TCP ``port`` (any address), as far as this
    user may see: another user's process is only found when running as root."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return []
    return [pid for pid in _pids() if not wanted.isdisjoint(_fd_targets(pid))]


def _environ(pid: int) -> list[bytes]:
    try:
        return (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return []


def has_env(pid: int, name: str, value: str) -> bool:
    """Tell whether ``pid`` was started with ``name=value`` in its environment."""
    return f"{name}={value}".encode() in _environ(pid)


def folder_holders(
    folder: Path,
    *,
    marker: tuple[str, str] | None = None,
    ignore: Iterable[Path] = (),
    exclude: Iterable[int] = (),
) -> list[int]:
    """The live processes that keep ``folder`` busy: those with a file open inside it (except
    under the ``ignore`` folders, say logs someone is reading), and those started with the
    environment variable ``marker = (name, value)``. This process and ``exclude`` are left out.
    """
    root = str(folder.absolute())
    prefix = root.rstrip("/") + "/"
    skipped = tuple(str(path.absolute()).rstrip("/") + "/" for path in ignore)
    mine = {os.getpid(), *exclude}
    found: list[int] = []
    for pid in _pids():
        if pid in mine:
            continue
        if marker is not None and has_env(pid, *marker):
            found.append(pid)
            continue
        for target in _fd_targets(pid):
            if (target == root or target.startswith(prefix)) and not target.startswith(skipped):
                found.append(pid)
                break
    return [pid for pid in found if running(pid)]
