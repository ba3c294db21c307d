"""The steps at one rate. A pipeline step: fresh services, mentors enough for the step, then
mentee registrations open loop at the rate until both proposal mails of every accepted mentee
reach the SMTP sink; its latency, losses, CPU and transactions a registration. A hello-world
step: the same load generator against the hello-world anchor's server."""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
from devstack.http_client import KeepAliveClient
from devstack.load import LoadDriver

from benchmarks.pipeline import profiling
from benchmarks.pipeline.anchors import summary_ms
from benchmarks.pipeline.open_loop import LOAD_CONNECTIONS, drive, verdict
from benchmarks.pipeline.plan import Plan
from benchmarks.pipeline.report import CAPACITY, STACK_PARTS, fmt_ms, fmt_rate
from benchmarks.pipeline.stack import SERVICES, BenchStack, Step, wall_offset
from benchmarks.progress import Progress, note

MENTOR_MAIL = re.compile(r"^A new mentee for you: Engineer (\S+)$")
MENTEE_MAIL = "could be your product-management mentor"


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
        if plan.profile:
            await profiling.reset_statements(stack.servers.admin_url)
        tx_before = await stack.transactions(step.databases)
        cpu_before = stack.cpu()
        sampling = (
            asyncio.create_task(_sample(stack, step, plan, lambda: driver.mentees))
            if plan.profile
            else None
        )
        outcome = await drive(driver, rate, plan.duration, f"{label} load", step.mail)
        load_end = time.monotonic()
        figures = outcome.figures()

        # Drain: until every accepted mentee has both mails, or the drain time is up.
        accepted = {r.email.lower(): r for r in outcome.accepted}
        bar = Progress(f"{label} mail", len(accepted))
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
        tx_after = await stack.transactions(step.databases)
        await load_http.aclose()
        if sampling is not None:
            sampled = await sampling
            statements = await profiling.read_statements(stack.servers.admin_url, step.databases)
    finally:
        await stack.stop_step()

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
    if sampling is not None:
        calls: dict[str, float] = {}
        for statement in statements:
            calls[statement.database] = calls.get(statement.database, 0.0) + statement.calls / n
        figures["statements_per_registration"] = calls
        page = step.root / "profile.md"
        page.write_text(
            profiling.summarise(
                sampled.stacks,
                statements,
                registrations=len(accepted),
                cpu_seconds={part: seconds / n * 1000 for part, seconds in cpu.items()},
                postgres=sampled.postgres,
                sampled_registrations=sampled.registrations,
            ),
            encoding="utf-8",
        )
        note(f"{label}: profile in {page}")
    note(
        f"{label}: accepted {figures['accepted_per_second']:.1f}/s, latency p50 "
        f"{fmt_ms(figures['latency']['p50_ms'])}, p99 {fmt_ms(figures['latency']['p99_ms'])}, lost "
        f"{figures['lost']}, CPU {figures['cpu_ms_per_registration']:.1f} ms a registration: "
        f"{figures['verdict']}"
    )
    return figures


@dataclass
class _Sampled:
    stacks: dict[str, profiling.StackProfile]
    postgres: dict[str, float]
    registrations: int


async def _sample(stack: BenchStack, step: Step, plan: Plan, mentees: Any) -> _Sampled:
    """py-spy on every service of the step through the middle of the load: after a fifth of
    it (the consumers' first fetches and the pools' first connections are past) for half of
    it; and the CPU of each PostgreSQL process meanwhile."""
    await asyncio.sleep(plan.duration * 0.2)
    pids = {
        name: pid for name, pid in step.stack.pids().items() if pid is not None and name in SERVICES
    }
    postmaster = stack.postgres.pid
    assert postmaster is not None
    pg_before, sent_before = profiling.postgres_cpu(postmaster), len(mentees())
    files = await profiling.record(pids, plan.duration * 0.5, step.root / "profile")
    pg_after, sent_after = profiling.postgres_cpu(postmaster), len(mentees())
    return _Sampled(
        {name: profiling.parse_collapsed(path.read_text()) for name, path in files.items()},
        profiling.postgres_cpu_by_label(pg_before, pg_after),
        sent_after - sent_before,
    )


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
