"""The services as separate processes on the test's own databases, topic namespace and SMTP
server (`stack`), or the whole of `make dev` (`dev_stack`) for the browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from devstack.processes import descendants, free_port, pid_is_alive, stop_process
from devstack.services import named
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack
from devstack.testing import KafkaHandle, PostgresHandle

from tests.support.services import OPERATOR_KEY

SERVICES = ("profile", "matching", "notification")


@pytest.fixture
async def stack(
    postgres: PostgresHandle,
    kafka: KafkaHandle,
    namespace: str,
    unique: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """The three services as `make dev` runs them (a :class:`devstack.stack.Stack`), on the
    session's servers with the test's own databases, topic namespace and SMTP sink."""
    stack = Stack(
        tmp_path / "stack",
        services=named(*SERVICES),
        postgres=postgres.admin_url,
        broker=kafka.bootstrap_servers,
        smtp=(smtp_sink.host, smtp_sink.port),
        namespace=namespace,
        database_suffix=f"_{unique}",
        settings={"OUTBOX_POLL_INTERVAL_SECONDS": "0.2", "LOG_FORMAT": "json"},
        operator_api_key=OPERATOR_KEY,
    )
    try:
        await stack.astart(ready_timeout=90)
        yield stack
    finally:
        await stack.astop()


# --- the whole dev stack, for the browser tests ------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEV_STACK_OPERATOR_KEY = "dev-stack-browser-test-key"
DEV_STACK_SERVICES = ("profile", "matching", "notification", "mentorship", "web", "console")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class DevStack:
    urls: dict[str, str]
    log: Path
    #: Its VAR_DIR: the SMTP sink writes every mail to var_dir / "mail".
    var_dir: Path

    def output(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(text[-lines:])


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _opener.open(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


@pytest.fixture
def chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. "
            "`make browser` installs it (as root: apt-get install --no-install-recommends "
            "chromium); `make test` and `make test-e2e` run that step first."
        )
    return CHROMIUM


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[DevStack]:
    """`devstack up` as `make dev` runs it, on free ports, until the test ends."""
    ports = {name: free_port() for name in ("POSTGRES", "KAFKA", "SMTP")}
    http = {name: free_port() for name in DEV_STACK_SERVICES}
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_HOST", "SMTP_PORT")}
    env.update({f"DEVSTACK_{name}_PORT": str(port) for name, port in ports.items()})
    env.update({f"DEVSTACK_{name.upper()}_PORT": str(port) for name, port in http.items()})
    env["OPERATOR_API_KEY"] = DEV_STACK_OPERATOR_KEY
    log = tmp_path / "devstack-up.log"
    # PostgreSQL's data folder outside pytest's tmp_path: as root, PostgreSQL runs as another
    # account that needs o+x on every folder above it (see test_devstack_cli.py).
    with tempfile.TemporaryDirectory(prefix="devstack-browser-") as var_parent:
        with open(log, "wb") as out:
            up = subprocess.Popen(
                [sys.executable, "-m", "devstack.cli", "up", "--var-dir", f"{var_parent}/var"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole below
            )
        stack = DevStack(
            {name: f"http://127.0.0.1:{port}" for name, port in http.items()},
            log,
            Path(var_parent) / "var",
        )
        children: set[int] = set()
        try:
            deadline = time.monotonic() + 90
            for name, url in stack.urls.items():
                while get(f"{url}/readyz")[0] != 200:
                    assert up.poll() is None, f"devstack up exited\n{stack.output()}"
                    assert time.monotonic() < deadline, f"{name} not ready\n{stack.output()}"
                    time.sleep(0.3)
            children = descendants(up.pid)
            yield stack
        finally:
            children |= descendants(up.pid)
            if up.poll() is None:
                up.send_signal(signal.SIGINT)  # what Ctrl-C delivers to `make dev`
                with contextlib.suppress(subprocess.TimeoutExpired):
                    up.wait(timeout=45)
            stop_process(up, timeout=2)  # SIGKILLs the whole group if anything lingers
            deadline = time.monotonic() + 10
            while any(pid_is_alive(pid) for pid in children) and time.monotonic() < deadline:
                time.sleep(0.1)
    left = sorted(pid for pid in children if pid_is_alive(pid))
    assert not left, f"processes left behind: {left}\n{stack.output()}"
