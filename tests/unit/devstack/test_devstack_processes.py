"""spawn/stop_process keep children contained: own group, no inherited stdout, no orphans."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from devstack.processes import (
    ProcessExitedError,
    free_port,
    pid_is_alive,
    spawn,
    stop_process,
    wait_for_port,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while pid_is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_output_goes_to_the_log_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "logs" / "child.log"
    proc = spawn(
        python("import sys; print('to stdout'); print('to stderr', file=sys.stderr)"), log_path=log
    )
    assert proc.wait(timeout=10) == 0
    assert log.read_text().splitlines() == ["to stdout", "to stderr"]
    captured = capfd.readouterr()
    assert "to stdout" not in captured.out
    assert "to stderr" not in captured.err


def test_child_leads_its_own_process_group() -> None:
    proc = spawn(["sleep", "30"])
    try:
        assert os.getpgid(proc.pid) == proc.pid
        assert os.getsid(proc.pid) == proc.pid
    finally:
        stop_process(proc)
    assert not pid_is_alive(proc.pid)


def test_stop_reaches_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    proc = spawn(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"])
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grandchild = int(pid_file.read_text())
    assert pid_is_alive(grandchild)
    stop_process(proc, timeout=5)
    assert wait_gone(grandchild)


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    marker = tmp_path / "armed"
    proc = spawn(
        python(f"""
            import pathlib, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(60)
        """)
    )
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    assert stop_process(proc, timeout=0.3) == -signal.SIGKILL
    assert time.monotonic() - started < 3
    assert stop_process(proc) == -signal.SIGKILL  # a second stop is harmless


def test_child_dies_with_its_parent(tmp_path: Path) -> None:
    """Even a SIGKILLed parent, which runs no cleanup at all, takes its child along."""
    parent = subprocess.Popen(
        python("""
            import time
            from devstack.processes import spawn
            child = spawn(["sleep", "60"])
            print(child.pid, flush=True)
            time.sleep(60)
        """),
        stdout=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert pid_is_alive(child_pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    assert wait_gone(child_pid)


def test_wait_for_port_fails_fast_with_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    proc = spawn(python("print('config is broken'); raise SystemExit(2)"), log_path=log)
    started = time.monotonic()
    with pytest.raises(ProcessExitedError) as info:
        wait_for_port("127.0.0.1", free_port(), timeout=30, proc=proc)
    assert time.monotonic() - started < 5
    assert "exit code 2" in str(info.value)
    assert "config is broken" in str(info.value)
    stop_process(proc)


def test_wait_for_port_returns_once_listening() -> None:
    port = free_port()
    proc = spawn(
        python(f"""
            import socket, time
            time.sleep(0.2)
            s = socket.create_server(("127.0.0.1", {port}))
            time.sleep(60)
        """)
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=10, proc=proc)
    finally:
        stop_process(proc)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        pass
