"""The stack the pipeline benchmark drives, and what it costs in CPU.

PostgreSQL and the broker run for the whole benchmark; each load step gets the four services,
an SMTP sink and databases and topics of its own (a fresh state: no mentors or backlog left
over from the step before). All of them are :class:`devstack.stack.Stack` instances, which
start every process as a child that cannot outlive us; :meth:`BenchStack.stop` stops them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path

import asyncpg
import httpx
from devstack.postgres import EmbeddedPostgres
from devstack.processes import cpu_seconds_by_root
from devstack.server import HOST
from devstack.services import ServiceSpec, named
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack

from benchmarks.pipeline import profiling

__all__ = ["HOST", "SERVICE_ENV", "BenchStack", "MailReader", "Step", "wall_offset"]

REPO = Path(__file__).resolve().parents[2]
#: The services a step runs: those a registration goes through to its mails, and the mentorship
#: service, which consumes every registration and match event too.
SERVICES = ("profile", "matching", "notification", "mentorship")

#: What the benchmark changes from the services' defaults, and why (the report lists it).
SERVICE_ENV = {
    # One client address and steady load: the abuse limits would refuse most of it.
    "REGISTRATION_RATE_PER_ADDRESS": "0",
    "REGISTRATION_RATE_PER_EMAIL": "0",
    # Every mentor gets a proposal mail per mentee (up to 10), more than 20 a day at high rates.
    "MAIL_DAILY_LIMIT_PER_RECIPIENT": "0",
    # As `devstack up` sets them: the embedded broker admits a group member after half the
    # session timeout, so a short one keeps each step's start quick.
    "KAFKA_SESSION_TIMEOUT_MS": "4000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
    "LOG_FORMAT": "text",
    "PYTHONUNBUFFERED": "1",
}


def own_cpu_seconds() -> float:
    """This process's own CPU time (the load generator), not its children's."""
    times = os.times()
    return times.user + times.system


# --- mail as the sink stored it ----------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    received_at: float  # epoch seconds, from the sink's file name (its clock at DATA)
    to: str  # the recipient's address
    subject: str


class MailReader:
    """Reads the sink's maildir incrementally: each file once, headers only."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.mails: list[Mail] = []
        self._seen: set[str] = set()
        self._parser = BytesHeaderParser()

    def count(self) -> int:
        try:
            return sum(1 for e in os.scandir(self.maildir) if e.name.endswith(".eml"))
        except FileNotFoundError:
            return 0

    def read_new(self) -> list[Mail]:
        try:
            names = sorted(e.name for e in os.scandir(self.maildir) if e.name.endswith(".eml"))
        except FileNotFoundError:
            return []
        new: list[Mail] = []
        for name in names:
            if name in self._seen:
                continue
            self._seen.add(name)
            # <UTC %Y%m%dT%H%M%S.%fZ>-<counter>.eml, stamped when the DATA command arrived.
            stamp = datetime.strptime(name.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ")
            with open(self.maildir / name, "rb") as handle:
                headers = self._parser.parse(handle)
            new.append(
                Mail(
                    received_at=stamp.replace(tzinfo=UTC).timestamp(),
                    to=parseaddr(str(headers.get("To", "")))[1].lower(),
                    subject=str(headers.get("Subject", "")),
                )
            )
        self.mails.extend(new)
        return new


# --- the stack ---------------------------------------------------------------------------------

#: The hello-world anchor's server, run as a stack's only service (no database).
HELLO = ServiceSpec(
    "hello", "benchmarks.pipeline.hello", 8100, database=False, links=(), ready_path="/healthz"
)


@dataclass
class Step:
    """The per-step part: the four services and an SMTP sink on databases and topics of
    their own, as a :class:`Stack` on the run's PostgreSQL and broker."""

    tag: str
    root: Path
    stack: Stack
    mail: MailReader = field(init=False)

    def __post_init__(self) -> None:
        self.mail = MailReader(self.root / "mail")

    def url(self, service: str) -> str:
        return self.stack.url(service)

    @property
    def databases(self) -> list[str]:
        return [self.stack.database(service) for service in self.stack.databases]


class BenchStack:
    """The run's PostgreSQL and broker (a :class:`Stack` without services) for the whole
    benchmark; :meth:`start_step` adds a step's services, :meth:`start_hello` the
    hello-world anchor's server and :meth:`start_sink` the SMTP anchor's sink."""

    def __init__(self, root: Path, *, profile: bool = False) -> None:
        self.root = root
        self.profile = profile
        self.log_dir = root / "logs"
        # Not under the output folder: as root the server runs as its own account and needs
        # every folder above its data to be traversable.
        self._pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        # Durable, as `make dev` runs it: a commit waits for its WAL flush.
        self.servers = Stack(
            root,
            services=(),
            postgres=EmbeddedPostgres(
                self._pg_dir / "data",
                log_path=self.log_dir / "postgres.log",
                # Statement statistics only when profiling: they cost a little on every one.
                settings=profiling.PRELOAD if profile else None,
            ),
        )
        self.step: Step | None = None
        self._steps = 0
        self._hello: Stack | None = None
        self._anchor_sink: SmtpSink | None = None

    @property
    def postgres(self) -> EmbeddedPostgres:
        assert self.servers.postgres is not None
        return self.servers.postgres

    @property
    def bootstrap_servers(self) -> str:
        return self.servers.bootstrap_servers

    def start(self) -> None:
        """Blocking; call from the main thread (children die with the thread that forked them)."""
        self.servers.start_servers()

    def stop(self) -> None:
        """Stop everything started; never raises."""
        for stack in (self.step.stack if self.step else None, self._hello, self.servers):
            if stack is not None:
                stack.stop()
        self.step = self._hello = None
        self.stop_sink()
        shutil.rmtree(self._pg_dir, ignore_errors=True)

    # -- CPU ----------------------------------------------------------------------------------

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the stack, and by this process."""
        roots = self.servers.pids()
        if self.step is not None:
            roots.update(self.step.stack.pids())
        elif self._anchor_sink is not None:
            roots["sink"] = self._anchor_sink.pid
        if self._hello is not None:
            roots.update(self._hello.pids())
        seconds = cpu_seconds_by_root(roots)
        seconds["load generator"] = own_cpu_seconds()
        return seconds

    # -- one step -----------------------------------------------------------------------------

    async def start_step(self, ready_timeout: float = 180.0) -> Step:
        assert self.step is None, "one step at a time"
        self._steps += 1
        tag = f"s{self._steps}"
        root = self.root / tag
        stack = Stack(
            root,
            services=named(*SERVICES),
            postgres=self.servers.admin_url,
            broker=self.bootstrap_servers,
            # A process of its own, so its CPU is told apart from the load generator's.
            smtp=SmtpSink(maildir=root / "mail", process=True, log_path=root / "sink.log"),
            namespace=f"bench-{tag}.",
            database_suffix=f"_{tag}",
            settings=SERVICE_ENV,
        )
        self.step = Step(tag=tag, root=root, stack=stack)
        await stack.astart(ready_timeout)
        return self.step

    async def stop_step(self) -> None:
        step, self.step = self.step, None
        if step is not None:
            await step.stack.astop()

    async def transactions(self, databases: Iterable[str]) -> int:
        """Transactions committed so far in ``databases`` (PostgreSQL's statistics)."""
        conn = await asyncpg.connect(self.servers.admin_url)
        try:
            value = await conn.fetchval(
                "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database "
                "WHERE datname = ANY($1::text[])",
                list(databases),
            )
        finally:
            await conn.close()
        return int(value)

    async def caught_up(self, http: httpx.AsyncClient, step: Step) -> bool:
        """No outbox row pending anywhere and no consumer lag: the step starts from quiet."""
        total = 0.0
        for service in step.stack.urls.values():
            response = await http.get(f"{service}/metrics")
            for line in response.text.splitlines():
                if line.startswith(("mentorship_outbox_pending", "mentorship_consumer_lag")):
                    total += float(line.rsplit(" ", 1)[1])
        return total == 0

    # -- the hello-world anchor's server --------------------------------------------------------

    async def start_hello(self) -> str:
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        self._hello = Stack(
            self.root / "hello",
            services=(HELLO,),
            postgres=self.servers.admin_url,
            broker=self.bootstrap_servers,
            namespace="bench-hello.",
            settings={**SERVICE_ENV, "PYTHONPATH": path},
        )
        await self._hello.astart(60.0)
        return self._hello.url(HELLO.name)

    async def stop_hello(self) -> None:
        hello, self._hello = self._hello, None
        if hello is not None:
            await hello.astop()

    # -- the SMTP anchor's sink -----------------------------------------------------------------

    def start_sink(self) -> int:
        """A sink of its own for the SMTP anchor (outside any step); returns its port."""
        assert self.step is None, "the step has its own sink"
        root = self.root / "smtp-anchor"
        self._anchor_sink = SmtpSink(
            maildir=root / "mail", process=True, log_path=root / "sink.log"
        )
        self._anchor_sink.start()
        return self._anchor_sink.port

    def stop_sink(self) -> None:
        sink, self._anchor_sink = self._anchor_sink, None
        if sink is not None:
            sink.stop()


def wall_offset() -> float:
    """Add to a ``time.monotonic()`` reading to get epoch seconds (as the sink stamps mail)."""
    return time.time() - time.monotonic()
