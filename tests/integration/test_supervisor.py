"""The supervisor runs real child processes: start, restart after a crash, stop in order."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from infra.supervisor import ChildSpec, Supervisor

if TYPE_CHECKING:
    from pathlib import Path


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_children_start_and_stop(tmp_path: Path) -> None:
    specs = [
        ChildSpec("first", _python("import time; time.sleep(60)")),
        ChildSpec("second", _python("import time; time.sleep(60)")),
    ]
    supervisor = Supervisor(specs, log_dir=tmp_path)
    supervisor.start_all()
    pids = supervisor.pids()
    assert set(pids) == {"first", "second"}
    supervisor.stop_all(grace=5)
    assert supervisor.pids() == {}
    assert (tmp_path / "first.log").exists()


def test_crashed_child_is_restarted(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    code = f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"
    supervisor = Supervisor(
        [ChildSpec("crashy", _python(code), env={"TW": "1"})], log_dir=tmp_path, restart_delay=0.1
    )
    supervisor.start_all()
    events: list[str] = []

    def runs() -> int:
        return len(marker.read_text()) if marker.exists() else 0

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and runs() < 2:
        events += supervisor.poll()
        time.sleep(0.05)
    supervisor.stop_all(grace=5)
    assert runs() >= 2  # it ran again after crashing
    assert any("exited with code 3" in e for e in events)
    assert any("crashy restarted" in e for e in events)
