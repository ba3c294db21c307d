"""Pipeline benchmark: registrations through the public HTTP API, open loop at rising rates, until
both proposal mails reach the SMTP sink; set against the machine's own anchors.

    make bench                                            # default rates, 60 s each
    .venv/bin/python -m benchmarks.pipeline --quick --output /tmp/pipeline.md

For each rate it starts the three services (with an SMTP sink, databases and topics of their
own) on one embedded PostgreSQL and one Tansu broker, registers enough mentors for every
mentee of the step, then sends mentee registrations at the rate for the step's duration and
waits for the mail. It measures registrations accepted a second, the latency from the moment
a registration was due to leave to the later of its two mails (the mentee's and the mentor's),
registrations accepted whose mail never came, and the CPU time of every process of the stack
per registration. It stops after the first rate that fails (p99 at or above 1 s, a lost or
refused registration, or fewer than 95% of the offered registrations accepted a second).

Anchors, in the same run with the same tools: an aiokafka round trip through the same broker,
an asyncpg transaction writing a row plus an outbox row on the same PostgreSQL, and a FastAPI
hello-world served by the services' entry point and driven by the same load generator. The
report gives the pipeline's figures as ratios to them. It prints figures; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
from devstack.http_client import KeepAliveClient
from devstack.load import LoadDriver, Registration

from benchmarks.pipeline_anchors import kafka_anchor, postgres_anchor, smtp_anchor, summary_ms
from benchmarks.pipeline_report import (
    ACCEPTED_SHARE,
    CAPACITY,
    LATE_AFTER,
    P99_LIMIT,
    STACK_PARTS,
    fmt_ms,
    fmt_rate,
    plot_latency,
    render,
)
from benchmarks.pipeline_stack import HOST, SERVICE_ENV, BenchStack, Step, wall_offset

DEFAULT_OUTPUT = Path("docs/benchmarks/pipeline.md")
# Connections the load generator keeps open to the server under load (the same for the
# pipeline and the hello-world anchor, as are the client and the open-loop schedule).
LOAD_CONNECTIONS = 256
MENTOR_MAIL = re.compile(r"^A new mentee for you: Engineer (\S+)$")
MENTEE_MAIL = "could be your product-management mentor"


@dataclass(frozen=True)
class Plan:
    rates: tuple[float, ...] | None  # explicit rates, or start * factor^n up to max_rate
    start: float = 5.0
    factor: float = 2.0
    max_rate: float = 640.0
    duration: float = 60.0
    drain: float = 60.0
    hello_start: float = 50.0
    hello_max: float = 6400.0
    refine: int = 1
    anchor_duration: float = 20.0
    kafka_round_trips: int = 300
    kafka_burst: int = 5000
    pg_sequential: int = 1000
    pg_concurrent: int = 5000
    pg_connections: int = 10
    smtp_sequential: int = 300
    smtp_concurrent: int = 3000
    smtp_connections: int = 4  # the notification service's MAIL_SEND_CONCURRENCY

    def pipeline_rates(self) -> list[float]:
        if self.rates:
            return list(self.rates)
        return _rising(self.start, self.factor, self.max_rate)

    def hello_rates(self) -> list[float]:
        return _rising(self.hello_start, self.factor, self.hello_max)


def _rising(start: float, factor: float, top: float) -> list[float]:
    rates = [start]
    while rates[-1] * factor <= top * 1.0001:
        rates.append(rates[-1] * factor)
    return rates


QUICK = Plan(
    rates=(2.0, 4.0),
    duration=5.0,
    drain=30.0,
    hello_start=50.0,
    hello_max=100.0,
    anchor_duration=3.0,
    refine=0,
    kafka_round_trips=30,
    kafka_burst=500,
    pg_sequential=100,
    pg_concurrent=500,
    smtp_sequential=30,
    smtp_concurrent=200,
)


# --- progress ----------------------------------------------------------------------------------


class Bar:
    """One progress bar on stderr: redrawn in place on a terminal, a line every 10 s otherwise."""

    def __init__(self, label: str, total: float, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        # Not a terminal (a log file, CI): the first line after 10 s, not at once.
        self._drawn = 0.0 if self.live else time.monotonic()

    def update(self, done: float, detail: str = "") -> None:
        now = time.monotonic()
        if now - self._drawn < (0.25 if self.live else 10.0):
            return
        self._drawn = now
        share = min(max(done / self.total, 0.0), 1.0)
        filled = int(share * 24)
        line = f"  {self.label} [{'#' * filled}{'.' * (24 - filled)}] {share:4.0%}  {detail}"
        if self.live:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, detail: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(f"  {self.label}: {detail}\n")
        self.stream.flush()


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- one open-loop load step -------------------------------------------------------------------


@dataclass
class LoadOutcome:
    rate: float
    duration: float
    registrations: list[Registration] = field(default_factory=list)

    @property
    def accepted(self) -> list[Registration]:
        return [r for r in self.registrations if r.outcome in ("created", "created_earlier")]

    def figures(self) -> dict[str, Any]:
        sent = self.registrations
        answered = [
            r.answered_at - r.scheduled_at
            for r in self.accepted
            if r.answered_at is not None and r.scheduled_at is not None
        ]
        return {
            "rate": self.rate,
            "duration": self.duration,
            "sent": len(sent),
            "late": sum(
                1
                for r in sent
                if r.scheduled_at is not None and r.started_at - r.scheduled_at > LATE_AFTER
            ),
            "accepted": len(self.accepted),
            "accepted_per_second": len(self.accepted) / self.duration,
            "refused": sum(1 for r in sent if r.outcome == "refused"),
            "gave_up": sum(1 for r in sent if r.outcome in ("gave_up", "pending")),
            "retried": sum(1 for r in sent if r.attempts > 1),
            "http": summary_ms(answered),
        }


async def drive(
    driver: LoadDriver, rate: float, duration: float, label: str, mail: Any = None
) -> LoadOutcome:
    """Send mentee registrations at ``rate`` for ``duration`` seconds, then wait for answers."""
    bar = Bar(label, duration)
    driver.start(rate)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < duration:
        await asyncio.sleep(min(0.25, duration - elapsed))
        mentees = driver.mentees
        created = sum(1 for r in mentees if r.outcome == "created")
        mails = f", mails {mail.count():,}" if mail is not None else ""
        bar.update(
            time.monotonic() - started,
            f"{time.monotonic() - started:.0f}/{duration:.0f} s, sent {len(mentees):,}, "
            f"201 {created:,}{mails}",
        )
    await driver.stop()
    outcome = LoadOutcome(rate, duration, driver.mentees)
    bar.close(
        f"sent {len(outcome.registrations):,} in {duration:.0f} s, "
        f"{len(outcome.accepted):,} accepted"
    )
    return outcome


# --- a pipeline step ---------------------------------------------------------------------------


def _mail_times(step: Step) -> tuple[dict[str, float], dict[str, float]]:
    """The first proposal mail to each mentee, and the first naming each mentee to a mentor."""
    to_mentee: dict[str, float] = {}
    to_mentor: dict[str, float] = {}
    for mail in step.mail.mails:
        if MENTEE_MAIL in mail.subject:
            to_mentee[mail.to] = min(mail.received_at, to_mentee.get(mail.to, math.inf))
        elif found := MENTOR_MAIL.match(mail.subject):
            email = f"{found.group(1)}@example.com".lower()
            to_mentor[email] = min(mail.received_at, to_mentor.get(email, math.inf))
    return to_mentee, to_mentor


async def pipeline_step(
    stack: BenchStack, http: httpx.AsyncClient, plan: Plan, rate: float, index: int
) -> dict[str, Any]:
    label = f"step {index} ({fmt_rate(rate)}/s)"
    note(f"{label}: starting the services")
    step = await stack.start_step()
    try:
        mentees_planned = math.ceil(rate * plan.duration)
        mentors = math.ceil(mentees_planned * 1.1 / CAPACITY) + 2
        load_http = KeepAliveClient(step.url("profile"), max_connections=LOAD_CONNECTIONS)
        driver = LoadDriver(
            load_http, step.url("profile"), run=f"{step.tag}x{os.getpid()}", seed=index
        )
        note(f"{label}: registering {mentors:,} mentors ({CAPACITY} slots each)")
        await driver.register_mentors([CAPACITY] * mentors, concurrency=16)
        deadline = time.monotonic() + 180
        while not await stack.caught_up(http, step):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: the mentors' events were not consumed in 180 s")
            await asyncio.sleep(0.5)
        offset = wall_offset()
        tx_before = await stack.transactions(step.databases.values())
        cpu_before = stack.cpu()
        outcome = await drive(driver, rate, plan.duration, f"{label} load", step.mail)
        load_end = time.monotonic()
        figures = outcome.figures()

        # Drain: until every accepted mentee has both mails, or the drain time is up.
        accepted = {r.email.lower(): r for r in outcome.accepted}
        bar = Bar(f"{label} mail", len(accepted))
        complete: dict[str, float] = {}
        while True:
            step.mail.read_new()
            to_mentee, to_mentor = _mail_times(step)
            complete = {
                email: max(to_mentee[email], to_mentor[email])
                for email in accepted
                if email in to_mentee and email in to_mentor
            }
            waited = time.monotonic() - load_end
            bar.update(
                len(complete),
                f"{len(complete):,}/{len(accepted):,} with both mails, {waited:.0f} s",
            )
            if len(complete) == len(accepted) or waited > plan.drain:
                break
            await asyncio.sleep(0.5)
        drained = time.monotonic() - load_end
        bar.close(f"{len(complete):,}/{len(accepted):,} with both mails {drained:.1f} s after")
        cpu_after = stack.cpu()
        # The statistics collector reports a backend's commits within a second.
        await asyncio.sleep(1.0)
        tx_after = await stack.transactions(step.databases.values())
        await load_http.aclose()
    finally:
        stack.stop_step()

    latencies = [
        complete[email] - (registration.scheduled_at + offset)
        for email, registration in accepted.items()
        if email in complete and registration.scheduled_at is not None
    ]
    cpu = {part: cpu_after.get(part, 0.0) - cpu_before.get(part, 0.0) for part in cpu_after}
    n = max(len(accepted), 1)
    stack_cpu = sum(cpu.get(part, 0.0) for part in STACK_PARTS)
    figures.update(
        mentors=mentors,
        mails=len(step.mail.mails),
        delivered=len(complete),
        lost=len(accepted) - len(complete),
        drain_seconds=drained,
        latency=summary_ms(latencies),
        cpu_seconds=cpu,
        cpu_ms_per_registration=stack_cpu / n * 1000,
        cpu_share={part: cpu.get(part, 0.0) / stack_cpu if stack_cpu else 0.0 for part in cpu},
        transactions_per_registration=(tx_after - tx_before) / n,
        wall_seconds=plan.duration + drained,
    )
    figures["passed"], figures["verdict"] = verdict(figures, figures["latency"]["p99_ms"])
    note(
        f"{label}: accepted {figures['accepted_per_second']:.1f}/s, latency p50 "
        f"{fmt_ms(figures['latency']['p50_ms'])}, p99 {fmt_ms(figures['latency']['p99_ms'])}, lost "
        f"{figures['lost']}, CPU {figures['cpu_ms_per_registration']:.1f} ms a registration: "
        f"{figures['verdict']}"
    )
    return figures


def verdict(figures: dict[str, Any], p99_ms: float) -> tuple[bool, str]:
    reasons = []
    if math.isnan(p99_ms) or p99_ms >= P99_LIMIT * 1000:
        reasons.append(f"p99 {fmt_ms(p99_ms)}")
    if figures.get("lost"):
        reasons.append(f"{figures['lost']} lost")
    if figures["refused"] or figures["gave_up"]:
        reasons.append(f"{figures['refused'] + figures['gave_up']} refused or unanswered")
    if figures["accepted_per_second"] < ACCEPTED_SHARE * figures["rate"]:
        reasons.append(f"accepted {figures['accepted_per_second']:.1f}/s")
    return (not reasons, "sustained" if not reasons else "not sustained: " + ", ".join(reasons))


# --- the hello-world anchor --------------------------------------------------------------------


async def hello_step(
    stack: BenchStack, http: httpx.AsyncClient, url: str, plan: Plan, rate: float, index: int
) -> dict[str, Any]:
    label = f"hello-world {fmt_rate(rate)}/s"
    async with KeepAliveClient(url, max_connections=LOAD_CONNECTIONS) as load_http:
        driver = LoadDriver(load_http, url, run=f"h{index}", seed=index)
        cpu_before = stack.cpu()
        outcome = await drive(driver, rate, plan.anchor_duration, label)
        cpu_after = stack.cpu()
    figures = outcome.figures()
    n = max(figures["accepted"], 1)
    figures["cpu_ms_per_request"] = (cpu_after["hello"] - cpu_before["hello"]) / n * 1000
    figures["generator_cpu_ms_per_request"] = (
        (cpu_after["load generator"] - cpu_before["load generator"]) / n * 1000
    )
    figures["passed"], figures["verdict"] = verdict(figures, figures["http"]["p99_ms"])
    note(
        f"  {label}: accepted {figures['accepted_per_second']:.0f}/s, p50 "
        f"{fmt_ms(figures['http']['p50_ms'])}, p99 {fmt_ms(figures['http']['p99_ms'])}: "
        f"{figures['verdict']}"
    )
    return figures


# --- the run -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = math.nan
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024 / 1024
    commit = "unknown"
    git = shutil.which("git")
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        assert git is not None
        commit = subprocess.run(  # noqa: S603 - fixed argv
            [git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - fixed argv
            [git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


async def run_async(stack: BenchStack, plan: Plan) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        note("anchor: Kafka round trips on the same broker")
        figures["kafka"] = await kafka_anchor(
            stack.bootstrap_servers,
            round_trips=plan.kafka_round_trips,
            burst=plan.kafka_burst,
            cpu=stack.cpu,
        )
        note("anchor: asyncpg row-plus-outbox transactions on the same PostgreSQL")
        stack.postgres.ensure_database("anchor")
        figures["postgres"] = await postgres_anchor(
            stack.postgres.url("anchor"),
            sequential=plan.pg_sequential,
            concurrent=plan.pg_concurrent,
            connections=plan.pg_connections,
            cpu=stack.cpu,
        )
        note("anchor: the notification service's mailer sending to an SMTP sink")
        sink_port = stack.start_sink()
        try:
            figures["smtp"] = await smtp_anchor(
                HOST,
                sink_port,
                sequential=plan.smtp_sequential,
                concurrent=plan.smtp_concurrent,
                connections=plan.smtp_connections,
                cpu=stack.cpu,
            )
        finally:
            stack.stop_sink()
        note("anchor: FastAPI hello-world, same entry point and load generator")
        url = stack.start_hello()
        try:
            figures["hello"] = await rising(
                plan.hello_rates(),
                plan.refine,
                lambda rate, index: hello_step(stack, http, url, plan, rate, index),
            )
        finally:
            stack.stop_hello()
        rates = plan.pipeline_rates()
        note(f"pipeline: rates {', '.join(fmt_rate(r) for r in rates)} a second, until one fails")
        figures["steps"] = await rising(
            rates,
            plan.refine,
            lambda rate, index: pipeline_step(stack, http, plan, rate, index),
        )
    return figures


async def rising(
    rates: Sequence[float],
    refine: int,
    step: Callable[[float, int], Awaitable[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Steps at ``rates`` until one is not sustained; then ``refine`` more between the last
    sustained rate and the first that was not (geometric midpoints). Sorted by rate."""
    results: list[dict[str, Any]] = []
    passed: float | None = None
    failed: float | None = None
    for rate in rates:
        results.append(await step(rate, len(results) + 1))
        if not results[-1]["passed"]:
            failed = rate
            break
        passed = rate
    for _ in range(refine):
        if passed is None or failed is None:
            break
        rate = _round_rate(math.sqrt(passed * failed))
        if not passed < rate < failed:
            break
        results.append(await step(rate, len(results) + 1))
        if results[-1]["passed"]:
            passed = rate
        else:
            failed = rate
    return sorted(results, key=lambda row: float(row["rate"]))


def _round_rate(rate: float) -> float:
    """Two significant digits: 14 rather than 14.142."""
    digits = 1 - math.floor(math.log10(rate))
    return round(rate, max(digits, 0))


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.monotonic()
    stack = BenchStack(work_dir)
    try:
        note(f"starting PostgreSQL and the broker (logs in {stack.log_dir})")
        stack.start()
        figures = asyncio.run(run_async(stack, plan))
    finally:
        note("stopping the stack")
        stack.stop()
    figures["machine"] = machine()
    figures["load_before"] = load_before
    figures["load_after"] = os.getloadavg()
    figures["seconds"] = time.monotonic() - started
    figures["plan"] = asdict(plan)
    return figures


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline",
        description=(
            "Drive registrations through the whole stack (embedded PostgreSQL, Tansu, SMTP sink, "
            "the three services) open loop at rising rates; measure accepted rate, latency to "
            "both proposal mails, lost registrations and CPU per registration; find the highest "
            "rate sustained with p99 under 1 s; measure Kafka, PostgreSQL and hello-world "
            "anchors; write a Markdown report and a latency plot."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    full = Plan(rates=None)
    parser.add_argument(
        "--quick", action="store_true", help="tiny rates and seconds-long steps (a smoke run)"
    )
    parser.add_argument(
        "--rates", help="comma-separated rates a second (instead of --start/--factor/--max-rate)"
    )
    parser.add_argument("--start", type=float, help=f"first rate a second (full {full.start:g})")
    parser.add_argument("--factor", type=float, help=f"rate growth per step ({full.factor:g})")
    parser.add_argument("--max-rate", type=float, help=f"highest rate ({full.max_rate:g})")
    parser.add_argument(
        "--duration", type=float, default=None, help=f"seconds per step (full {full.duration:g})"
    )
    parser.add_argument(
        "--drain", type=float, default=None, help=f"seconds to wait for mail (full {full.drain:g})"
    )
    parser.add_argument(
        "--anchor-duration",
        type=float,
        default=None,
        help=f"seconds per hello-world step (full {full.anchor_duration:g})",
    )
    parser.add_argument(
        "--hello-max",
        type=float,
        default=None,
        help=f"highest hello-world rate ({full.hello_max:g})",
    )
    parser.add_argument(
        "--refine",
        type=int,
        default=None,
        help=f"steps between the last sustained rate and the first not ({full.refine})",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the three services (repeatable), to measure what one change buys, "
        "e.g. CONSUMER_BATCH_SIZE=1; the report lists it with the others",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report")
    parser.add_argument(
        "--plot", type=Path, default=None, help="PNG plot (default: <output stem>-latency.png)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path("var/bench/pipeline"),
        help="logs and mail of the run",
    )
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else Plan(rates=None)
    changes: dict[str, Any] = {}
    if args.rates:
        changes["rates"] = tuple(float(r) for r in args.rates.split(",") if r.strip())
    elif any(getattr(args, name) is not None for name in ("start", "factor", "max_rate")):
        changes["rates"] = None
    for name in (
        "start",
        "factor",
        "max_rate",
        "duration",
        "drain",
        "anchor_duration",
        "hello_max",
        "refine",
    ):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    plan = Plan(**{**asdict(base), **changes})
    if any(rate <= 0 for rate in plan.pipeline_rates()) or (plan.factor <= 1 and not plan.rates):
        raise SystemExit("rates must be positive and --factor above 1")
    if plan.duration <= 0 or plan.anchor_duration <= 0:
        raise SystemExit("--duration and --anchor-duration must be positive")
    return plan


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for item in args.service_env:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SystemExit(f"--service-env takes NAME=VALUE, not {item!r}")
        SERVICE_ENV[name.strip().upper()] = value
    # Ctrl-C or a SIGTERM unwinds through run()'s finally, which stops every process (even
    # when started in the background, where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    plan = plan_from(args)
    output: Path = args.output
    plot: Path = args.plot or output.with_name(f"{output.stem}-latency.png")
    work_dir = Path(args.work_dir) / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        figures = run(plan, work_dir)
    except KeyboardInterrupt as stop:
        note(f"interrupted ({stop}); every process the benchmark started is stopped, no report")
        return 130
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    command = f"python -m benchmarks.pipeline {flags}".strip()
    if figures["steps"]:
        plot_latency(figures, plot)
    report = render(figures, command, plot if figures["steps"] else None)
    print(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    note(f"report written to {output}, plot to {plot}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
