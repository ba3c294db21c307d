"""The fault-injection tier: a whole stack of its own per test (embedded PostgreSQL, the Tansu
broker, an SMTP sink and the three services supervised as subprocesses), so a test may kill,
stop and restart any part of it.

Intensity comes from ``FAULTS_SCALE``: ``full`` (what ``make test-faults`` runs: ten kills per
service, a 30 s broker outage) or anything else for the reduced form ``make test`` runs within
CI time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest
from devstack.broker import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port, tail
from devstack.smtp_sink import SmtpSink
from devstack.supervisor import ProcessSpec, Supervisor
from mentorship_shared.contracts.topics import TOPIC_PARTITIONS
from mentorship_shared.plumbing.broker import ensure_topics

from tests.support.services import OPERATOR_KEY

T = TypeVar("T")

SERVICES = ("profile", "matching", "notification")


@dataclass(frozen=True)
class FaultScale:
    """How hard each fault hits, and how much load runs around it."""

    name: str
    #: Registrations per second the load driver sends (open loop).
    rate: float
    #: SIGKILLs of each service in the kill test.
    kills_per_service: int
    #: Seconds the broker stays down.
    broker_outage: float
    #: Seconds of load before the fault starts and after it ends.
    lead: float
    tail: float
    #: Seconds of load for the faults that take no time of their own (poison, replay, ...).
    steady: float
    #: pytest-timeout of each test, in seconds.
    timeout: float
    #: The recovery promise: everything has caught up this long after the fault ended.
    recovery_bound: float = 60.0


REDUCED = FaultScale(
    "reduced",
    rate=10,
    kills_per_service=2,
    broker_outage=5,
    lead=3,
    tail=3,
    steady=10,
    timeout=240,
)
FULL = FaultScale(
    "full",
    # Not more: each proposal is two mails, and the mail dispatcher sends about 20 to 25 a
    # second on a 2-core machine, so at 15 registrations/s the mail backlog grows even
    # without a fault (a full run at 15/s could not catch up within 60 s of ten kills).
    rate=10,
    kills_per_service=10,
    broker_outage=30,
    lead=5,
    tail=5,
    steady=30,
    timeout=900,
)


def scale_from_env() -> FaultScale:
    return FULL if os.environ.get("FAULTS_SCALE", "").strip().lower() == "full" else REDUCED


SCALE = scale_from_env()


@dataclass(frozen=True)
class ServiceProcess:
    """One supervised service process: its supervisor name, service and HTTP address."""

    name: str
    service: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class FaultStack:
    """PostgreSQL, the broker, an SMTP sink and the services under a :class:`Supervisor`.

    Everything blocking that starts a server (PostgreSQL, the broker) runs on one control
    thread that lives as long as the stack: a child's parent-death signal belongs to the
    thread that forked it, so a short-lived worker thread must never spawn one. The services
    are spawned by the supervisor's own monitor threads. :meth:`stop` stops all of it, and is
    safe to call whatever state a failure left things in.
    """

    def __init__(self, root: Path, *, matchers: int = 1) -> None:
        self.root = root
        self.log_dir = root / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Not under pytest's tmp_path: pytest resets its folders to 0700, and the server
        # runs as its own account when we are root.
        self._pg_dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.postgres = EmbeddedPostgres(
            self._pg_dir / "data", durable=False, log_path=self.log_dir / "postgres.log"
        )
        self.broker = EmbeddedKafka(log_path=self.log_dir / "kafka.log")
        self.sink = SmtpSink(maildir=root / "mail")
        self.processes = [ServiceProcess("profile", "profile", free_port())]
        if matchers == 1:
            self.processes.append(ServiceProcess("matching", "matching", free_port()))
        else:
            self.processes += [
                ServiceProcess(f"matching-{i}", "matching", free_port())
                for i in range(1, matchers + 1)
            ]
        self.processes.append(ServiceProcess("notification", "notification", free_port()))
        self.supervisor: Supervisor | None = None
        # The services' output, each line behind its process name; closed by stop().
        self._supervisor_log: IO[str] | None = open(  # noqa: SIM115
            self.log_dir / "services.log", "a", encoding="utf-8"
        )
        self._killed: dict[str, int] = {}
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fault-stack")

    # -- addresses -----------------------------------------------------------------------

    def url(self, service: str) -> str:
        """Base URL of (the first process of) ``service``."""
        return next(p.url for p in self.processes if p.service == service)

    def database_url(self, service: str) -> str:
        return self.postgres.url(service)

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    def names_of(self, service: str) -> list[str]:
        return [p.name for p in self.processes if p.service == service]

    # -- lifecycle -----------------------------------------------------------------------

    async def _on_control(self, action: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._control, action)

    async def start(self, ready_timeout: float = 120.0) -> None:
        await self._on_control(self.postgres.start)
        for service in SERVICES:
            await self._on_control(lambda service=service: self.postgres.ensure_database(service))
        await self._on_control(self.broker.start)
        await self.create_topics()
        self.sink.start()
        specs = [self._spec(p) for p in self.processes]
        # Quick restarts: the supervisor's default back-off (up to 30 s, reset after a minute
        # of health) is for crash loops, and would make ten kills in a row take minutes.
        self.supervisor = Supervisor(
            specs,
            out=self._supervisor_log,
            backoff_initial=0.2,
            backoff_max=1.0,
            healthy_after=3.0,
            ready_interval=0.2,
        )
        await self._on_control(self.supervisor.start)
        await self.wait_ready(ready_timeout)

    def _spec(self, process: ServiceProcess) -> ProcessSpec:
        env = {
            **os.environ,
            "DATABASE_URL": self.postgres.url(process.service),
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "KAFKA_TOPIC_NAMESPACE": "",
            "KAFKA_SESSION_TIMEOUT_MS": "4000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            "OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
            "DISPATCHER_POLL_INTERVAL_SECONDS": "0.5",
            "HTTP_PORT": str(process.port),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.sink.port),
            "OPERATOR_API_KEY": OPERATOR_KEY,
            # A steady load from one address: the abuse limits would refuse most of it.
            "REGISTRATION_RATE_PER_ADDRESS": "0",
            "REGISTRATION_RATE_PER_EMAIL": "0",
            "MAIL_DAILY_LIMIT_PER_RECIPIENT": "0",
            "LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
        return ProcessSpec(
            name=process.name,
            argv=[sys.executable, "-m", f"{process.service}_service"],
            env=env,
            ready_url=f"{process.url}/readyz",
        )

    async def wait_ready(self, timeout: float = 120.0, names: list[str] | None = None) -> None:
        """Until every process (or those named) answers ready; fail with the logs if not."""
        assert self.supervisor is not None
        wanted = names or [p.name for p in self.processes]
        deadline = time.monotonic() + timeout
        while True:
            waiting = [
                name
                for name in wanted
                # A process just killed may still read as ready until the supervisor notices.
                if self.supervisor.pid(name) in (None, self._killed.get(name))
                or not self.supervisor.is_ready(name)
            ]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not ready after {timeout:.0f} s: {', '.join(waiting)}\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop everything this stack started; never raises, whatever state it is in."""
        steps: list[Callable[[], object]] = []
        if self.supervisor is not None:
            steps.append(self.supervisor.stop)
        steps += [self.sink.stop, self.broker.stop, self.postgres.stop]
        for step in steps:
            try:
                await self._on_control(step)
            except Exception as error:  # keep stopping the rest
                print(f"fault stack: {step!r} failed while stopping: {error!r}", file=sys.stderr)
        self._control.shutdown(wait=True)
        if self._supervisor_log is not None:
            self._supervisor_log.close()
            self._supervisor_log = None
        shutil.rmtree(self._pg_dir, ignore_errors=True)

    # -- faults --------------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        assert self.supervisor is not None
        return self.supervisor.pid(name)

    async def kill(self, name: str, *, ready_timeout: float = 120.0) -> float:
        """Once process ``name`` is ready, SIGKILL it (the supervisor starts it again).

        Returns the moment of the kill; :meth:`wait_ready` waits for the new process."""
        assert self.supervisor is not None
        await self.wait_ready(ready_timeout, [name])
        victim = self.supervisor.pid(name)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        self._killed[name] = victim
        return time.monotonic()

    async def restart_postgres(self) -> None:
        """Fast shutdown of PostgreSQL (every session is cut), then start it again."""
        await self._on_control(self.postgres.restart)

    async def stop_broker(self) -> None:
        await self._on_control(self.broker.stop)

    async def start_broker(self) -> None:
        """Start the broker on the same port and create the topics again.

        The embedded broker keeps everything in memory, so it comes back without topics,
        offsets or groups. Topics are infrastructure, created by whoever runs the broker
        (``devstack up`` does it at start-up, the services only when they start), so the
        stack recreates them, as a broker with persistent metadata would still have them.
        """
        await self._on_control(self.broker.start)
        await self.create_topics()

    async def create_topics(self) -> None:
        await ensure_topics(self.broker.bootstrap_servers, TOPIC_PARTITIONS)

    # -- diagnostics ---------------------------------------------------------------------

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"--- {path.name} (end) ---\n{tail(path, lines)}")
        return "\n".join(parts)


@pytest.fixture
async def fault_stack_factory(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[FaultStack]]]:
    """``await fault_stack_factory(matchers=4)`` starts a stack; every one is stopped after
    the test, passed, failed or interrupted."""
    stacks: list[FaultStack] = []

    # FAULTS_LOG_DIR keeps the logs somewhere pytest does not clean up after three runs.
    keep = os.environ.get("FAULTS_LOG_DIR")
    base = Path(keep) / request.node.name if keep else tmp_path

    async def start(*, matchers: int = 1) -> FaultStack:
        stack = FaultStack(base / f"stack{len(stacks)}", matchers=matchers)
        stacks.append(stack)
        await stack.start()
        return stack

    try:
        yield start
    finally:
        for stack in reversed(stacks):
            await stack.stop()


@pytest.fixture
async def fault_stack(
    fault_stack_factory: Callable[..., Awaitable[FaultStack]],
) -> FaultStack:
    """A stack with one process of each service."""
    return await fault_stack_factory()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        yield client


# --- the table every fault adds a row to -----------------------------------------------

_TABLE_HEADER = (
    f"{'fault':<44} {'sent':>6} {'lost':>5} {'dup. effects':>12} {'raw dup. mails':>14} "
    f"{'recovery':>9}"
)
_header_written: list[bool] = []


@pytest.fixture
def fault_table(summary: Callable[[str], None]) -> Callable[[str, Any], None]:
    """``fault_table(fault, report)`` adds the fault's row to the end-of-run summary."""

    def add(fault: str, report: Any) -> None:
        if not _header_written:
            _header_written.append(True)
            summary("")
            summary(f"Fault-injection suite (FAULTS_SCALE={SCALE.name})")
            summary(_TABLE_HEADER)
            summary("-" * len(_TABLE_HEADER))
        summary(report.row(fault))

    return add
