"""`devstack up` starts the servers and leaves nothing behind on Ctrl-C; `devstack mail` lists."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from devstack.cli import main
from devstack.processes import descendants, free_port, pid_is_alive, port_is_open, stop_process
from devstack.services import SERVICES

pytestmark = pytest.mark.integration


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A scratch folder for a PostgreSQL cluster, outside pytest's tmp_path on purpose.

    As root, PostgreSQL runs as another account that needs o+x on every folder above its
    data. pytest resets its shared /tmp/pytest-of-<user> folder to 0700 whenever another
    pytest session starts, which would lock that account out in the middle of a test.
    """
    with tempfile.TemporaryDirectory(prefix="devstack-test-") as tmp:
        yield Path(tmp)


def test_up_starts_the_servers_and_ctrl_c_leaves_no_process(
    tmp_path: Path, server_dir: Path
) -> None:
    if any(port_is_open("127.0.0.1", s.port) for s in SERVICES):
        pytest.skip("a service port (8000-8004, 8090) is taken on this machine")
    ports = {name: free_port() for name in ("POSTGRES", "KAFKA", "SMTP")}
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_HOST", "SMTP_PORT")}
    env.update({f"DEVSTACK_{name}_PORT": str(port) for name, port in ports.items()})
    log = tmp_path / "up.out"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "devstack.cli", "up", "--var-dir", str(server_dir / "var")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while b"starting the services" not in log.read_bytes():
            assert up.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert all(port_is_open("127.0.0.1", port) for port in ports.values())
        time.sleep(1)  # let the services get going, so there is more to clean up
        children = descendants(up.pid)
        # postgres (and its workers), tansu, 5 services and the operator console
        assert len(children) >= 8, children
        up.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        assert up.wait(timeout=45) == 0, log.read_text()
    finally:
        stop_process(up, timeout=1)
    text = log.read_text()
    assert "devstack: stopped" in text
    still_alive = {pid for pid in children if pid_is_alive(pid)}
    assert not still_alive, text
    assert not any(port_is_open("127.0.0.1", port) for port in ports.values())
    assert (server_dir / "var" / "postgres" / "PG_VERSION").exists()
    assert (server_dir / "var" / "logs" / "postgres.log").exists()


def test_up_reports_a_port_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        monkeypatch.setenv("DEVSTACK_POSTGRES_PORT", str(port))
        assert main(["up", "--var-dir", str(tmp_path / "var")]) == 1
    assert f"PostgreSQL port {port}" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()  # refused before touching anything


def test_mail_lists_what_the_sink_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maildir = tmp_path / "var" / "mail"
    maildir.mkdir(parents=True)
    for number, (to, subject) in enumerate(
        [("ada@example.org", "Welcome"), ("alan@example.org", "You have a match")], start=1
    ):
        message = EmailMessage()
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = f"Mon, 0{number} Jun 2026 10:00:00 +0000"
        message.set_content("hello")
        (maildir / f"2026060{number}T100000.000000Z-00000{number}.eml").write_bytes(bytes(message))
    assert main(["mail", "--var-dir", str(tmp_path / "var")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["date", "to", "subject"]
    assert "ada@example.org" in lines[1]
    assert "Welcome" in lines[1]
    assert "2026-06-02 10:00:00" in lines[2]
    assert lines[2].endswith("You have a match")


def test_help_describes_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("up", "seed", "mail"):
        assert command in out
