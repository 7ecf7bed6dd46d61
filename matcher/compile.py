"""``python -m matcher.compile [--force]``: compile the engine with mypyc if missing or stale.

``./dev`` runs this before every recipe; it returns at once when the build in
``build/engine/<python>/`` was made from the current sources (see :mod:`matcher.build`). Without a
C compiler it builds nothing and says so: the engine then runs interpreted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from matcher.build import ENGINE_MODULES, GROUP, ROOT, STAMP, build_dir, compiler, stamp

__all__ = ["compile_engine"]


def _mypy_version() -> str:
    try:
        return version("mypy")
    except PackageNotFoundError:
        return "none"


def compile_engine(*, force: bool = False, quiet: bool = False) -> str:
    """Compile the engine with mypyc into :func:`build_dir` unless a fresh build is there.

    Return what happened, in words. Without a C compiler nothing is built and the interpreted
    engine runs. The build happens in a child process, in a temporary directory that replaces
    the old build only once complete.
    """
    where = build_dir()
    made_from = {**stamp(), "mypy": _mypy_version()}
    stamp_file = where / STAMP
    if not force and stamp_file.exists() and json.loads(stamp_file.read_text()) == made_from:
        return f"compiled engine is up to date in {where.relative_to(ROOT)}"
    cc = compiler()
    if cc is None:
        return "no C compiler (or no Python headers): the engine runs interpreted"
    where.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{where.name}.", dir=where.parent))
    log = work / "build.log"
    sources = [f"matcher/{module}.py" for module in ENGINE_MODULES]
    # The child imports ``matcher`` too: it must not insist on the build it is making.
    env = {**os.environ, "TIDEWATER_ENGINE_BUILD": "interpreted"}
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "matcher.compile", "_mypycify", str(work), *sources],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        kept = where.parent / "last-failed-build.log"
        shutil.copyfile(log, kept)
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"mypyc failed; its output is in {kept.relative_to(ROOT)}")
    lib = work / "lib"
    (lib / STAMP).write_text(json.dumps(made_from, indent=2))
    old = where.with_name(f"{where.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if where.exists():
        where.rename(old)
    lib.rename(where)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return (
        f"compiled the engine with mypyc {made_from['mypy']} ({cc}) into {where.relative_to(ROOT)}"
    )


def _mypycify(work: Path, sources: list[str]) -> None:
    """The child process of :func:`compile_engine`: mypyc's C, then setuptools' compiler."""
    # Development dependencies, imported only to build (the service never needs them).
    from mypyc.build import mypycify  # noqa: PLC0415
    from setuptools import setup  # noqa: PLC0415

    extensions = mypycify(sources, opt_level="3", group_name=GROUP, target_dir=str(work / "c"))
    setup(
        name=GROUP,
        ext_modules=extensions,
        script_args=[
            "build_ext",
            f"--build-lib={work / 'lib'}",
            f"--build-temp={work / 'obj'}",
            f"--parallel={os.cpu_count() or 1}",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    """Build the compiled engine if it is missing or stale (``--force``: in any case)."""
    parser = argparse.ArgumentParser(prog="python -m matcher.compile", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("_mypycify")  # internal: the build's child process
    child.add_argument("work", type=Path)
    child.add_argument("sources", nargs="+")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    if args.command == "_mypycify":
        _mypycify(args.work, args.sources)
        return 0
    try:
        print(compile_engine(force=args.force))
    except RuntimeError as exc:
        print(f"{exc}; the engine runs interpreted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
