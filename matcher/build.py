"""Which build of the engine runs: compiled by mypyc from these same sources, or interpreted.

The engine's modules (:data:`ENGINE_MODULES`) are plain typed Python, and stay the
implementation. Where a C compiler exists, ``./dev`` runs ``python -m matcher.compile``, which
compiles them with mypyc into ``build/engine/<python>/`` (the ``.py`` files are left as they are,
and nothing compiled is committed). When ``matcher`` is first imported, :func:`activate` picks the
build by ``TIDEWATER_ENGINE_BUILD`` (:func:`model.settings.get_engine_build`):

* ``auto`` (default): the compiled modules when a build made from exactly the current sources and
  this Python exists and imports, else the ``.py`` files, saying why;
* ``compiled``: the compiled modules, or an ``ImportError`` saying why not;
* ``interpreted``: the ``.py`` files.

A build whose sources changed since it was made is *stale* and never loaded: a stamp beside it
holds the SHA-256 of every engine source and the Python version it was made for. ``matcher.BUILD``
says which build this process runs; the matcher service logs it at start and the benches print it.
Both builds give the same events, snapshots and ``state_hash()`` (``tests/unit/matcher/
test_builds.py``); ``./dev test`` runs the engine's tests against each.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from model.settings import get_engine_build

__all__ = [
    "ENGINE_MODULES",
    "GROUP",
    "PACKAGE",
    "ROOT",
    "STAMP",
    "Build",
    "activate",
    "build_dir",
    "compiler",
    "freshness",
    "stamp",
]

#: The modules mypyc compiles, in the ``matcher`` package. The service, the snapshot codec (its
#: msgspec records are classes mypyc cannot compile natively) and the invariants stay interpreted.
ENGINE_MODULES: Final = (
    "book",
    "ledger",
    "market",
    "order_index",
    "validation",
    "queries",
    "engine",
)
PACKAGE: Final = Path(__file__).resolve().parent
ROOT: Final = PACKAGE.parent
GROUP: Final = "tidewater_engine"
STAMP: Final = "stamp.json"


@dataclass(frozen=True)
class Build:
    """The build a process runs: ``compiled`` or ``interpreted``, and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def build_dir() -> Path:
    """Where the compiled modules of this Python live (one directory per interpreter ABI)."""
    return ROOT / "build" / "engine" / sys.implementation.cache_tag


def compiler() -> str | None:
    """The C compiler Python's build would use, if it and Python's headers are installed."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    found = shutil.which(command.split()[0])
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return found if found and headers.exists() else None


def stamp() -> dict[str, str]:
    """What a build is made from: the engine's sources and the Python running them."""
    sources = hashlib.sha256()
    for module in ENGINE_MODULES:
        sources.update((PACKAGE / f"{module}.py").read_bytes())
    return {"sources": sources.hexdigest(), "python": sys.version}


def freshness(where: Path) -> str | None:
    """Why the compiled build in ``where`` cannot be used, or ``None`` when it can."""
    stamp_file = where / STAMP
    if not stamp_file.exists():
        return "no compiled build (./dev makes one where a C compiler exists)"
    made = json.loads(stamp_file.read_text())
    if {key: made.get(key) for key in ("sources", "python")} != stamp():
        return "the compiled build is stale: the engine's sources changed since ./dev built it"
    return None


def activate(package_path: list[str], where: Path | None = None) -> Build:
    """Choose the build for this process; called once, by ``matcher/__init__.py``.

    ``package_path`` is the ``matcher`` package's ``__path__``: the compiled modules are found
    first when their directory (``where``, by default :func:`build_dir`) stands before the
    sources in it.
    """
    choice = get_engine_build()
    if choice == "interpreted":
        return Build("interpreted", "TIDEWATER_ENGINE_BUILD=interpreted")
    where = build_dir() if where is None else where
    problem = freshness(where)
    if problem is None:
        package_path.insert(0, str(where / "matcher"))
        sys.path.append(str(where))  # the group's shared library is a top-level module
        try:
            importlib.import_module("matcher.engine")
        except ImportError as exc:
            package_path.remove(str(where / "matcher"))
            sys.path.remove(str(where))
            for name in [f"matcher.{m}" for m in ENGINE_MODULES]:
                sys.modules.pop(name, None)
            problem = f"the compiled build does not import: {exc}"
        else:
            made = json.loads((where / STAMP).read_text())
            return Build("compiled", f"mypyc {made.get('mypy', '?')}")
    if choice == "compiled":
        raise ImportError(f"TIDEWATER_ENGINE_BUILD=compiled, but {problem}")
    return Build("interpreted", problem)
