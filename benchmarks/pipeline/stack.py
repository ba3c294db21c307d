"""The stack the pipeline benchmark drives, and what it costs in CPU.

PostgreSQL and the broker run for the whole benchmark; each load step gets the three services,
an SMTP sink and databases and topics of its own (a fresh state: no mentors or backlog left
over from the step before). Every process is a child started through `devstack.processes`
(its own process group, a parent-death signal), and :meth:`BenchStack.stop` stops all of them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from subprocess import Popen
from typing import IO

import asyncpg
import httpx
from devstack.broker import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port, spawn, stop_process, tail, wait_for_port
from devstack.supervisor import ProcessSpec, Supervisor
from mentorship_shared.contracts.topics import TOPIC_PARTITIONS, namespaced
from mentorship_shared.plumbing.broker import ensure_topics

SERVICES = ("profile", "matching", "notification")
HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]

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


# --- CPU time from /proc ---------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and of its children it has reaped)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = text.rsplit(")", 1)[1].split()
    # Fields 4 (ppid) and 14-17 (utime, stime, cutime, cstime) of proc(5), counted from 1.
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    return int(rest[1]), ticks / _TICKS


def cpu_by_root(roots: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds used so far by each named process and everything under it.

    Each live process counts its own time plus that of the children it reaped, so a
    PostgreSQL backend that exited since is still counted (in the postmaster's share)."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                table[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    result: dict[str, float] = {}
    for name, root in roots.items():
        total = 0.0
        todo = [root] if root is not None and root in table else []
        while todo:
            pid = todo.pop()
            total += table[pid][1]
            todo.extend(children.get(pid, []))
        result[name] = total
    return result


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


@dataclass
class Step:
    """The per-step part: three services, an SMTP sink, their databases and topics."""

    tag: str
    root: Path
    ports: dict[str, int]
    databases: dict[str, str]
    namespace: str
    sink_port: int
    sink: Popen[bytes] | None = None
    supervisor: Supervisor | None = None
    log: IO[str] | None = None
    mail: MailReader = field(init=False)

    def __post_init__(self) -> None:
        self.mail = MailReader(self.root / "mail")

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"


class BenchStack:
    """PostgreSQL and the broker for the whole run; :meth:`start_step` adds the rest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log_dir = root / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Not under the output folder: as root the server runs as its own account and needs
        # every folder above its data to be traversable.
        self._pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        # Durable, as `make dev` runs it: a commit waits for its WAL flush.
        self.postgres = EmbeddedPostgres(
            self._pg_dir / "data", log_path=self.log_dir / "postgres.log"
        )
        self.broker = EmbeddedKafka(log_path=self.log_dir / "kafka.log")
        self.step: Step | None = None
        self._steps = 0
        self._hello: Popen[bytes] | None = None
        self._anchor_sink: Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    def start(self) -> None:
        """Blocking; call from the main thread (children die with the thread that forked them)."""
        self.postgres.start()
        self.broker.start()

    def stop(self) -> None:
        """Stop everything started; never raises."""
        steps: list[Callable[[], object]] = [self.stop_step, self.stop_hello, self.stop_sink]
        steps += [self.broker.stop, self.postgres.stop]
        for action in steps:
            try:
                action()
            except Exception as error:  # keep stopping the rest
                print(f"bench stack: {action!r} failed while stopping: {error!r}", file=sys.stderr)
        shutil.rmtree(self._pg_dir, ignore_errors=True)

    # -- roots for CPU accounting -------------------------------------------------------------

    def cpu_roots(self) -> dict[str, int | None]:
        step = self.step
        roots: dict[str, int | None] = {"postgres": self.postgres.pid, "broker": self.broker.pid}
        for service in SERVICES:
            supervisor = step.supervisor if step is not None else None
            roots[service] = supervisor.pid(service) if supervisor is not None else None
        sink = step.sink if step is not None else self._anchor_sink
        roots["sink"] = sink.pid if sink is not None else None
        roots["hello"] = self._hello.pid if self._hello is not None else None
        return roots

    def cpu(self) -> dict[str, float]:
        seconds = cpu_by_root(self.cpu_roots())
        seconds["load generator"] = own_cpu_seconds()
        return seconds

    # -- one step -----------------------------------------------------------------------------

    async def start_step(self, ready_timeout: float = 180.0) -> Step:
        assert self.step is None, "one step at a time"
        self._steps += 1
        tag = f"s{self._steps}"
        root = self.root / tag
        (root / "mail").mkdir(parents=True, exist_ok=True)
        step = Step(
            tag=tag,
            root=root,
            ports={service: free_port() for service in SERVICES},
            databases={service: f"{service}_{tag}" for service in SERVICES},
            namespace=f"bench-{tag}.",
            sink_port=free_port(),
        )
        self.step = step
        for database in step.databases.values():
            self.postgres.ensure_database(database)
        await ensure_topics(
            self.bootstrap_servers,
            {namespaced(topic, step.namespace): n for topic, n in TOPIC_PARTITIONS.items()},
        )
        step.sink = _spawn_sink(step.sink_port, root)
        step.log = (root / "services.log").open("a", encoding="utf-8")
        specs = [
            ProcessSpec(
                name=service,
                argv=[sys.executable, "-m", f"{service}_service"],
                env={
                    **os.environ,
                    **SERVICE_ENV,
                    "DATABASE_URL": self.postgres.url(step.databases[service]),
                    "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                    "KAFKA_TOPIC_NAMESPACE": step.namespace,
                    "HTTP_PORT": str(step.ports[service]),
                    "SMTP_HOST": HOST,
                    "SMTP_PORT": str(step.sink_port),
                },
                ready_url=f"{step.url(service)}/readyz",
            )
            for service in SERVICES
        ]
        step.supervisor = Supervisor(specs, out=step.log, ready_interval=0.2)
        step.supervisor.start()
        ready = await asyncio.to_thread(step.supervisor.wait_ready, ready_timeout)
        if not ready:
            raise RuntimeError(
                f"services not ready after {ready_timeout:.0f} s: "
                f"{', '.join(step.supervisor.not_ready())}\n{tail(root / 'services.log', 40)}"
            )
        return step

    def stop_step(self) -> None:
        step, self.step = self.step, None
        if step is None:
            return
        try:
            if step.supervisor is not None:
                step.supervisor.stop()
        finally:
            if step.sink is not None:
                stop_process(step.sink)
            if step.log is not None:
                step.log.close()

    async def transactions(self, databases: Iterable[str]) -> int:
        """Transactions committed so far in ``databases`` (PostgreSQL's statistics)."""
        conn = await asyncpg.connect(self.postgres.admin_url)
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
        for service in SERVICES:
            response = await http.get(f"{step.url(service)}/metrics")
            for line in response.text.splitlines():
                if line.startswith(("mentorship_outbox_pending", "mentorship_consumer_lag")):
                    total += float(line.rsplit(" ", 1)[1])
        return total == 0

    # -- the hello-world anchor's server ----------------------------------------------------------

    def start_hello(self) -> str:
        port = free_port()
        env = {**os.environ, **SERVICE_ENV, "HTTP_PORT": str(port)}
        self._hello = spawn(
            [sys.executable, "-m", "benchmarks.pipeline.hello"],
            env=env,
            cwd=REPO,
            log_path=self.log_dir / "hello.log",
        )
        wait_for_port(HOST, port, 60.0, self._hello)
        return f"http://{HOST}:{port}"

    def stop_hello(self) -> None:
        proc, self._hello = self._hello, None
        if proc is not None:
            stop_process(proc)

    # -- the SMTP anchor's sink -----------------------------------------------------------------

    def start_sink(self) -> int:
        """A sink of its own for the SMTP anchor (outside any step); returns its port."""
        assert self.step is None, "the step has its own sink"
        port = free_port()
        self._anchor_sink = _spawn_sink(port, self.root / "smtp-anchor")
        return port

    def stop_sink(self) -> None:
        proc, self._anchor_sink = self._anchor_sink, None
        if proc is not None:
            stop_process(proc)


def _spawn_sink(port: int, root: Path) -> Popen[bytes]:
    """The dev SMTP sink as a process of its own, writing mail to ``root/mail``; once it listens."""
    (root / "mail").mkdir(parents=True, exist_ok=True)
    sink = spawn(
        [
            *(sys.executable, "-m", "devstack.smtp_sink", "--host", HOST),
            *("--port", str(port), "--maildir", str(root / "mail")),
        ],
        log_path=root / "sink.log",
    )
    wait_for_port(HOST, port, 30.0, sink)
    return sink


def wall_offset() -> float:
    """Add to a ``time.monotonic()`` reading to get epoch seconds (as the sink stamps mail)."""
    return time.time() - time.monotonic()
