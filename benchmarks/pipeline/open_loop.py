"""One open-loop load step: registrations leave on schedule at a rate for a duration, whatever
happened to the earlier ones; what was accepted, refused or late; whether the rate was
sustained; and the rising sequence of steps that finds the highest rate sustained."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from devstack.load import LoadDriver, Registration

from benchmarks.pipeline.anchors import summary_ms
from benchmarks.pipeline.report import ACCEPTED_SHARE, LATE_AFTER, P99_LIMIT, fmt_ms
from benchmarks.progress import Progress

# Connections the load generator keeps open to the server under load (the same for the
# pipeline and the hello-world anchor, as are the client and the open-loop schedule).
LOAD_CONNECTIONS = 256


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
    bar = Progress(label, duration)
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
