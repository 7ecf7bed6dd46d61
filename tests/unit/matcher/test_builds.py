"""The two builds of the engine: compiled by mypyc and interpreted, from the same sources.

Both are run in child processes (one process can import only one of them) over the same long
seeded stream, and must agree on every event, the final ``state_hash()`` and the invariants.
The choice of build is tested on its own: a stale build is never loaded, and a build that is
insisted on but missing is an error that says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import matcher
from matcher import build
from model.settings import get_engine_build

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = 300_000


def _digest(choice: str, seed: int) -> dict[str, object]:
    env = {**os.environ, "TIDEWATER_ENGINE_BUILD": choice}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.engine_digest",
            f"--seed={seed}",
            f"--commands={COMMANDS}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(
    build.freshness(build.build_dir()) is not None,
    reason=f"no compiled engine to compare: {build.freshness(build.build_dir())}",
)
@pytest.mark.parametrize("seed", [20261206, 7])
def test_the_compiled_and_the_interpreted_engine_emit_the_same_events_and_state(seed: int) -> None:
    compiled, interpreted = _digest("compiled", seed), _digest("interpreted", seed)
    assert compiled["build"] == "compiled"
    assert interpreted["build"] == "interpreted"
    assert compiled["invariants"] == interpreted["invariants"] == []
    assert isinstance(compiled["trades"], int)
    assert compiled["trades"] > 50_000  # it did trade
    del compiled["build"], interpreted["build"]
    assert compiled == interpreted


def test_the_build_in_use_is_named_and_what_it_runs(tmp_path: Path) -> None:
    assert matcher.BUILD.name in ("compiled", "interpreted")
    engine_file = Path(sys.modules["matcher.engine"].__file__ or "")
    assert (engine_file.suffix == ".so") == (matcher.BUILD.name == "compiled")
    assert str(matcher.BUILD).startswith(matcher.BUILD.name)


def _fake_build(where: Path) -> None:
    (where / "matcher").mkdir(parents=True)
    (where / build.STAMP).write_text(json.dumps(build.stamp()))


@pytest.fixture
def choose(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set ``TIDEWATER_ENGINE_BUILD`` for this test (the setting is read once, then cached)."""

    def _choose(choice: str) -> None:
        monkeypatch.setenv("TIDEWATER_ENGINE_BUILD", choice)
        get_engine_build.cache_clear()

    yield _choose
    get_engine_build.cache_clear()


def test_a_build_from_other_sources_is_stale_and_never_loaded(
    tmp_path: Path, choose: Callable[[str], None]
) -> None:
    choose("auto")
    assert build.freshness(tmp_path / "none") is not None  # no build at all
    _fake_build(tmp_path)
    assert build.freshness(tmp_path) is None
    made = {**build.stamp(), "sources": "0" * 64}
    (tmp_path / build.STAMP).write_text(json.dumps(made))
    assert "stale" in (build.freshness(tmp_path) or "")
    path: list[str] = []
    chosen = build.activate(path, tmp_path)
    assert chosen.name == "interpreted"
    assert "stale" in chosen.reason
    assert path == []  # the stale directory was not put in front of the sources


def test_insisting_on_a_missing_compiled_build_fails_and_says_why(
    tmp_path: Path, choose: Callable[[str], None]
) -> None:
    choose("compiled")
    with pytest.raises(ImportError, match="no compiled build"):
        build.activate([], tmp_path / "missing")
    choose("interpreted")
    assert build.activate([], tmp_path / "missing").name == "interpreted"
    choose("fast")
    with pytest.raises(ValueError, match="TIDEWATER_ENGINE_BUILD must be one of"):
        build.activate([], tmp_path / "missing")


def test_the_interpreted_setting_runs_the_sources_in_a_fresh_process() -> None:
    env = {**os.environ, "TIDEWATER_ENGINE_BUILD": "interpreted"}
    probe = "import matcher, matcher.engine as e; print(matcher.BUILD.name, e.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    name, engine_file = done.stdout.split()
    assert name == "interpreted"
    assert engine_file.endswith("matcher/engine.py")
