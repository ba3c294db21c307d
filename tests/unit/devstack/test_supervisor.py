"""The supervisor restarts crashed children with back-off and leaves nothing running."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from devstack.processes import free_port, pid_is_alive, stop_process
from devstack.supervisor import ProcessSpec, Supervisor


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def restart_delays(output: str) -> list[float]:
    return [float(d) for d in re.findall(r"restart \d+ in ([0-9.]+) s", output)]


def test_crashing_child_is_restarted_with_doubling_backoff() -> None:
    out = io.StringIO()
    spec = ProcessSpec("crashy", python("print('boom', flush=True); raise SystemExit(3)"))
    supervisor = Supervisor(
        [spec], out=out, backoff_initial=0.05, backoff_max=0.2, healthy_after=60
    )
    with supervisor:
        wait_until(lambda: supervisor.restarts("crashy") >= 4)
    text = out.getvalue()
    assert "crashy   | boom" in text  # prefix padded to the supervisor's own name
    assert "crashy exited (exit code 3)" in text
    assert supervisor.last_exit("crashy") == 3
    # 0.05, 0.1, 0.2, then capped at 0.2.
    assert restart_delays(text)[:4] == [0.05, 0.1, 0.2, 0.2]
    assert "\x1b[" not in text  # no colour codes when the output is not a terminal


def test_backoff_resets_after_a_healthy_run() -> None:
    out = io.StringIO()
    spec = ProcessSpec("flaky", python("import time; time.sleep(0.3); raise SystemExit(1)"))
    supervisor = Supervisor([spec], out=out, backoff_initial=0.05, healthy_after=0.2)
    with supervisor:
        wait_until(lambda: supervisor.restarts("flaky") >= 3)
    assert set(restart_delays(out.getvalue())) == {0.05}


def test_stop_kills_the_whole_group_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = f"""
        import signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "60"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("stubborn and started", flush=True)
        time.sleep(60)
    """
    out = io.StringIO()
    supervisor = Supervisor([ProcessSpec("stubborn", python(code))], out=out, stop_timeout=0.5)
    supervisor.start()
    try:
        wait_until(lambda: "stubborn and started" in out.getvalue())
        pid = supervisor.pid("stubborn")
        grandchild = int(pid_file.read_text())
        assert pid is not None
        assert pid_is_alive(pid)
        assert pid_is_alive(grandchild)
    finally:
        started = time.monotonic()
        supervisor.stop()
    assert time.monotonic() - started < 5
    assert not pid_is_alive(pid)
    assert not pid_is_alive(grandchild)
    assert "stubborn did not stop within 0.5 s: killed" in out.getvalue()
    assert supervisor.restarts("stubborn") == 0  # stopping is not a crash


def test_waits_for_the_ready_url() -> None:
    port = free_port()
    code = f"""
        import http.server, time
        time.sleep(0.3)  # not ready at once, so the probe has to retry
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/readyz" else 404)
                self.end_headers()
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", {port}), Handler).serve_forever()
    """
    spec = ProcessSpec("web", python(code), ready_url=f"http://127.0.0.1:{port}/readyz")
    out = io.StringIO()
    with Supervisor([spec], out=out, ready_interval=0.05) as supervisor:
        assert not supervisor.is_ready("web")
        assert supervisor.wait_ready(timeout=15)
        assert supervisor.is_ready("web")
        pid = supervisor.pid("web")
    assert "web is ready" in out.getvalue()
    assert pid is not None
    assert not pid_is_alive(pid)


def test_wait_ready_times_out_for_a_child_that_never_answers() -> None:
    port = free_port()
    spec = ProcessSpec(
        "mute", python("import time; time.sleep(60)"), ready_url=f"http://127.0.0.1:{port}/"
    )
    with Supervisor([spec], out=io.StringIO(), ready_interval=0.05) as supervisor:
        assert not supervisor.wait_ready(timeout=0.5)
        assert supervisor.not_ready() == ["mute"]


def test_run_stops_everything_on_sigterm(tmp_path: Path) -> None:
    """The blocking entry point, as `devstack up` uses it, in a process of its own."""
    pid_file = tmp_path / "pids"
    script = f"""
        import sys
        from devstack.supervisor import ProcessSpec, Supervisor
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        supervisor = Supervisor([ProcessSpec("a", sleeper), ProcessSpec("b", sleeper)])
        def ready(not_ready):
            pids = [supervisor.pid(name) for name in supervisor.names]
            open({str(pid_file)!r}, "w").write(" ".join(map(str, pids)))
        sys.exit(supervisor.run(ready))
    """
    runner = subprocess.Popen(
        python(script), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until(lambda: pid_file.exists() and len(pid_file.read_text().split()) == 2)
        children = [int(pid) for pid in pid_file.read_text().split()]
        assert all(pid_is_alive(pid) for pid in children)
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=15)
    finally:
        stop_process(runner, timeout=1)
    assert runner.returncode == 0, output.decode()
    assert b"stopping" in output
    assert not any(pid_is_alive(pid) for pid in children)


def test_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([ProcessSpec("x", ["true"]), ProcessSpec("x", ["true"])])
