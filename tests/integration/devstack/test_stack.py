"""A Stack starts real servers and supervised processes, restarts a killed one, and leaves
nothing behind when stopped, interrupted or when a service never comes up."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from devstack.processes import descendants, pid_is_alive, port_is_open
from devstack.services import ServiceSpec
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack, StackError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
#: A small HTTP server the services' own entry point runs (the benchmark's hello-world).
HELLO = ServiceSpec("hello", "benchmarks.pipeline.hello", 0, database=False, ready_path="/healthz")


async def test_start_kill_and_stop_leave_nothing_behind(tmp_path: Path) -> None:
    stack = Stack(
        tmp_path,
        services=(HELLO,),
        replicas={"hello": 2},
        smtp=SmtpSink(maildir=tmp_path / "mail", process=True),
    )
    try:
        await stack.astart(ready_timeout=90)
        pids = stack.pids()
        assert set(pids) == {"postgres", "broker", "sink", "hello-1", "hello-2"}
        assert all(pid is not None and pid_is_alive(pid) for pid in pids.values())
        assert stack.postgres is not None
        ports = [stack.postgres.port, int(stack.bootstrap_servers.rsplit(":", 1)[1])]
        ports += [p.port for p in stack.processes]

        killed = stack.kill("hello-1")
        await stack.until_ready(60, ["hello-1"])
        assert stack.pids()["hello-1"] not in (None, killed)
        assert stack.pids()["hello-2"] == pids["hello-2"]
    finally:
        await stack.astop()
    everything = [pid for pid in pids.values() if pid is not None]
    assert not [pid for pid in everything if pid_is_alive(pid)]
    assert not [port for port in ports if port_is_open("127.0.0.1", port)]


async def test_a_service_that_never_answers_fails_the_start_with_its_output(
    tmp_path: Path,
) -> None:
    broken = ServiceSpec("broken", "devstack.no_such_module", 0, database=False)
    stack = Stack(tmp_path, services=(broken,))
    try:
        with pytest.raises(StackError, match=r"(?s)not ready after 5 s: broken.*no_such_module"):
            await stack.astart(ready_timeout=5)
    finally:
        await stack.astop()
    assert stack.postgres is not None
    assert not stack.postgres.running


def test_sigterm_stops_a_stack_and_everything_it_started(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from devstack.stack import Stack, interrupt_on_signals

        stack = Stack(Path({str(tmp_path)!r}), services=())
        with interrupt_on_signals() as stopping:
            try:
                stack.start_servers()
                print("running", flush=True)
                while True:
                    time.sleep(0.2)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
            finally:
                stopping()
                stack.stop()
        """
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert runner.stdout is not None
        deadline = time.monotonic() + 60
        while runner.stdout.readline().strip() != b"running":
            assert runner.poll() is None
            assert time.monotonic() < deadline
        children = descendants(runner.pid)
        assert len(children) >= 2  # PostgreSQL (and its workers), the broker
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 0, output
    assert b"interrupted" in output
    assert not [pid for pid in children if pid_is_alive(pid)]
