"""The whole system on one machine: the servers (PostgreSQL, the Kafka-protocol broker, an SMTP
sink) and the services as supervised processes, started together and stopped together.

`devstack up` (`make dev`), the end-to-end and fault-injection tests and the pipeline benchmark
all run the system through :class:`Stack`. What runs is the table
:data:`devstack.services.SERVICES`: adding a service is one entry there.

Every process a stack starts is its child, started through :mod:`devstack.processes` (its own
process group, a parent-death signal), and :meth:`Stack.stop` stops all of them, whatever state
a failure left the stack in. :func:`interrupt_on_signals` turns SIGTERM into the same unwinding
as Ctrl-C, so the ``finally`` that stops the stack runs when CI cancels a job too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TextIO, TypeVar

from mentorship_shared.contracts.topics import topic_partitions
from mentorship_shared.plumbing.broker import ensure_topics

from devstack.broker import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres, create_database
from devstack.processes import free_port, tail
from devstack.server import HOST
from devstack.services import SERVICES, SYSTEM, ServiceSpec
from devstack.smtp_sink import SmtpSink
from devstack.supervisor import ProcessSpec, Supervisor
from devstack.testing import with_database

__all__ = [
    "DEFAULT_SETTINGS",
    "SERVICES",
    "ServiceProcess",
    "ServiceSpec",
    "Stack",
    "StackError",
    "interrupt_on_signals",
]

T = TypeVar("T")


#: What every service of a stack runs with unless the environment says otherwise.
DEFAULT_SETTINGS = {
    # The embedded broker admits a new group member after half the session timeout; a
    # short one keeps start-up quick.
    "KAFKA_SESSION_TIMEOUT_MS": "4000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
    # Output goes through a pipe, where the services would log JSON; a person reads it.
    "LOG_FORMAT": "text",
}


class StackError(RuntimeError):
    """The stack could not be started; the message quotes the end of the logs."""


@dataclass(frozen=True)
class ServiceProcess:
    """One process of a service: its name under the supervisor (``matching-2`` when the
    service runs several), the service and its HTTP address."""

    name: str
    service: ServiceSpec
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class Stack:
    """The servers and services of one running system.

    Servers: each of PostgreSQL, the broker and SMTP is either an embedded server the stack
    starts and stops (give the object; PostgreSQL and the broker default to embedded ones of
    the stack's own, in a temp folder) or one somebody else runs (give its admin URL,
    bootstrap servers or ``(host, port)``). Without ``smtp`` the services get no SMTP server.

    Services: ``services`` (the system's, the tools left out, by default), ``replicas`` processes of some
    (``{"matching": 4}``), each on a free port unless ``ports`` fixes it, on databases named
    ``<service><database_suffix>``, topics in ``namespace``, with ``settings`` on top of the
    environment. Their output goes to ``output``, a line at a time behind the process name
    (``logs/services.log`` under ``root`` by default).

    The blocking methods (:meth:`start`, :meth:`stop`, :meth:`restart_postgres`...) suit plain
    code. From an event loop, :meth:`astart`, :meth:`astop` and :meth:`in_control` run them on
    a control thread of the stack's own, which lives as long as the stack: a child's
    parent-death signal belongs to the thread that forked it, and the loop keeps running.
    """

    def __init__(
        self,
        root: Path,
        *,
        services: Sequence[ServiceSpec] = SYSTEM,
        replicas: Mapping[str, int] | None = None,
        ports: Mapping[str, int] | None = None,
        postgres: EmbeddedPostgres | str | None = None,
        broker: EmbeddedKafka | str | None = None,
        smtp: SmtpSink | tuple[str, int] | None = None,
        namespace: str = "",
        database_suffix: str = "",
        settings: Mapping[str, str] | None = None,
        operator_api_key: str | None = None,
        output: TextIO | None = None,
        quick_restarts: bool = False,
    ) -> None:
        self.root = Path(root)
        self.log_dir = self.root / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._temp_dir: Path | None = None
        if postgres is None:
            # Not under pytest's tmp_path: pytest resets its folders to 0700, and the server
            # runs as an account of its own when we are root.
            self._temp_dir = Path(tempfile.mkdtemp(prefix="devstack-stack-pg-"))
            postgres = EmbeddedPostgres(
                self._temp_dir / "data", durable=False, log_path=self.log_dir / "postgres.log"
            )
        if broker is None:
            broker = EmbeddedKafka(log_path=self.log_dir / "kafka.log")
        self.postgres = postgres if isinstance(postgres, EmbeddedPostgres) else None
        self._admin_url = postgres if isinstance(postgres, str) else None
        self.broker = broker if isinstance(broker, EmbeddedKafka) else None
        self._bootstrap = broker if isinstance(broker, str) else None
        self.sink = smtp if isinstance(smtp, SmtpSink) else None
        self._smtp = smtp if isinstance(smtp, tuple) else None
        self.namespace = namespace
        self.database_suffix = database_suffix
        self.settings = dict(settings or {})
        self.operator_api_key = operator_api_key
        self.quick_restarts = quick_restarts
        self.services = tuple(services)
        replicas = replicas or {}
        ports = ports or {}
        self.processes: list[ServiceProcess] = []
        for service in self.services:
            count = replicas.get(service.name, 1)
            for number in range(1, count + 1):
                name = service.name if count == 1 else f"{service.name}-{number}"
                port = ports.get(name) or free_port()
                self.processes.append(ServiceProcess(name, service, port))
        self.supervisor: Supervisor | None = None
        self._output = output
        self._own_output: IO[str] | None = None
        self._killed: dict[str, int] = {}
        self._control: ThreadPoolExecutor | None = None

    # -- addresses -----------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """The PostgreSQL server's maintenance database, as the superuser."""
        if self.postgres is not None:
            return self.postgres.admin_url
        assert self._admin_url is not None
        return self._admin_url

    def database(self, service: str) -> str:
        """The name of ``service``'s database."""
        return f"{service}{self.database_suffix}"

    def database_url(self, service: str) -> str:
        """``service``'s DATABASE_URL, for tests that look into what a service keeps."""
        return with_database(self.admin_url, self.database(service))

    @property
    def databases(self) -> dict[str, str]:
        """Each service's DATABASE_URL, by service."""
        return {s.name: self.database_url(s.name) for s in self.services if s.database}

    @property
    def bootstrap_servers(self) -> str:
        if self.broker is not None:
            return self.broker.bootstrap_servers
        assert self._bootstrap is not None
        return self._bootstrap

    @property
    def smtp_address(self) -> tuple[str, int] | None:
        if self.sink is not None:
            return (self.sink.host, self.sink.port)
        return self._smtp

    def url(self, service: str) -> str:
        """Base URL of (the first process of) ``service``."""
        return next(p.url for p in self.processes if p.service.name == service)

    @property
    def urls(self) -> dict[str, str]:
        """Each service's base URL (its first process), by service."""
        return {s.name: self.url(s.name) for s in self.services}

    def names_of(self, service: str) -> list[str]:
        """The process names of ``service``."""
        return [p.name for p in self.processes if p.service.name == service]

    def pids(self) -> dict[str, int | None]:
        """The process of every server the stack runs and of every service process, by name
        (``postgres``, ``broker``, ``sink``, ``matching-2``...), None while not running."""
        pids: dict[str, int | None] = {}
        for name, server in (("postgres", self.postgres), ("broker", self.broker)):
            if server is not None:
                pids[name] = server.pid
        if self.sink is not None:
            pids["sink"] = self.sink.pid
        for process in self.processes:
            pids[process.name] = (
                self.supervisor.pid(process.name) if self.supervisor is not None else None
            )
        return pids

    @functools.cached_property
    def secrets(self) -> dict[str, str]:
        """The secrets the services share for sign-in through the web pages, made up for this
        stack unless the environment sets them: the profile service's session signing key and
        its public key (the others check session credentials with it), the key the profile
        service trusts the web pages' forwarded browser addresses with, the pages' CSRF
        secret."""
        from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key

        signing_key = os.environ.get("SESSION_SIGNING_KEY") or generate_signing_key()
        return {
            "SESSION_SIGNING_KEY": signing_key,
            "SESSION_PUBLIC_KEY": SessionSigner(signing_key).public_key_text,
            "FRONTEND_KEY": os.environ.get("FRONTEND_KEY") or secrets.token_urlsafe(24),
            "CSRF_SECRET": os.environ.get("CSRF_SECRET") or secrets.token_urlsafe(32),
        }

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, ready_timeout: float = 120.0) -> None:
        """Start the servers, then the services, and return once every process answers ready;
        raises :class:`StackError` with the end of the logs if one does not. Blocking, and
        not from a thread running an event loop (use :meth:`astart` there)."""
        self.start_servers()
        self.start_services()
        not_ready = self.wait_ready(ready_timeout)
        if not_ready:
            raise StackError(
                f"not ready after {ready_timeout:.0f} s: {', '.join(not_ready)}\n{self.log_tail()}"
            )

    def start_servers(self, say: Callable[[str], None] | None = None) -> None:
        """Start the servers the stack runs; create the databases and topics the services
        use. ``say`` hears what starts, one line each."""
        for server, what in (
            (self.postgres, "PostgreSQL"),
            (self.broker, "the Kafka-protocol broker"),
            (self.sink, "the SMTP sink"),
        ):
            if server is not None:
                if say is not None:
                    say(f"starting {what} on {server.address}")
                server.start()
        if self.services:
            asyncio.run(self._prepare())
            if say is not None:
                names = ", ".join(
                    f"{name} ({count})"
                    for name, count in sorted(topic_partitions(self.namespace).items())
                )
                say(f"databases ready: {', '.join(self.databases)}; topics ready: {names}")

    async def _prepare(self) -> None:
        for service in self.services:
            if service.database:
                await create_database(self.admin_url, self.database(service.name))
        await ensure_topics(self.bootstrap_servers, topic_partitions(self.namespace))

    def create_topics(self) -> None:
        """Create the topics again (after the in-memory broker restarted empty)."""
        asyncio.run(ensure_topics(self.bootstrap_servers, topic_partitions(self.namespace)))

    def start_services(self) -> None:
        """Start every service process under the supervisor, which restarts one that exits."""
        if not self.processes:
            return
        output = self._output
        if output is None:
            output = self._own_output = open(  # noqa: SIM115 - closed by stop()
                self.log_dir / "services.log", "a", encoding="utf-8"
            )
        tuning = (
            # Quick restarts: the default back-off (up to 30 s, reset after a minute of
            # health) is for crash loops, and would make ten kills in a row take minutes.
            {"backoff_initial": 0.2, "backoff_max": 1.0, "healthy_after": 3.0}
            if self.quick_restarts
            else {}
        )
        self.supervisor = Supervisor(
            [self._spec(process) for process in self.processes],
            out=output,
            ready_interval=0.2,
            **tuning,
        )
        self.supervisor.start()

    def _spec(self, process: ServiceProcess) -> ProcessSpec:
        """A process's environment: the defaults, the environment, where its peers are and the
        secrets it shares, the stack's settings, then where its own port, database, broker
        and mail server are (nothing overrides those)."""
        service = process.service
        env = {**DEFAULT_SETTINGS, **os.environ}
        running = {p.service.name for p in self.processes}
        env.update((setting, self.url(peer)) for setting, peer in service.peers if peer in running)
        env.update((name, self.secrets[name]) for name in service.secrets)
        env.update(self.settings)
        env.update(
            HTTP_PORT=str(process.port),
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap_servers,
            KAFKA_TOPIC_NAMESPACE=self.namespace,
            # Output goes through a pipe; unbuffered keeps it in step with events.
            PYTHONUNBUFFERED="1",
        )
        if service.database:
            env["DATABASE_URL"] = self.database_url(service.name)
        smtp = self.smtp_address
        if smtp is not None:
            env.update(SMTP_HOST=smtp[0], SMTP_PORT=str(smtp[1]))
        if self.operator_api_key is not None:
            env["OPERATOR_API_KEY"] = self.operator_api_key
        return ProcessSpec(
            name=process.name,
            argv=[sys.executable, "-m", service.module],
            env=env,
            ready_url=f"{process.url}{service.ready_path}",
        )

    def not_ready(self, names: Sequence[str] | None = None) -> list[str]:
        """The processes (all, or those named) that do not answer ready yet. A process just
        killed counts as not ready until the supervisor has started its successor."""
        if self.supervisor is None:
            return list(names or [p.name for p in self.processes])
        supervisor = self.supervisor
        return [
            name
            for name in names or [p.name for p in self.processes]
            if supervisor.pid(name) in (None, self._killed.get(name))
            or not supervisor.is_ready(name)
        ]

    def wait_ready(self, timeout: float = 120.0, names: Sequence[str] | None = None) -> list[str]:
        """Block until every process (or those named) answers ready; the ones that did not."""
        deadline = time.monotonic() + timeout
        while (waiting := self.not_ready(names)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return waiting

    async def until_ready(self, timeout: float = 120.0, names: Sequence[str] | None = None) -> None:
        """:meth:`wait_ready` for async code; raises :class:`StackError` with the logs."""
        deadline = time.monotonic() + timeout
        while waiting := self.not_ready(names):
            if time.monotonic() > deadline:
                raise StackError(
                    f"not ready after {timeout:.0f} s: {', '.join(waiting)}\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to service process ``name`` (SIGKILL: a crash); the supervisor starts
        it again. Returns the pid that got the signal."""
        assert self.supervisor is not None, "the services are not running"
        victim = self.supervisor.pid(name)
        if victim is None:
            raise StackError(f"{name} is not running")
        os.kill(victim, sig)
        self._killed[name] = victim
        return victim

    def restart(self, name: str) -> int:
        """Stop service process ``name`` gracefully (SIGTERM); the supervisor starts it again."""
        return self.kill(name, signal.SIGTERM)

    def restart_postgres(self) -> None:
        """Fast shutdown of PostgreSQL (every session is cut), then start it again."""
        assert self.postgres is not None, "PostgreSQL is not the stack's own"
        self.postgres.restart()

    def stop_broker(self) -> None:
        assert self.broker is not None, "the broker is not the stack's own"
        self.broker.stop()

    def start_broker(self) -> None:
        """Start the broker on the same port and create the topics again.

        The embedded broker keeps everything in memory, so it comes back without topics,
        offsets or groups. Topics are infrastructure, created by whoever runs the broker, so
        the stack recreates them, as a broker with persistent metadata would still have them.
        """
        assert self.broker is not None, "the broker is not the stack's own"
        self.broker.start()
        self.create_topics()

    def stop(self) -> None:
        """Stop everything this stack started; never raises, whatever state it is in."""
        steps: list[Callable[[], object]] = []
        if self.supervisor is not None:
            steps.append(self.supervisor.stop)
        steps += [s.stop for s in (self.sink, self.broker, self.postgres) if s is not None]
        for step in steps:
            try:
                step()
            except Exception as error:  # keep stopping the rest
                print(f"devstack: {step!r} failed while stopping: {error!r}", file=sys.stderr)
        if self._own_output is not None:
            self._own_output.close()
            self._own_output = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # -- from an event loop --------------------------------------------------------------

    async def in_control(self, action: Callable[[], T]) -> T:
        """Run a blocking ``action`` (a start, a restart) on the stack's control thread."""
        if self._control is None:
            self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack")
        return await asyncio.get_running_loop().run_in_executor(self._control, action)

    async def astart(self, ready_timeout: float = 120.0) -> None:
        await self.in_control(lambda: self.start(ready_timeout))

    async def astop(self) -> None:
        await self.in_control(self.stop)
        control, self._control = self._control, None
        if control is not None:
            control.shutdown(wait=True)

    # -- diagnostics ---------------------------------------------------------------------

    def log_tail(self, lines: int = 60) -> str:
        """The end of every log of the stack (servers and services)."""
        return "\n".join(
            f"--- {path.name} (end) ---\n{tail(path, lines)}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[Callable[[], None]]:
    """While inside, SIGINT and SIGTERM unwind as a KeyboardInterrupt, so the ``finally`` that
    stops a stack runs when a job is cancelled too (even in the background, where a shell
    leaves SIGINT ignored). Yields ``stopping``: once called, both signals are only
    acknowledged, so a second Ctrl-C does not cut a server's shutdown short (every stop is
    bounded by its own kill timeout anyway). Main thread only; the previous handlers come
    back on exit."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def patience(signum: int, frame: FrameType | None) -> None:
        print("devstack: still stopping, please wait", file=sys.stderr, flush=True)

    def stopping() -> None:
        for sig in signals:
            signal.signal(sig, patience)

    for sig in signals:
        signal.signal(sig, interrupt)
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
