"""The supervisor runs real child processes: start, restart after a crash, stop in order, and
none outlives the supervising process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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


def test_output_is_echoed_with_the_child_name_and_kept_in_its_log(tmp_path: Path) -> None:
    lines: list[str] = []
    specs = [
        ChildSpec("edge", _python("print('hello from edge'); import time; time.sleep(60)")),
        ChildSpec("flow", _python("print('hello from flow'); import time; time.sleep(60)")),
    ]
    supervisor = Supervisor(specs, log_dir=tmp_path, echo=lines.append)
    supervisor.start_all()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(lines) < 2:
        time.sleep(0.05)
    supervisor.stop_all(grace=5)
    assert sorted(lines) == ["edge | hello from edge", "flow | hello from flow"]
    assert (tmp_path / "edge.log").read_text() == "hello from edge\n"


def test_stop_reaches_what_a_child_started(tmp_path: Path) -> None:
    """A child's own children (uvicorn workers, say) stop with it: no process is left behind."""
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import os, subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r} + '.tmp', 'w').write(str(p.pid))\n"
        f"os.rename({str(pid_file)!r} + '.tmp', {str(pid_file)!r})  # never seen half-written\n"
        "time.sleep(120)\n"
    )
    supervisor = Supervisor([ChildSpec("parent", _python(code))], log_dir=tmp_path)
    supervisor.start_all()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.05)
        grandchild = int(pid_file.read_text())
    finally:
        supervisor.stop_all(grace=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waits for its parent to reap it; it runs nothing.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


_SUPERVISING_SCRIPT = """
import json, os, signal, sys, time
from pathlib import Path
from infra.supervisor import ChildSpec, Supervisor

sleeper = (sys.executable, "-c", "import time; time.sleep(120)")
supervisor = Supervisor(
    [ChildSpec("first", sleeper), ChildSpec("second", sleeper)],
    log_dir=Path(sys.argv[1]),
    restart_delay=0.1,
)
supervisor.start_all()
first = supervisor.pids()["first"]
os.kill(first, signal.SIGKILL)  # crash one: poll() starts it again
while supervisor.pids().get("first", first) == first:
    supervisor.poll()
    time.sleep(0.05)
print("pids", json.dumps([first, *supervisor.pids().values()]), flush=True)
while True:
    supervisor.poll()
    time.sleep(0.05)
"""


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    """SIGKILL of the supervising process (nothing of it runs to stop anything) takes its
    children with it, a child restarted by ``poll()`` included: the kernel's parent-death
    signal."""
    script = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISING_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert script.stdout is not None
        line = next(ln for ln in script.stdout if ln.startswith("pids "))  # after log lines
        crashed, *children = json.loads(line.removeprefix("pids "))
        assert len(children) == 2
        assert crashed not in children
        assert all(_alive(pid) for pid in children)
    finally:
        script.kill()
        script.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)]


def test_children_start_from_the_main_thread_only(tmp_path: Path) -> None:
    """The parent-death signal fires when the thread that forked the child ends; the
    supervisor refuses to fork from any other thread."""
    supervisor = Supervisor(
        [ChildSpec("one", _python("import time; time.sleep(60)"))], log_dir=tmp_path
    )
    errors: list[BaseException] = []

    def start() -> None:
        try:
            supervisor.start_all()
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert supervisor.pids() == {}
    assert len(errors) == 1
    assert "main thread" in str(errors[0])
