"""`python -m benchmarks.pipeline`: the options, the anchors and the rising pipeline steps on
one stack that is stopped whatever happens (an error, Ctrl-C, SIGTERM), and the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from devstack.stack import interrupt_on_signals

from benchmarks.machine import describe
from benchmarks.pipeline.anchors import kafka_anchor, postgres_anchor, smtp_anchor
from benchmarks.pipeline.open_loop import rising
from benchmarks.pipeline.plan import QUICK, Plan
from benchmarks.pipeline.report import fmt_rate, plot_latency, render
from benchmarks.pipeline.stack import HOST, SERVICE_ENV, BenchStack
from benchmarks.pipeline.steps import hello_step, pipeline_step
from benchmarks.progress import note

DEFAULT_OUTPUT = Path("docs/benchmarks/pipeline.md")


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
        url = await stack.start_hello()
        try:
            figures["hello"] = await rising(
                plan.hello_rates(),
                plan.refine,
                lambda rate, index: hello_step(stack, http, url, plan, rate, index),
            )
        finally:
            await stack.stop_hello()
        rates = plan.pipeline_rates()
        note(f"pipeline: rates {', '.join(fmt_rate(r) for r in rates)} a second, until one fails")
        figures["steps"] = await rising(
            rates,
            plan.refine,
            lambda rate, index: pipeline_step(stack, http, plan, rate, index),
        )
    return figures


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.monotonic()
    stack = BenchStack(work_dir, profile=plan.profile)
    # Ctrl-C or a SIGTERM unwinds through the finally, which stops every process (even when
    # started in the background, where a shell leaves SIGINT ignored).
    with interrupt_on_signals() as stopping:
        try:
            note(f"starting PostgreSQL and the broker (logs in {stack.log_dir})")
            stack.start()
            figures = asyncio.run(run_async(stack, plan))
        finally:
            stopping()
            note("stopping the stack")
            stack.stop()
    figures["machine"] = describe()
    figures["load_before"] = load_before
    figures["load_after"] = os.getloadavg()
    figures["seconds"] = time.monotonic() - started
    figures["plan"] = asdict(plan)
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline",
        description=(
            "Drive registrations through the whole stack (embedded PostgreSQL, Tansu, SMTP sink, "
            "the four services) open loop at rising rates; measure accepted rate, latency to "
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
        help="a setting for the four services (repeatable), to measure what one change buys, "
        "e.g. CONSUMER_BATCH_SIZE=1; the report lists it with the others",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample every service with py-spy through the middle of each step's load and count "
        "PostgreSQL's statements; writes profile.md beside each step's logs",
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
    changes["profile"] = args.profile
    plan = Plan(**{**asdict(base), **changes})
    if any(rate <= 0 for rate in plan.pipeline_rates()) or (plan.factor <= 1 and not plan.rates):
        raise SystemExit("rates must be positive and --factor above 1")
    if plan.duration <= 0 or plan.anchor_duration <= 0:
        raise SystemExit("--duration and --anchor-duration must be positive")
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for item in args.service_env:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SystemExit(f"--service-env takes NAME=VALUE, not {item!r}")
        SERVICE_ENV[name.strip().upper()] = value
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
