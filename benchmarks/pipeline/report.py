"""The pipeline benchmark's criteria and report: the Markdown tables, the ratios to the anchors
and the latency plot, from the figures `benchmarks.pipeline` measured (also as its --json)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.machine import markdown_rows
from benchmarks.pipeline.stack import SERVICE_ENV

#: Slots per mentor (the API's maximum): fewer mentors for the same number of mentees.
CAPACITY = 10
#: A step passes when p99 stays under this many seconds, nothing is lost or refused, and...
P99_LIMIT = 1.0
#: ...at least this share of the offered registrations is accepted a second.
ACCEPTED_SHARE = 0.95
#: A registration leaving this much after its due time counts as late (the generator lagged).
LATE_AFTER = 0.1

STACK_PARTS = ("profile", "matching", "notification", "mentorship", "postgres", "broker")

#: What the pipeline is asked for, as ratios to the anchors' floor measured in the same run (so
#: that a faster or slower machine does not move the goal): the highest rate sustained is at
#: least this share of the rate the floor allows...
TARGET_RATE_SHARE = 0.30
#: ...and a registration costs at most this multiple of the floor's CPU.
TARGET_CPU_MULTIPLE = 3.0


# --- the report --------------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def fmt_rate(rate: float) -> str:
    return f"{rate:g}"


def best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    passed = [row for row in rows if row["passed"]]
    return max(passed, key=lambda row: row["rate"]) if passed else None


#: Row-plus-outbox transactions, events and mails a registration needs at the least: the
#: registration, the proposal, the mail intents and one send per mail; MenteeRegistered,
#: MatchProposed and a NotificationSent per mail; a mail to each side.
FLOOR_TRANSACTIONS, FLOOR_EVENTS, FLOOR_MAILS = 5, 4, 2


def ratios(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, value, how it is computed) for each ratio of the pipeline to an anchor."""
    rows: list[tuple[str, str, str]] = []
    steps, hello = figures["steps"], figures["hello"]
    kafka, pg = figures["kafka"], figures["postgres"]
    top, hello_top = best(steps), best(hello)
    if top is not None and hello_top is not None:
        rows.append(
            (
                "highest sustained rate / hello-world's",
                f"{top['rate'] / hello_top['rate']:.3f}",
                f"{fmt_rate(top['rate'])}/s against {fmt_rate(hello_top['rate'])}/s, same load "
                "generator, same criterion (p99 under 1 s, nothing lost or refused)",
            )
        )
    if steps:
        first = steps[0]
        # CPU and transactions: the highest sustained step (at low rates the services' idle
        # polling is spread over few registrations); latency: the first (least queueing).
        busy = top if top is not None else first
        tx = busy["transactions_per_registration"]
        if tx > 0 and top is not None:
            ceiling = pg["concurrent_per_second"] / tx
            rows.append(
                (
                    "highest sustained rate / PostgreSQL ceiling",
                    f"{top['rate'] / ceiling:.3f}",
                    f"the pipeline commits {tx:.1f} transactions a registration (at "
                    f"{fmt_rate(busy['rate'])}/s, idle polling and pool resets included); at "
                    f"{pg['concurrent_per_second']:,.0f} row-plus-outbox transactions a second "
                    f"that allows {ceiling:,.0f} registrations a second",
                )
            )
        floor_ms = (
            (hello[0]["http"]["p50_ms"] if hello else 0.0)
            + 2 * kafka["p50_ms"]
            + FLOOR_TRANSACTIONS * pg["p50_ms"]
        )
        rows.append(
            (
                "latency p50 / the anchors' floor",
                f"{first['latency']['p50_ms'] / floor_ms:.1f}x",
                f"{fmt_ms(first['latency']['p50_ms'])} at {fmt_rate(first['rate'])}/s against "
                f"{fmt_ms(floor_ms)}: one hello-world request, 2 Kafka round trips (profile to "
                f"matching, matching to notification) and {FLOOR_TRANSACTIONS} row-plus-outbox "
                "transactions (registration, proposal, mail intents, two sends): the critical "
                "path without "
                "scoring, rendering, SMTP and the waits between stages",
            )
        )
        hello_busy = hello_top if hello_top is not None else (hello[0] if hello else None)
        if hello_busy is not None and hello_busy["cpu_ms_per_request"] > 0:
            rows.append(
                (
                    "CPU a registration / hello-world's CPU a request",
                    f"{busy['cpu_ms_per_registration'] / hello_busy['cpu_ms_per_request']:.0f}x",
                    f"{busy['cpu_ms_per_registration']:.1f} ms (every process of the stack, at "
                    f"{fmt_rate(busy['rate'])}/s) against {hello_busy['cpu_ms_per_request']:.2f} ms "
                    f"(the hello-world server, at {fmt_rate(hello_busy['rate'])}/s)",
                )
            )
        per_transaction = pg["cpu_ms_per_transaction"]["postgres"]
        if per_transaction > 0:
            postgres_ms = busy["cpu_seconds"].get("postgres", 0.0) / max(busy["accepted"], 1) * 1000
            rows.append(
                (
                    "PostgreSQL CPU a registration / a row-plus-outbox transaction's",
                    f"{postgres_ms / per_transaction:.1f}x",
                    f"{postgres_ms:.2f} ms against {per_transaction:.2f} ms",
                )
            )
        floor = cpu_floor(figures)
        if floor is not None and busy["cpu_ms_per_registration"] > 0:
            cores = figures["machine"]["cores"] or 1
            rows.append(
                (
                    "CPU a registration / the anchors' floor",
                    f"{busy['cpu_ms_per_registration'] / floor.stack_ms:.1f}x",
                    f"{busy['cpu_ms_per_registration']:.1f} ms (at {fmt_rate(busy['rate'])}/s, "
                    f"the sink and load generator apart) against {floor.stack_ms:.2f} ms: "
                    f"{floor.parts}",
                )
            )
            machine_ms = busy_machine_ms(busy)
            rows.append(
                (
                    "registrations a second the anchors' floor allows",
                    f"{cores * 1000 / floor.machine_ms:,.0f}",
                    f"{cores} cores / {floor.machine_ms:.2f} ms, the floor with the sink's share "
                    f"of each mail and the load generator's of each request added, as they share "
                    f"the cores in every step: the ceiling of a pipeline doing nothing but these "
                    f"tools' work (measured the same way, this pipeline spends "
                    f"{machine_ms:.1f} ms, which allows {cores * 1000 / machine_ms:,.0f})",
                )
            )
    return rows


@dataclass(frozen=True)
class Target:
    """One target of the pipeline against the anchors' floor, and whether this run met it."""

    what: str
    measured: str
    target: str
    holds: bool | None  # None: this run could not measure it
    how: str


def targets(figures: dict[str, Any]) -> list[Target]:
    """The two targets: the highest sustained rate as a share of the rate the anchors' floor
    allows, and CPU a registration as a multiple of the floor's (at the highest sustained
    rate, or the first step's when none was sustained)."""
    floor = cpu_floor(figures)
    steps = figures["steps"]
    top = best(steps)
    busy = top if top is not None else (steps[0] if steps else None)
    cores = figures["machine"]["cores"] or 1
    rate_target = f"at least {TARGET_RATE_SHARE:.2f}"
    cpu_target = f"at most {TARGET_CPU_MULTIPLE:g}x"
    rate_what = "highest sustained rate / the rate the anchors' floor allows"
    cpu_what = "CPU a registration / the anchors' floor"
    if floor is None or busy is None:
        why = "no sustained hello-world step, so no floor" if floor is None else "no step"
        return [
            Target(rate_what, "-", rate_target, None, why),
            Target(cpu_what, "-", cpu_target, None, why),
        ]
    allowed = cores * 1000 / floor.machine_ms
    sustained = top["rate"] if top is not None else 0.0
    share = sustained / allowed
    multiple = busy["cpu_ms_per_registration"] / floor.stack_ms
    return [
        Target(
            rate_what,
            f"{share:.2f}",
            rate_target,
            share >= TARGET_RATE_SHARE,
            f"{fmt_rate(sustained)}/s sustained (p99 under {P99_LIMIT:g} s, nothing lost) "
            f"against {allowed:,.0f}/s ({cores} cores / {floor.machine_ms:.2f} ms); the target "
            f"asks for {TARGET_RATE_SHARE * allowed:,.0f}/s",
        ),
        Target(
            cpu_what,
            f"{multiple:.1f}x",
            cpu_target,
            multiple <= TARGET_CPU_MULTIPLE,
            f"{busy['cpu_ms_per_registration']:.1f} ms at {fmt_rate(busy['rate'])}/s against "
            f"{floor.stack_ms:.2f} ms; the target asks for "
            f"{TARGET_CPU_MULTIPLE * floor.stack_ms:.1f} ms",
        ),
    ]


def busy_machine_ms(step: dict[str, Any]) -> float:
    """CPU a registration in every process on the machine, the sink and load generator included."""
    seconds: float = sum(step["cpu_seconds"].values())
    accepted: int = max(step["accepted"], 1)
    return seconds / accepted * 1000


@dataclass(frozen=True)
class CpuFloor:
    """The least CPU a registration could cost with these tools: its anchors' CPU added up."""

    stack_ms: float  # in the stack's own processes (servers and the services' client side)
    machine_ms: float  # plus the SMTP sink and the load generator
    parts: str  # what was added up, in words


def cpu_floor(figures: dict[str, Any]) -> CpuFloor | None:
    """None without a sustained hello-world step. In the PostgreSQL, Kafka and SMTP anchors the
    bench process plays the services' client side; in the hello-world it is the load generator."""
    hello_top = best(figures["hello"])
    if hello_top is None:
        return None
    kafka, pg, smtp = figures["kafka"], figures["postgres"], figures["smtp"]
    request = hello_top["cpu_ms_per_request"]
    transaction = sum(pg["cpu_ms_per_transaction"].values())
    message = sum(kafka["cpu_ms_per_message"].values())
    mail = smtp["cpu_ms_per_mail"]["load generator"]
    stack_ms = (
        request + FLOOR_TRANSACTIONS * transaction + FLOOR_EVENTS * message + FLOOR_MAILS * mail
    )
    outside = (
        hello_top["generator_cpu_ms_per_request"] + FLOOR_MAILS * smtp["cpu_ms_per_mail"]["sink"]
    )
    parts = (
        f"one hello-world request ({request:.2f} ms in the server), {FLOOR_TRANSACTIONS} "
        f"row-plus-outbox transactions ({transaction:.2f} ms each, server and client), "
        f"{FLOOR_EVENTS} Kafka messages ({message:.3f} ms each, broker and clients) and "
        f"{FLOOR_MAILS} mails ({mail:.2f} ms each in the sender), at the CPU each took in its "
        "anchor"
    )
    return CpuFloor(stack_ms, stack_ms + outside, parts)


def render(figures: dict[str, Any], command: str, plot: Path | None) -> str:
    sections = (
        title_section(figures, command),
        targets_section(figures),
        machine_section(figures),
        settings_section(figures),
        pipeline_section(figures, plot),
        anchors_section(figures),
        ratios_section(figures),
        reading_section(figures),
    )
    return "\n".join(line for section in sections for line in section)


def title_section(figures: dict[str, Any], command: str) -> list[str]:
    """What was measured and how, and the headline: the highest rate sustained."""
    plan = figures["plan"]
    top = best(figures["steps"])
    lines: list[str] = []
    add = lines.append
    add("# Pipeline benchmark")
    add("")
    add(
        f"Written by `make bench` (`{command}`). One run's figures on the machine below; the "
        "numbers are measurements, not pass/fail thresholds. Registrations go through the "
        "public HTTP API open loop (the i-th leaves at start + i / rate, whatever happened to "
        "the earlier ones) at rising rates, mentors first, then engineers; each engineer's "
        "latency runs from the moment the registration was due to leave until the later of "
        "the two proposal mails (to the engineer and to the mentor) reached the SMTP sink."
    )
    add("")
    if top is not None:
        add(
            f"**Highest rate sustained for {plan['duration']:g} s: {fmt_rate(top['rate'])} "
            f"registrations a second** (p99 {fmt_ms(top['latency']['p99_ms'])}, 0 lost, "
            f"{top['cpu_ms_per_registration']:.1f} ms of CPU a registration)."
        )
    else:
        add(f"**No rate was sustained for {plan['duration']:g} s** (see the table).")
    add("")
    return lines


def targets_section(figures: dict[str, Any]) -> list[str]:
    """The targets beside what this run measured."""
    lines = [
        "## Targets",
        "",
        "| ratio | measured | target | | how |",
        "|---|---:|---|---|---|",
    ]
    for t in targets(figures):
        verdict = {True: "holds", False: "does not hold", None: "not measured"}[t.holds]
        lines.append(f"| {t.what} | {t.measured} | {t.target} | {verdict} | {t.how} |")
    lines.append("")
    return lines


def machine_section(figures: dict[str, Any]) -> list[str]:
    """The machine, how busy it was before and after, and how long the run took."""
    m = figures["machine"]
    lines: list[str] = []
    add = lines.append
    add("## Machine")
    add("")
    lines.extend(markdown_rows(m))
    before, after = figures["load_before"], figures["load_after"]
    add(
        f"| load average (1, 5, 15 min) before / after | {before[0]:.1f}, {before[1]:.1f}, "
        f"{before[2]:.1f} / {after[0]:.1f}, {after[1]:.1f}, {after[2]:.1f} (other work on the "
        "machine slows every figure) |"
    )
    add(f"| run time | {figures['seconds'] / 60:.1f} min |")
    add("")
    return lines


def settings_section(figures: dict[str, Any]) -> list[str]:
    """What the services ran with, what a step is, and what counts as sustained."""
    plan = figures["plan"]
    lines: list[str] = []
    add = lines.append
    add("## Settings")
    add("")
    add(
        "Embedded PostgreSQL (durable, as `make dev` runs it), the Tansu broker, an SMTP sink "
        "(`devstack.smtp_sink`, a process of its own writing each mail to a file) and the four "
        "services that consume a registration (profile, matching, notification and mentorship: the "
        "mentorship service keeps its own copy of every profile and reads every match event, so "
        "its work is part of what a registration costs, though no mail waits for it) as separate "
        "processes, one of each. Every step gets fresh databases, topics "
        "and sink, and the services are started again. The services run with their defaults "
        "except:"
    )
    add("")
    add("| variable | value |")
    add("|---|---|")
    for key, value in SERVICE_ENV.items():
        add(f"| `{key}` | `{value}` |")
    add("")
    add(
        f"Each step: {plan['duration']:g} s of engineers at the rate, after mentors with "
        f"{CAPACITY} slots each, enough for 110% of the step's engineers (the matcher scores "
        "every available mentor, so higher steps also have a larger pool). Mail is waited "
        f"for up to {plan['drain']:g} s after the last registration; an engineer accepted "
        "(201) without both mails by then counts as lost. A step is sustained when p99 is "
        f"under {P99_LIMIT:g} s, nothing is lost, refused or unanswered, and at least "
        f"{ACCEPTED_SHARE:.0%} of the offered rate is accepted. The rates rise until a step "
        f"is not sustained; then up to {plan['refine']} more step(s) go between the last rate "
        "sustained and the first not. CPU is user plus system time from `/proc` of every "
        "process of the stack and everything it forked (PostgreSQL's backends included), from the start of "
        "the load until the last mail, per accepted registration; the sink and the load "
        "generator are listed apart. Transactions a registration are the commits PostgreSQL "
        "counted in the step's four databases over the same time, the services' idle "
        "polling included, and so is the session reset asyncpg runs each time a connection "
        "goes back to its pool (a statement of its own, so PostgreSQL counts it as a "
        "transaction: about half of the count, and the cheapest half)."
    )
    add("")
    return lines


def pipeline_section(figures: dict[str, Any], plot: Path | None) -> list[str]:
    """Every pipeline step, the latency plot and where each step's CPU went."""
    steps = figures["steps"]
    lines: list[str] = []
    add = lines.append
    add("## Pipeline")
    add("")
    add(
        "| offered /s | accepted /s | sent late | p50 | p95 | p99 | HTTP p99 | lost | "
        "CPU ms / registration | transactions / registration | verdict |"
    )
    add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in steps:
        lat = s["latency"]
        add(
            f"| {fmt_rate(s['rate'])} | {s['accepted_per_second']:.1f} | {s['late']} | "
            f"{fmt_ms(lat['p50_ms'])} | {fmt_ms(lat['p95_ms'])} | {fmt_ms(lat['p99_ms'])} | "
            f"{fmt_ms(s['http']['p99_ms'])} | {s['lost']} | {s['cpu_ms_per_registration']:.1f} | "
            f"{s['transactions_per_registration']:.1f} | {s['verdict']} |"
        )
    add("")
    if plot is not None:
        add(f"![Latency against offered rate]({plot.name})")
        add("")
    if steps:
        parts = [*STACK_PARTS, "sink", "load generator"]
        add("Where the CPU goes (ms a registration):")
        add("")
        add("| offered /s | " + " | ".join(parts) + " |")
        add("|---:|" + "---:|" * len(parts))
        for s in steps:
            n = max(s["accepted"], 1)
            cells = [f"{s['cpu_seconds'].get(part, 0.0) / n * 1000:.1f}" for part in parts]
            add(f"| {fmt_rate(s['rate'])} | " + " | ".join(cells) + " |")
        add("")
    return lines


def anchors_section(figures: dict[str, Any]) -> list[str]:
    """The Kafka, PostgreSQL, SMTP and hello-world anchors."""
    kafka, pg, smtp = figures["kafka"], figures["postgres"], figures["smtp"]
    hello, plan = figures["hello"], figures["plan"]
    hello_top = best(hello)
    lines: list[str] = []
    add = lines.append
    add("## Anchors")
    add("")
    add("Measured in the same run, on the same broker, database server and load generator.")
    add("")
    add("| anchor | figures |")
    add("|---|---|")
    add(
        f"| aiokafka round trip (`send_and_wait`, then the consumer holds it), one partition, "
        f"{kafka['round_trips']} one at a time | p50 {fmt_ms(kafka['p50_ms'])}, p99 "
        f"{fmt_ms(kafka['p99_ms'])} |"
    )
    add(
        f"| aiokafka burst of {kafka['burst']:,} messages of 600 bytes | produced "
        f"{kafka['produce_per_second']:,.0f}/s, produced and consumed "
        f"{kafka['through_per_second']:,.0f}/s; CPU a message: broker "
        f"{kafka['cpu_ms_per_message']['broker']:.3f} ms, producer and consumer "
        f"{kafka['cpu_ms_per_message']['load generator']:.3f} ms |"
    )
    add(
        f"| asyncpg transaction: one row plus one outbox row (`Outbox.add_raw`), "
        f"{pg['sequential']:,} one at a time | p50 {fmt_ms(pg['p50_ms'])}, p99 "
        f"{fmt_ms(pg['p99_ms'])}, {pg['sequential_per_second']:,.0f}/s |"
    )
    add(
        f"| the same from {pg['connections']} connections at once, {pg['concurrent']:,} in "
        f"all | {pg['concurrent_per_second']:,.0f}/s; CPU a transaction: PostgreSQL "
        f"{pg['cpu_ms_per_transaction']['postgres']:.2f} ms, client "
        f"{pg['cpu_ms_per_transaction']['load generator']:.2f} ms |"
    )
    add(
        f"| SMTP: the notification service's `MailComposer` and `SmtpMailer` (connections kept "
        f"open) to a dev SMTP sink, {smtp['sequential']:,} mails one at a time | p50 "
        f"{fmt_ms(smtp['p50_ms'])}, p99 {fmt_ms(smtp['p99_ms'])} |"
    )
    add(
        f"| the same over {smtp['connections']} connections at once, {smtp['concurrent']:,} in "
        f"all | {smtp['concurrent_per_second']:,.0f}/s; CPU a mail: sink "
        f"{smtp['cpu_ms_per_mail']['sink']:.2f} ms, client "
        f"{smtp['cpu_ms_per_mail']['load generator']:.2f} ms |"
    )
    add(
        "| FastAPI hello-world (`benchmarks/pipeline/hello.py`, the services' entry point), "
        "open loop, highest rate sustained for "
        f"{plan['anchor_duration']:g} s | "
        + (f"{fmt_rate(hello_top['rate'])}/s" if hello_top else "none")
        + " |"
    )
    add("")
    add(
        "| hello-world offered /s | accepted /s | sent late | p50 | p99 | server CPU ms / "
        "request | generator CPU ms / request | verdict |"
    )
    add("|---:|---:|---:|---:|---:|---:|---:|---|")
    for h in hello:
        add(
            f"| {fmt_rate(h['rate'])} | {h['accepted_per_second']:.0f} | {h['late']} | "
            f"{fmt_ms(h['http']['p50_ms'])} | {fmt_ms(h['http']['p99_ms'])} | "
            f"{h['cpu_ms_per_request']:.2f} | {h['generator_cpu_ms_per_request']:.2f} | "
            f"{h['verdict']} |"
        )
    add("")
    lagging = [h for h in hello if not h["passed"] and h["late"] > 0.01 * max(h["sent"], 1)]
    if lagging:
        h = lagging[0]
        add(
            f"At {fmt_rate(h['rate'])}/s the load generator itself fell behind ({h['late']:,} of "
            f"{h['sent']:,} requests left more than {LATE_AFTER * 1000:.0f} ms after their "
            f"due time; it spends {h['generator_cpu_ms_per_request']:.1f} ms of CPU a request): "
            "the hello-world's highest rate is the ceiling of this load generator "
            "and server together on this machine, not of the server alone."
        )
        add("")
    return lines


def ratios_section(figures: dict[str, Any]) -> list[str]:
    """The pipeline's figures as ratios to the anchors."""
    lines: list[str] = []
    add = lines.append
    add("## Ratios")
    add("")
    add("| ratio | value | how |")
    add("|---|---:|---|")
    for what, value, how in ratios(figures):
        add(f"| {what} | {value} | {how} |")
    add("")
    return lines


def reading_section(figures: dict[str, Any]) -> list[str]:
    """How to read the figures."""
    m, steps = figures["machine"], figures["steps"]
    top = best(steps)
    lines: list[str] = []
    add = lines.append
    add("## How to read this")
    add("")
    cores = m["cores"] or 1
    busiest = top if top is not None else (steps[0] if steps else None)
    cpu_ms = busiest["cpu_ms_per_registration"] if busiest is not None else 0.0
    add(
        "The pipeline row to look at is the last sustained one: its rate is what this machine "
        "carries with every registration mailed within a second at p99. Latency is measured "
        "from when a registration was due, not when it left, so a load generator falling "
        "behind ('sent late') shows up as latency instead of hiding it. The anchors say what "
        "the same machine does with the same tools and nothing else: if the hello-world "
        "sustains far more than the pipeline, the limit is in the pipeline's own work, not "
        "in the load generator or the HTTP server; the latency floor adds up the "
        "unavoidable hops, so the latency ratio is the share of waiting and computing the "
        "pipeline adds on top; CPU a registration, divided by the cores, bounds the rate "
        f"from above whatever the latency ({cores} cores at "
        + (f"{cpu_ms:.0f}" if cpu_ms else "N")
        + " ms a registration cannot exceed "
        + (f"{cores * 1000 / cpu_ms:.0f}" if cpu_ms else "N")
        + " a second), and the CPU table says which process to look at first. The anchors' "
        "floor adds up the CPU of what a registration cannot do without (a request, its "
        "transactions, its events, its mails) at the anchors' own cost: no pipeline built "
        "from these tools, one transaction a registration or mail, gets below it, so the rate "
        "it allows is the most a target for this machine can ask. Figures from a "
        "busy machine (see the load average) are slower than the machine can be."
    )
    add("")
    add(
        "What each optimisation bought, measured one setting at a time with `--service-env`: "
        "[pipeline-changes.md](pipeline-changes.md)."
    )
    add("")
    return lines


def plot_latency(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, hello = figures["steps"], figures["hello"]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    rates = [s["rate"] for s in steps]
    for key, style, text in (
        ("p50_ms", "o-", "p50, POST to both mails"),
        ("p95_ms", "s-", "p95, POST to both mails"),
        ("p99_ms", "^-", "p99, POST to both mails"),
    ):
        ax.plot(rates, [s["latency"][key] / 1000 for s in steps], style, label=text)
    ax.plot(
        rates,
        [s["http"]["p99_ms"] / 1000 for s in steps],
        "x--",
        label="p99, POST to its 201",
    )
    if hello:
        ax.plot(
            [h["rate"] for h in hello],
            [h["http"]["p99_ms"] / 1000 for h in hello],
            "d:",
            color="grey",
            label="p99, hello-world anchor",
        )
    ax.axhline(P99_LIMIT, color="red", linewidth=0.8, linestyle="--", label="1 s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered registrations a second (open loop)")
    ax.set_ylabel("latency (s)")
    ax.set_title("Registration to proposal mails, against rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
