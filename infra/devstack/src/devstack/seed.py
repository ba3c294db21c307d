"""A realistic demo population and its mentorships, made through the services' public APIs
only, with the tokens the registrations returned.

Mentees look like engineers on their way into product management: strong in what engineers
bring (technical depth, delivery, problem framing), with gaps in what they must build
(customer insight, pricing, stakeholder communication, strategy). Mentors are product
managers with a few deep strengths each; about half made the move from engineering.

Then, so that the operator console's panels have something to show: both people accept a
share of the matcher's proposals, and each mentorship that starts goes some way through the
mentorship API: goals proposed and agreed, check-ins logged, surveys answered, re-assessments;
some complete (every goal achieved, or both agree), some end early, the rest keep running.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import httpx
from mentorship_shared.contracts.skills import TAXONOMY

FIRST_NAMES = (
    "Aisha", "Bruno", "Chen", "Dara", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kavya",
    "Lars", "Maya", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zofia", "Amara", "Basil", "Carmen", "Dmitri", "Esther", "Farah",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Schmidt", "Li", "Haddad", "Yilmaz", "Adeyemi", "Lund", "Sato", "Moreau", "Weber",
    "Iyer", "Berg", "Cohen", "Rao", "Ivanova", "Garcia", "Murphy", "Costa", "Nilsson", "Aziz",
    "Patel", "Novak", "Zhang", "Lopez", "Demir", "Kowalska", "Mensah", "Fischer", "Silva", "Ito",
)  # fmt: skip
# (timezone, languages besides English that people there often speak)
PLACES = (
    ("Europe/Berlin", ("de",)), ("Europe/Paris", ("fr",)), ("Europe/Madrid", ("es",)),
    ("Europe/London", ()), ("America/New_York", ("es",)), ("America/Sao_Paulo", ("pt",)),
    ("Asia/Kolkata", ("hi",)), ("Asia/Tokyo", ("ja",)), ("Africa/Lagos", ("yo",)),
    ("America/Los_Angeles", ()), ("Europe/Warsaw", ("pl",)), ("Asia/Singapore", ("zh",)),
)  # fmt: skip
INDUSTRIES = ("fintech", "healthtech", "e-commerce", "developer tools", "edtech", "gaming", "saas")
ENGINEER_ROLES = ("Backend engineer", "Frontend engineer", "Staff engineer", "Mobile engineer",
                  "Data engineer", "Engineering manager")  # fmt: skip
PM_ROLES = ("Product manager", "Senior product manager", "Group product manager",
            "Principal product manager", "Director of product")  # fmt: skip
TARGET_ROLES = ("Associate product manager", "Product manager", "Technical product manager")


#: What happens to a seeded mentorship, and how often.
Journey = Literal["completed", "completed_by_both", "ended_early", "running", "just_started"]
JOURNEYS: tuple[tuple[Journey, float], ...] = (
    ("completed", 0.3),
    ("completed_by_both", 0.1),
    ("ended_early", 0.2),
    ("running", 0.3),
    ("just_started", 0.1),
)
#: Goals a mentee might set on each gap (the first one that fits is taken).
GOALS = {
    "customer_insight": "Run five customer interviews and write up what they need",
    "market_competition": "Map three competitors and where our product stands against them",
    "pricing_monetisation": "Write a one-page pricing proposal for the next tier",
    "stakeholder_communication": "Present a roadmap change to sales and support",
    "product_strategy": "Write a one-page product strategy for a feature I know well",
    "roadmap_prioritisation": "Rank next quarter's backlog with a clear rationale",
    "product_metrics": "Define the success metrics of one launch and track them",
    "ux_feasibility": "Run a design review that trades scope against feasibility",
    "cross_functional_leadership": "Lead a planning session across design and engineering",
    "go_to_market": "Draft a launch plan with marketing for a small feature",
    "technical_depth": "Explain a system trade-off to a non-technical audience",
    "product_delivery": "Take one feature from discovery to release",
    "problem_framing": "Write a problem statement and spec for a customer request",
    "career_navigation": "Ask for a product shadowing day with my team's PM",
}
EARLY_END_REASONS = (
    "A new role leaves no time for it at the moment.",
    "We found our goals were too far apart.",
    "Moving to the product team internally; my new lead mentors me now.",
)


@dataclass(frozen=True)
class Person:
    """A registered person: the profile id and the owner token the registration returned."""

    id: str
    token: str


@dataclass
class SeedReport:
    mentors: list[Person] = field(default_factory=list)
    mentees: list[Person] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Mentees the matcher proposed a mentor to.
    proposed: int = 0
    #: Matches both sides accepted.
    accepted: int = 0
    #: Mentorships by what was done with them.
    journeys: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        lines = [f"registered {len(self.mentors)} mentors and {len(self.mentees)} mentees"]
        if self.proposed or self.accepted:
            lines.append(
                f"{self.proposed} mentees got a proposal; both sides accepted {self.accepted}"
            )
        if self.journeys:
            done = ", ".join(f"{journey} {n}" for journey, n in sorted(self.journeys.items()))
            lines.append(f"mentorships: {sum(self.journeys.values())} ({done})")
        if self.failures:
            lines.append(f"{len(self.failures)} requests failed, for example:")
            lines += [f"  {failure}" for failure in self.failures[:5]]
        lines.append(
            f"done in {self.seconds:.1f} s; more matches and mails follow within seconds: "
            "`devstack mail` lists the mails, the operator console shows the matcher's numbers "
            "and the program by month"
        )
        return "\n".join(lines)


def _person(rng: random.Random, run: str, index: int, kind: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    timezone, local_languages = rng.choice(PLACES)
    languages = ["en"] if rng.random() < 0.9 or not local_languages else []
    languages += [code for code in local_languages if rng.random() < 0.6]
    return {
        "name": f"{first} {last}",
        "email": f"{first}.{last}.{kind}{index}.{run}@example.com".lower(),
        "timezone": timezone,
        "languages": languages or list(local_languages),
        "years_experience": rng.randint(2, 18),
        "industries": rng.sample(INDUSTRIES, k=rng.randint(1, 2)),
    }


def mentor_profile(rng: random.Random, run: str, index: int) -> dict[str, Any]:
    body = _person(rng, run, index, "mentor")
    deep = rng.sample(TAXONOMY.ids, k=rng.randint(2, 4))
    body["skills"] = [
        {"skill": skill.id, "level": rng.randint(4, 5) if skill.id in deep else rng.randint(1, 3)}
        for skill in TAXONOMY.skills
        if skill.id in deep or rng.random() < 0.5
    ]
    body.update(
        current_role=rng.choice(PM_ROLES),
        capacity=rng.choice((1, 2, 2, 3, 3, 4, 5)),
        was_engineer=rng.random() < 0.5,
        bio="Happy to help engineers find their feet in product.",
    )
    return body


def mentee_profile(rng: random.Random, run: str, index: int) -> dict[str, Any]:
    body = _person(rng, run, index, "mentee")
    skills: list[dict[str, Any]] = []
    for skill in TAXONOMY.skills:
        if skill.group == "bring":
            current = rng.randint(3, 5)
            target = max(current, rng.randint(3, 5))
        else:
            current = rng.randint(0, 2)
            target = rng.randint(max(current, 3), 5)
        if rng.random() < 0.75:
            skills.append({"skill": skill.id, "current": current, "target": target})
    if not any(item["target"] > item["current"] for item in skills):
        skills.append({"skill": "pricing_monetisation", "current": 1, "target": 4})
        skills = list({item["skill"]: item for item in skills}.values())
    body.update(
        skills=skills,
        current_role=rng.choice(ENGINEER_ROLES),
        target_role=rng.choice(TARGET_ROLES),
        goals="Move into a product role within a year.",
    )
    return body


class Seeder:
    """The calls of one seeding run, at most ``concurrency`` at once; a call that fails is
    noted in the report and its step skipped, never retried blindly."""

    def __init__(self, http: httpx.AsyncClient, report: SeedReport, concurrency: int) -> None:
        self.http = http
        self.report = report
        self._limit = asyncio.Semaphore(concurrency)

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json: Any = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self._limit:
            try:
                response = await self.http.request(method, url, json=json, headers=headers)
            except httpx.HTTPError as error:
                self.report.failures.append(f"{method} {url}: {error!r}")
                return None
        if response.status_code not in expect:
            self.report.failures.append(
                f"{method} {url} {response.status_code}: {response.text[:200]}"
            )
            return None
        body: dict[str, Any] = response.json()
        return body


async def seed(
    profile_url: str,
    *,
    mentors: int = 30,
    mentees: int = 100,
    matching_url: str | None = None,
    mentorship_url: str | None = None,
    accept_share: float = 0.6,
    random_seed: int = 7,
    concurrency: int = 8,
    patience: float = 60.0,
) -> SeedReport:
    """Register ``mentors`` then ``mentees`` through POST /v1/mentors and /v1/mentees. With
    ``matching_url``, both sides then accept ``accept_share`` of the proposals the matcher made;
    with ``mentorship_url`` too, each mentorship that starts goes some way (see
    :data:`JOURNEYS`). ``patience`` bounds each wait for the services to catch up."""
    rng = random.Random(random_seed)
    run = uuid.uuid4().hex[:6]
    report = SeedReport()
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        for name, url in (
            ("profile", profile_url),
            ("matching", matching_url),
            ("mentorship", mentorship_url),
        ):
            if url:
                await _answers(http, name, url)
        seeder = Seeder(http, report, concurrency)
        await _register(seeder, profile_url, rng, run, mentors, mentees)
        if matching_url and accept_share > 0:
            accepted = await _accept_proposals(seeder, matching_url, rng, accept_share, patience)
            if mentorship_url and accepted:
                await _run_mentorships(seeder, mentorship_url, accepted, rng, patience)
    report.seconds = time.monotonic() - started
    return report


async def _answers(http: httpx.AsyncClient, name: str, url: str) -> None:
    try:
        await http.get(f"{url.rstrip('/')}/healthz")
    except httpx.TransportError as error:
        raise SystemExit(
            f"devstack seed: the {name} service does not answer at {url} ({error!r}); start "
            "the stack with `make dev` first"
        ) from None


async def _register(
    seeder: Seeder, profile_url: str, rng: random.Random, run: str, mentors: int, mentees: int
) -> None:
    report = seeder.report
    progress = _Progress("registering", mentors + mentees)

    async def register(kind: str, body: dict[str, Any], into: list[Person]) -> None:
        answer = await seeder.call("POST", f"{profile_url}/v1/{kind}s", json=body, expect=(201,))
        if answer is not None:
            into.append(Person(answer["id"], answer["token"]))
        progress.step()

    # The bodies are drawn in order before anything is sent: the same seed, the same people.
    mentor_bodies = [mentor_profile(rng, run, i) for i in range(mentors)]
    mentee_bodies = [mentee_profile(rng, run, i) for i in range(mentees)]
    await asyncio.gather(*(register("mentor", body, report.mentors) for body in mentor_bodies))
    await asyncio.gather(*(register("mentee", body, report.mentees) for body in mentee_bodies))
    progress.done()


# --- accepted matches --------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """An accepted match: the two people, as the matcher named them."""

    match_id: str
    mentee: Person
    mentor: Person


async def _until_settled(
    look: Callable[[], Awaitable[tuple[bool, int]]], patience: float, quiet: float = 2.0
) -> None:
    """Call ``look`` (whether everything is known yet, and a count that grows while the
    services work) until everything is known and the count stayed the same for ``quiet``
    seconds, or ``patience`` ran out."""
    deadline = time.monotonic() + patience
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        known, count = await look()
        if count != last:
            last, since = count, time.monotonic()
        elif known and time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.3)


async def _accept_proposals(
    seeder: Seeder, matching_url: str, rng: random.Random, share: float, patience: float
) -> list[Pair]:
    """Wait until the matcher has read every mentee and stopped proposing, then let both
    sides accept ``share`` of the proposals (drawn at random), through the matcher's API."""
    report = seeder.report
    mentors = {person.id: person for person in report.mentors}
    proposals: dict[str, dict[str, Any]] = {}
    known: set[str] = set()

    async def look_at(mentee: Person) -> None:
        try:
            response = await seeder.http.get(
                f"{matching_url}/v1/mentees/{mentee.id}/matches",
                headers={"Authorization": f"Bearer {mentee.token}"},
            )
        except httpx.HTTPError:
            return  # asked again on the next look
        if response.status_code != 200:
            return  # not read by the matcher yet
        known.add(mentee.id)
        for match in response.json()["matches"]:
            if match["status"] == "proposed":
                proposals[mentee.id] = match

    async def look() -> tuple[bool, int]:
        waiting = [m for m in report.mentees if m.id not in proposals]
        for start in range(0, len(waiting), 16):
            await asyncio.gather(*(look_at(m) for m in waiting[start : start + 16]))
        return len(known) == len(report.mentees), len(proposals)

    await _until_settled(look, patience)
    report.proposed = len(proposals)
    chosen = sorted(proposals)
    chosen = rng.sample(chosen, k=round(share * len(chosen)))
    progress = _Progress("accepting", len(chosen))
    pairs: list[Pair] = []

    async def accept(mentee: Person) -> None:
        match = proposals[mentee.id]
        mentor = mentors.get(match["mentor_id"])
        url = f"{matching_url}/v1/matches/{match['id']}/accept"
        if (
            mentor is not None
            and await seeder.call("POST", url, token=mentee.token, json={}) is not None
            and await seeder.call("POST", url, token=mentor.token, json={}) is not None
        ):
            pairs.append(Pair(match["id"], mentee, mentor))
        progress.step()

    by_id = {person.id: person for person in report.mentees}
    await asyncio.gather(*(accept(by_id[mentee_id]) for mentee_id in chosen))
    progress.done()
    report.accepted = len(pairs)
    return sorted(pairs, key=lambda pair: pair.match_id)


# --- mentorships -------------------------------------------------------------------------


def plan_journeys(count: int, rng: random.Random) -> list[Journey]:
    """What happens to each of ``count`` mentorships: every kind at least once when there are
    enough of them, the rest drawn by the weights of :data:`JOURNEYS`."""
    kinds = [kind for kind, _ in JOURNEYS]
    planned = kinds[:count]
    planned += rng.choices(kinds, weights=[w for _, w in JOURNEYS], k=max(0, count - len(kinds)))
    rng.shuffle(planned)
    return planned


def survey_answer(rng: random.Random, happy: bool, round_: str) -> dict[str, Any]:
    """A plausible answer: mostly satisfied people recommend; unhappy ones do not."""
    if happy:
        return {
            "round": round_,
            "csat": rng.choice((4, 4, 5, 5, 3)),
            "nps": rng.choice((10, 9, 9, 8, 7, 6)),
        }
    return {"round": round_, "csat": rng.choice((2, 3, 3)), "nps": rng.choice((3, 5, 6, 7))}


async def _run_mentorships(
    seeder: Seeder, mentorship_url: str, pairs: list[Pair], rng: random.Random, patience: float
) -> None:
    """Wait for the mentorship of every accepted match, then take each its planned way."""
    found: dict[str, dict[str, Any]] = {}

    async def look_for(pair: Pair) -> None:
        try:
            response = await seeder.http.get(
                f"{mentorship_url}/v1/people/{pair.mentee.id}/mentorships",
                headers={"Authorization": f"Bearer {pair.mentee.token}"},
            )
        except httpx.HTTPError:
            return  # asked again on the next look
        if response.status_code == 200:
            for mentorship in response.json()["mentorships"]:
                if mentorship["match_id"] == pair.match_id:
                    found[pair.match_id] = mentorship

    async def look() -> tuple[bool, int]:
        await asyncio.gather(*(look_for(p) for p in pairs if p.match_id not in found))
        return len(found) == len(pairs), len(found)

    await _until_settled(look, patience, quiet=0.0)
    started = [pair for pair in pairs if pair.match_id in found]
    if len(started) < len(pairs):
        seeder.report.failures.append(
            f"{len(pairs) - len(started)} accepted matches had no mentorship within {patience:.0f} s"
        )
    plans = plan_journeys(len(started), rng)
    # Each journey draws its numbers from a generator of its own: they run concurrently.
    seeds = [rng.randrange(2**32) for _ in started]
    progress = _Progress("mentorships", len(started))

    async def run(pair: Pair, journey: Journey, seed: int) -> None:
        url = f"{mentorship_url}/v1/mentorships/{found[pair.match_id]['id']}"
        if await _take(seeder, url, pair, journey, random.Random(seed)):
            seeder.report.journeys[journey] += 1
        progress.step()

    await asyncio.gather(*(run(p, j, s) for p, j, s in zip(started, plans, seeds, strict=True)))
    progress.done()


async def _take(seeder: Seeder, url: str, pair: Pair, journey: Journey, rng: random.Random) -> bool:
    """One mentorship along ``journey``; False as soon as a step failed."""
    mentee, mentor = pair.mentee.token, pair.mentor.token
    view = await seeder.call("GET", url, token=mentee)
    if view is None:
        return False
    gaps = [skill["skill"] for skill in view["progress"]["skills"]]
    goals = []
    for skill in rng.sample(gaps, k=min(len(gaps), rng.randint(1, 2))):
        due = date.today() + timedelta(weeks=rng.randint(3, 10))
        body = {
            "skill": skill,
            "title": GOALS.get(skill, "Close this gap with a small real project"),
            "milestones": [
                {"title": "Agree on the first step with my mentor", "due_on": due.isoformat()}
            ],
        }
        proposed = await seeder.call("POST", f"{url}/goals", token=mentee, json=body)
        if proposed is None:
            return False
        goals.append(proposed["goals"][-1])
    if journey == "just_started":
        return True
    for goal in goals:
        if await seeder.call("POST", f"{url}/goals/{goal['id']}/agreement", token=mentor) is None:
            return False
    happy = journey != "ended_early" or rng.random() < 0.5
    check_ins = rng.randint(1, 3)
    for number in range(1, check_ins + 1):
        logged = await seeder.call(
            "POST",
            f"{url}/check-ins",
            token=rng.choice((mentee, mentor)),
            json={
                "discussed": f"Check-in {number}: progress on the goals and what got in the way",
                "next_step": "Try the next milestone and bring the results",
            },
        )
        if logged is None:
            return False
    for token in (mentee, mentor):
        answer = survey_answer(rng, happy, "first_check_in")
        if await seeder.call("POST", f"{url}/feedback", token=token, json=answer) is None:
            return False
    levels = [
        {"skill": s["skill"], "current": rng.randint(s["start"], s["target"])}
        for s in view["progress"]["skills"]
    ]
    if (
        levels
        and await seeder.call("POST", f"{url}/assessments", token=mentee, json={"levels": levels})
        is None
    ):
        return False
    if journey == "running":
        return True
    if journey == "completed":
        for goal in goals:
            achieved = await seeder.call(
                "POST", f"{url}/goals/{goal['id']}/achievement", token=mentor
            )
            if achieved is None:
                return False
        ended = await seeder.call("POST", f"{url}/completion", token=mentee)
    elif journey == "completed_by_both":
        if await seeder.call("POST", f"{url}/completion", token=mentor) is None:
            return False
        ended = await seeder.call("POST", f"{url}/completion", token=mentee)
    else:
        ended = await seeder.call(
            "POST",
            f"{url}/ending",
            token=rng.choice((mentee, mentor)),
            json={"reason": rng.choice(EARLY_END_REASONS)},
        )
    if ended is None:
        return False
    # The closing survey: both sides after a completion, often only one after an early end.
    answering = (
        (mentee, mentor)
        if journey != "ended_early"
        else rng.sample((mentee, mentor), k=rng.randint(1, 2))
    )
    for token in answering:
        answer = survey_answer(rng, happy, "closing")
        if await seeder.call("POST", f"{url}/feedback", token=token, json=answer) is None:
            return False
    return True


class _Progress:
    """A progress bar on a terminal, one line per stage; nothing in a log file."""

    def __init__(self, stage: str, total: int) -> None:
        self.stage = stage
        self.total = total
        self.count = 0
        self.shown = sys.stderr.isatty()
        self._draw()

    def step(self) -> None:
        self.count += 1
        self._draw()

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr)

    def _draw(self) -> None:
        if not self.shown:  # a redrawn bar is noise in a log file
            return
        width = 30
        filled = width * self.count // max(self.total, 1)
        sys.stderr.write(
            f"\r{self.stage:<12} [{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total}"
        )
        sys.stderr.flush()
