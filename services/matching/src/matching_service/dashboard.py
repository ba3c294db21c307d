# ruff: noqa: S608 -- the only text put into a query is the constant _OUTCOME_SQL below.
"""The operator dashboard: one web page and the JSON it draws.

`GET /dashboard` serves a static page (HTML, our own JavaScript and CSS from `static/`, no
data); the page asks for the operator key and polls `GET /v1/dashboard`, which answers with
everything the panels show:

* from the matching database: mentees waiting and for how long, mentor load against capacity,
  proposals by status and the acceptance rate over time, the skills mentees need against the
  strengths mentors offer;
* from the other services' `GET /metrics` (Prometheus text, read server-side): mails sent and
  failed, outbox backlogs and consumer lag. A peer that does not answer is reported
  "unavailable"; it never fails the page.

The queries live here, not in the repository: they only read, and only for this page.
"""

from __future__ import annotations

import asyncio
import math
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from mentorship_shared.contracts.skills import TAXONOMY
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.deps import OperatorDep
from mentorship_shared.plumbing.http import ErrorBody
from mentorship_shared.plumbing.runtime import ServiceRuntime
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from .config import MatchingSettings

router = APIRouter()

_OPEN = ["proposed", "accepted"]
_STATUSES = ("proposed", "accepted", "declined", "expired")
_OUTCOMES = ("accepted", "declined", "lapsed", "withdrawn")
LONGEST_WAITS = 10

# --- the response --------------------------------------------------------------------------


class CountBar(BaseModel):
    label: str = Field(description="What the bar counts, as shown on the page.")
    count: int = Field(ge=0, description="How many.")


class WaitingMentee(BaseModel):
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    waiting_since: datetime = Field(
        description="Registration, or the end of the mentee's last match if later."
    )
    waiting_hours: float = Field(ge=0, description="Hours waited so far.")


class MenteePanel(BaseModel):
    registered: int = Field(ge=0, description="Mentees the matcher knows.")
    with_open_match: int = Field(ge=0, description="Mentees with a proposed or accepted match.")
    waiting: int = Field(ge=0, description="Mentees without a proposed or accepted match.")
    wait_buckets: list[CountBar] = Field(
        description="Waiting mentees by how long they have waited, shortest wait first."
    )
    longest_waits: list[WaitingMentee] = Field(
        description=f"The {LONGEST_WAITS} mentees waiting longest, longest first."
    )


class CapacityRow(BaseModel):
    capacity: int = Field(ge=0, description="Mentees a mentor asked to take at once.")
    mentors: int = Field(ge=0, description="Mentors with this capacity.")
    slots: int = Field(ge=0, description="Their slots together (mentors times capacity).")
    used: int = Field(ge=0, description="Slots held by proposed or accepted matches.")


class MentorPanel(BaseModel):
    registered: int = Field(ge=0, description="Mentors the matcher knows.")
    accepting: int = Field(ge=0, description="Mentors accepting mentees (not paused).")
    slots: int = Field(ge=0, description="Capacity of every mentor together.")
    used: int = Field(ge=0, description="Slots held by proposed or accepted matches.")
    free_slots: int = Field(ge=0, description="Slots of accepting mentors not held by a match.")
    by_capacity: list[CapacityRow] = Field(
        description="Slots offered and used, per capacity mentors asked for, smallest first."
    )
    utilisation: list[CountBar] = Field(
        description="Mentors by load: no mentee yet, some slots used, full, paused."
    )


class StatusCount(BaseModel):
    status: str = Field(description="proposed, accepted, declined or expired.")
    count: int = Field(ge=0, description="Matches with this status now.")


class RateBucket(BaseModel):
    start: datetime = Field(description="Start of the hour or day (UTC).")
    proposed: int = Field(ge=0, description="Proposals made in it.")
    accepted: int = Field(ge=0, description="Matches both sides accepted in it.")
    declined: int = Field(ge=0, description="Proposals declined in it.")
    lapsed: int = Field(ge=0, description="Proposals that lapsed unanswered in it.")
    withdrawn: int = Field(
        ge=0,
        description="Proposals ended in it by something else: a profile deleted or changed, "
        "a mentor paused or lowered capacity. Not counted in the acceptance rate.",
    )
    acceptance_rate: float | None = Field(
        ge=0,
        le=1,
        description="accepted / (accepted + declined + lapsed) of the decisions in it; null "
        "without a decision.",
    )


class ProposalPanel(BaseModel):
    by_status: list[StatusCount] = Field(description="Every match by its current status.")
    acceptance_rate: float | None = Field(
        ge=0,
        le=1,
        description="All time: accepted / (accepted + declined + lapsed); null before the "
        "first decision.",
    )
    bucket: Literal["hour", "day"] = Field(description="The width of each time bucket.")
    over_time: list[RateBucket] = Field(description="Proposals and decisions, oldest first.")


class SkillRow(BaseModel):
    skill: str = Field(description="Skill id from the taxonomy.")
    name: str = Field(description="The skill's name.")
    demand_waiting: int = Field(
        ge=0, description="Sum of waiting mentees' gaps (target - current) in this skill."
    )
    mentees_waiting: int = Field(ge=0, description="Waiting mentees with a gap in this skill.")
    demand_all: int = Field(ge=0, description="Sum of every mentee's gap in this skill.")
    mentors_strong: int = Field(ge=0, description="Mentors at or above the strong level in it.")
    free_slots_strong: int = Field(
        ge=0, description="Free slots of accepting mentors strong in this skill."
    )


class SkillPanel(BaseModel):
    strong_level: int = Field(description="The level (0-5) from which a mentor counts as strong.")
    skills: list[SkillRow] = Field(description="Every skill, most needed by waiting mentees first.")


class TemplateMail(BaseModel):
    template: str = Field(description="The mail's template.")
    sent: int = Field(ge=0, description="Mails the mail server accepted.")
    retrying: int = Field(ge=0, description="Failed sends that are tried again.")
    given_up: int = Field(ge=0, description="Mails given up on: nobody got them.")


class NotificationPanel(BaseModel):
    status: Literal["ok", "unavailable"] = Field(
        description="Whether the notification service's /metrics answered."
    )
    detail: str | None = Field(description="Why it is unavailable.")
    sent: int | None = Field(description="Mails sent since the service started.")
    retrying: int | None = Field(description="Failed sends that were retried, since start.")
    given_up: int | None = Field(description="Mails given up on, since start.")
    by_template: list[TemplateMail] = Field(description="The same per template.")


class ConsumerLag(BaseModel):
    consumer: str = Field(description="The consumer (group) name.")
    topic: str = Field(description="The topic it reads.")
    lag: int = Field(ge=0, description="Records waiting for it, over its assigned partitions.")


class ServicePipeline(BaseModel):
    service: str = Field(description="profile, matching or notification.")
    status: Literal["ok", "unavailable"] = Field(description="Whether its metrics were read.")
    detail: str | None = Field(description="Why they were not.")
    outbox_pending: int | None = Field(description="Events committed, not yet published.")
    consumer_lag: list[ConsumerLag] = Field(description="Lag per consumer and topic.")
    dead_letters: int | None = Field(description="Messages dead-lettered since it started.")


class DashboardView(BaseModel):
    generated_at: datetime = Field(description="When the numbers were read (database time).")
    mentees: MenteePanel = Field(description="Mentees waiting and for how long.")
    mentors: MentorPanel = Field(description="Mentor load against capacity.")
    proposals: ProposalPanel = Field(description="Proposals by status and acceptance over time.")
    skills: SkillPanel = Field(description="Skills in demand against the strengths on offer.")
    notifications: NotificationPanel = Field(description="Mails sent and failed.")
    pipeline: list[ServicePipeline] = Field(
        description="Per service: outbox backlog and consumer lag."
    )


# --- pure parts ----------------------------------------------------------------------------

#: (label, upper bound in hours) of the wait-time buckets; the last one is open-ended.
WAIT_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 1),
    ("1-6 h", 6),
    ("6-24 h", 24),
    ("1-3 d", 72),
    ("3-7 d", 168),
    ("1-2 wk", 336),
    ("> 2 wk", math.inf),
)


def wait_buckets(hours: Iterable[float]) -> list[CountBar]:
    """How many waits fall in each of `WAIT_BUCKETS` (a wait on a bound goes to the next)."""
    counts = [0] * len(WAIT_BUCKETS)
    for value in hours:
        for index, (_, upper) in enumerate(WAIT_BUCKETS):
            if value < upper:
                counts[index] += 1
                break
    return [
        CountBar(label=label, count=n) for (label, _), n in zip(WAIT_BUCKETS, counts, strict=True)
    ]


@dataclass(frozen=True)
class MentorGroup:
    """Mentors with one (capacity, load, accepting) combination."""

    capacity: int
    load: int
    accepting: bool
    mentors: int


def mentor_panel(groups: Sequence[MentorGroup]) -> MentorPanel:
    by_capacity: dict[int, CapacityRow] = {}
    idle = partly = full = paused = 0
    for g in groups:
        row = by_capacity.setdefault(
            g.capacity, CapacityRow(capacity=g.capacity, mentors=0, slots=0, used=0)
        )
        row.mentors += g.mentors
        row.slots += g.capacity * g.mentors
        row.used += g.load * g.mentors
        if not g.accepting:
            paused += g.mentors
        elif g.load >= g.capacity:
            full += g.mentors
        elif g.load == 0:
            idle += g.mentors
        else:
            partly += g.mentors
    return MentorPanel(
        registered=sum(g.mentors for g in groups),
        accepting=sum(g.mentors for g in groups if g.accepting),
        slots=sum(g.capacity * g.mentors for g in groups),
        used=sum(g.load * g.mentors for g in groups),
        free_slots=sum(max(0, g.capacity - g.load) * g.mentors for g in groups if g.accepting),
        by_capacity=[by_capacity[c] for c in sorted(by_capacity)],
        utilisation=[
            CountBar(label="no mentee yet", count=idle),
            CountBar(label="some slots used", count=partly),
            CountBar(label="full", count=full),
            CountBar(label="paused", count=paused),
        ],
    )


def time_grid(
    now: datetime, first: datetime | None
) -> tuple[Literal["hour", "day"], list[datetime]]:
    """The buckets of the acceptance chart: hours while the first proposal is at most two days
    old (12 to 48 of them), days after that (7 to 30); always ending with the current one."""
    now = now.astimezone(UTC)
    span = now - first.astimezone(UTC) if first is not None else timedelta(0)
    if span <= timedelta(days=2):
        current = now.replace(minute=0, second=0, microsecond=0)
        hours = 0
        if first is not None:
            first_hour = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            hours = (current - first_hour) // timedelta(hours=1)
        count = min(48, max(12, hours + 1))
        return "hour", [current - timedelta(hours=n) for n in range(count - 1, -1, -1)]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert first is not None
    first_day = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    count = min(30, max(7, (today - first_day).days + 1))
    return "day", [today - timedelta(days=n) for n in range(count - 1, -1, -1)]


def acceptance_rate(accepted: int, declined: int, lapsed: int) -> float | None:
    decided = accepted + declined + lapsed
    return round(accepted / decided, 4) if decided else None


def acceptance_series(
    starts: Sequence[datetime],
    proposed: Mapping[datetime, int],
    decisions: Mapping[tuple[datetime, str], int],
) -> list[RateBucket]:
    """One bucket per start: proposals made and decisions taken in it (counts keyed by the
    bucket's start; anything before the first start is left out)."""
    buckets = []
    for start in starts:
        counts = {outcome: decisions.get((start, outcome), 0) for outcome in _OUTCOMES}
        buckets.append(
            RateBucket(
                start=start,
                proposed=proposed.get(start, 0),
                **counts,
                acceptance_rate=acceptance_rate(
                    counts["accepted"], counts["declined"], counts["lapsed"]
                ),
            )
        )
    return buckets


@dataclass
class ServiceMetrics:
    """What the dashboard takes from one service's /metrics."""

    outbox_pending: int = 0
    #: (consumer, topic) -> lag summed over partitions
    consumer_lag: dict[tuple[str, str], int] = field(default_factory=dict)
    dead_letters: int = 0
    #: template -> mails sent
    sent: dict[str, int] = field(default_factory=dict)
    #: (template, outcome) -> failures
    failed: dict[tuple[str, str], int] = field(default_factory=dict)


def parse_metrics(text: str, *, service: str | None = None) -> ServiceMetrics:
    """The dashboard's numbers from Prometheus text exposition. Gauges that carry a `service`
    label count only for `service` when it is given (services run in one test process share
    one registry). Raises ValueError for text that is not the exposition format."""
    found = ServiceMetrics()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if service is not None and labels.get("service", service) != service:
                continue
            value = int(sample.value) if math.isfinite(sample.value) else 0
            if sample.name == "mentorship_outbox_pending":
                found.outbox_pending += value
            elif sample.name == "mentorship_consumer_lag":
                key = (labels.get("consumer", ""), labels.get("topic", ""))
                found.consumer_lag[key] = found.consumer_lag.get(key, 0) + value
            elif sample.name == "mentorship_dead_letters_total":
                found.dead_letters += value
            elif sample.name == "mentorship_emails_sent_total":
                template = labels.get("template", "")
                found.sent[template] = found.sent.get(template, 0) + value
            elif sample.name == "mentorship_emails_failed_total":
                key = (labels.get("template", ""), labels.get("outcome", ""))
                found.failed[key] = found.failed.get(key, 0) + value
    return found


def pipeline_view(
    service: str, metrics: ServiceMetrics | None, detail: str | None = None
) -> ServicePipeline:
    if metrics is None:
        return ServicePipeline(
            service=service,
            status="unavailable",
            detail=detail,
            outbox_pending=None,
            consumer_lag=[],
            dead_letters=None,
        )
    return ServicePipeline(
        service=service,
        status="ok",
        detail=None,
        outbox_pending=metrics.outbox_pending,
        consumer_lag=[
            ConsumerLag(consumer=consumer, topic=topic, lag=max(0, lag))
            for (consumer, topic), lag in sorted(metrics.consumer_lag.items())
        ],
        dead_letters=metrics.dead_letters,
    )


def notification_view(metrics: ServiceMetrics | None, detail: str | None) -> NotificationPanel:
    if metrics is None:
        return NotificationPanel(
            status="unavailable",
            detail=detail,
            sent=None,
            retrying=None,
            given_up=None,
            by_template=[],
        )
    templates = sorted(set(metrics.sent) | {template for template, _ in metrics.failed})
    rows = [
        TemplateMail(
            template=template,
            sent=metrics.sent.get(template, 0),
            retrying=metrics.failed.get((template, "retrying"), 0),
            given_up=metrics.failed.get((template, "given_up"), 0),
        )
        for template in templates
    ]
    return NotificationPanel(
        status="ok",
        detail=None,
        sent=sum(row.sent for row in rows),
        retrying=sum(row.retrying for row in rows),
        given_up=sum(row.given_up for row in rows),
        by_template=rows,
    )


# --- reading the peers' metrics ------------------------------------------------------------

# Service to service on loopback or the Compose network: a proxy from the environment
# (HTTP_PROXY) must not get in the way.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_metrics_text(base_url: str, timeout: float) -> str:
    with _opener.open(f"{base_url.rstrip('/')}/metrics", timeout=timeout) as answer:
        body: bytes = answer.read(4_000_000)
        return body.decode("utf-8", errors="replace")


async def read_peer(
    base_url: str, timeout: float, setting: str
) -> tuple[ServiceMetrics | None, str | None]:
    """A peer's metrics, or None and why not (never raises)."""
    if not base_url.strip():
        return None, f"not configured ({setting} is empty)"
    try:
        async with asyncio.timeout(timeout + 0.5):
            text = await asyncio.to_thread(_get_metrics_text, base_url, timeout)
        return parse_metrics(text), None
    except urllib.error.HTTPError as error:
        return None, f"{base_url}/metrics answered HTTP {error.code}"
    except TimeoutError:
        return None, f"{base_url}/metrics did not answer within {timeout:g} s"
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return None, f"{base_url}/metrics: {reason}"


async def own_metrics(runtime: ServiceRuntime[Any, Any], service: str) -> ServiceMetrics:
    """This process's metrics, refreshed as a scrape would (outbox backlog, consumer lag)."""
    await runtime.refresh_metrics()
    return parse_metrics(generate_latest(REGISTRY).decode(), service=service)


# --- reading the database ------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """A bucket from `date_trunc(..., ts AT TIME ZONE 'UTC')` (naive, in UTC) made aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def read_mentees(conn: Connection, now: datetime) -> MenteePanel:
    registered = await conn.fetchval("SELECT count(*) FROM mentees")
    rows = await conn.fetch(
        """
        SELECT m.id, greatest(m.registered_at, max(x.ended_at)) AS since
        FROM mentees m LEFT JOIN matches x ON x.mentee_id = m.id
        WHERE NOT EXISTS (SELECT 1 FROM matches o
                          WHERE o.mentee_id = m.id AND o.status = ANY($1))
        GROUP BY m.id, m.registered_at
        """,
        _OPEN,
    )
    waits = sorted(
        (
            (max(0.0, (now - row["since"]) / timedelta(hours=1)), row["id"], row["since"])
            for row in rows
        ),
        key=lambda wait: (-wait[0], str(wait[1])),
    )
    return MenteePanel(
        registered=registered,
        with_open_match=registered - len(rows),
        waiting=len(rows),
        wait_buckets=wait_buckets(hours for hours, _, _ in waits),
        longest_waits=[
            WaitingMentee(mentee_id=mentee_id, waiting_since=since, waiting_hours=round(hours, 2))
            for hours, mentee_id, since in waits[:LONGEST_WAITS]
        ],
    )


async def read_mentors(conn: Connection) -> MentorPanel:
    rows = await conn.fetch(
        """
        SELECT requested_capacity AS capacity, load, accepting_mentees, count(*) AS mentors
        FROM mentors GROUP BY 1, 2, 3
        """
    )
    return mentor_panel(
        [
            MentorGroup(
                capacity=row["capacity"],
                load=row["load"],
                accepting=row["accepting_mentees"],
                mentors=row["mentors"],
            )
            for row in rows
        ]
    )


# accepted: both sides said yes (whatever happened afterwards); lapsed: unanswered in time;
# withdrawn: ended by something other than the two people's answer.
_OUTCOME_SQL = """
    CASE WHEN accepted_at IS NOT NULL THEN 'accepted'
         WHEN status = 'declined' THEN 'declined'
         WHEN end_reason = 'timeout' THEN 'lapsed'
         ELSE 'withdrawn' END
"""


async def read_proposals(conn: Connection, now: datetime) -> ProposalPanel:
    status_rows = await conn.fetch("SELECT status, count(*) AS n FROM matches GROUP BY status")
    by_status = {row["status"]: row["n"] for row in status_rows}
    outcome_rows = await conn.fetch(
        f"""
        SELECT {_OUTCOME_SQL} AS outcome, count(*) AS n FROM matches
        WHERE accepted_at IS NOT NULL OR status IN ('declined', 'expired')
        GROUP BY 1
        """
    )
    outcomes = {row["outcome"]: row["n"] for row in outcome_rows}
    first = await conn.fetchval("SELECT min(proposed_at) FROM matches")
    unit, starts = time_grid(now, first)
    since = starts[0]
    proposed_rows = await conn.fetch(
        """
        SELECT date_trunc($1, proposed_at AT TIME ZONE 'UTC') AS bucket, count(*) AS n
        FROM matches WHERE proposed_at >= $2 GROUP BY 1
        """,
        unit,
        since,
    )
    decision_rows = await conn.fetch(
        f"""
        SELECT date_trunc($1, coalesce(accepted_at, ended_at) AT TIME ZONE 'UTC') AS bucket,
               {_OUTCOME_SQL} AS outcome, count(*) AS n
        FROM matches WHERE coalesce(accepted_at, ended_at) >= $2
          AND (accepted_at IS NOT NULL OR status IN ('declined', 'expired'))
        GROUP BY 1, 2
        """,
        unit,
        since,
    )
    return ProposalPanel(
        by_status=[StatusCount(status=s, count=by_status.get(s, 0)) for s in _STATUSES],
        acceptance_rate=acceptance_rate(
            outcomes.get("accepted", 0), outcomes.get("declined", 0), outcomes.get("lapsed", 0)
        ),
        bucket=unit,
        over_time=acceptance_series(
            starts,
            {_utc(row["bucket"]): row["n"] for row in proposed_rows},
            {(_utc(row["bucket"]), row["outcome"]): row["n"] for row in decision_rows},
        ),
    )


async def read_skills(conn: Connection, strong_level: int) -> SkillPanel:
    demand_rows = await conn.fetch(
        """
        SELECT s->>'skill' AS skill,
               NOT EXISTS (SELECT 1 FROM matches o
                           WHERE o.mentee_id = m.id AND o.status = ANY($1)) AS waiting,
               sum(greatest(0, (s->>'target')::int - (s->>'current')::int)) AS gap,
               count(*) FILTER (WHERE (s->>'target')::int > (s->>'current')::int) AS mentees
        FROM mentees m CROSS JOIN LATERAL jsonb_array_elements(m.skills) s
        GROUP BY 1, 2
        """,
        _OPEN,
    )
    supply_rows = await conn.fetch(
        """
        SELECT s->>'skill' AS skill, count(*) AS mentors,
               coalesce(sum(greatest(0, m.requested_capacity - m.load))
                        FILTER (WHERE m.accepting_mentees), 0) AS free_slots
        FROM mentors m CROSS JOIN LATERAL jsonb_array_elements(m.skills) s
        WHERE (s->>'level')::int >= $1
        GROUP BY 1
        """,
        strong_level,
    )
    names = {skill.id: skill.name for skill in TAXONOMY.skills}
    rows = {
        skill_id: SkillRow(
            skill=skill_id,
            name=name,
            demand_waiting=0,
            mentees_waiting=0,
            demand_all=0,
            mentors_strong=0,
            free_slots_strong=0,
        )
        for skill_id, name in names.items()
    }

    def row_of(skill_id: str) -> SkillRow:
        if skill_id not in rows:  # a skill of another taxonomy version
            rows[skill_id] = SkillRow(
                skill=skill_id,
                name=skill_id,
                demand_waiting=0,
                mentees_waiting=0,
                demand_all=0,
                mentors_strong=0,
                free_slots_strong=0,
            )
        return rows[skill_id]

    for record in demand_rows:
        row = row_of(record["skill"])
        row.demand_all += record["gap"]
        if record["waiting"]:
            row.demand_waiting += record["gap"]
            row.mentees_waiting += record["mentees"]
    for record in supply_rows:
        row = row_of(record["skill"])
        row.mentors_strong += record["mentors"]
        row.free_slots_strong += record["free_slots"]
    order = list(rows)
    ranked = sorted(
        rows.values(),
        key=lambda r: (-r.demand_waiting, -r.demand_all, order.index(r.skill)),
    )
    return SkillPanel(strong_level=strong_level, skills=ranked)


async def read_dashboard(
    runtime: ServiceRuntime[Any, Any], settings: MatchingSettings
) -> DashboardView:
    timeout = settings.dashboard_peer_timeout_seconds
    peers = asyncio.gather(
        read_peer(settings.dashboard_profile_url, timeout, "DASHBOARD_PROFILE_URL"),
        read_peer(settings.dashboard_notification_url, timeout, "DASHBOARD_NOTIFICATION_URL"),
    )
    try:
        async with (
            runtime.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            now: datetime = await conn.fetchval("SELECT now()")
            mentees = await read_mentees(conn, now)
            mentors = await read_mentors(conn)
            proposals = await read_proposals(conn, now)
            skills = await read_skills(conn, settings.match_policy().config.strong_level)
        own = await own_metrics(runtime, settings.service_name)
    finally:
        (profile, profile_detail), (notification, notification_detail) = await peers
    return DashboardView(
        generated_at=now,
        mentees=mentees,
        mentors=mentors,
        proposals=proposals,
        skills=skills,
        notifications=notification_view(notification, notification_detail),
        pipeline=[
            pipeline_view("profile", profile, profile_detail),
            pipeline_view(settings.service_name, own),
            pipeline_view("notification", notification, notification_detail),
        ],
    )


# --- routes --------------------------------------------------------------------------------

_OPERATOR: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."},
    403: {"model": ErrorBody, "description": "Not the operator key, or none is configured."},
}


@router.get(
    "/v1/dashboard",
    tags=["operations"],
    summary="Numbers of the operator dashboard (operator)",
    description=(
        "What the page at /dashboard draws: mentees waiting and for how long, mentor load "
        "against capacity, proposals by status and the acceptance rate over time, skills in "
        "demand against strengths on offer (from the matching database), and mail failures, "
        "outbox backlogs and consumer lag read from each service's /metrics. A service that "
        "does not answer is reported unavailable."
    ),
    responses=_OPERATOR,
)
async def get_dashboard(_: OperatorDep, request: Request) -> DashboardView:
    runtime: ServiceRuntime[MatchingSettings, Any] = request.app.state.runtime
    return await read_dashboard(runtime, runtime.settings)


_STATIC_TYPES = {
    "dashboard.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
#: Only our own files: no inline script or style, no other origin.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


def _static_response(name: str) -> Response:
    return Response(
        content=_static(name),
        media_type=_STATIC_TYPES[name],
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/dashboard", include_in_schema=False)
async def dashboard_page() -> Response:
    """The page; it holds no data (the numbers need the operator key)."""
    return _static_response("dashboard.html")


@router.get("/dashboard/dashboard.js", include_in_schema=False)
async def dashboard_script() -> Response:
    return _static_response("dashboard.js")


@router.get("/dashboard/dashboard.css", include_in_schema=False)
async def dashboard_style() -> Response:
    return _static_response("dashboard.css")
