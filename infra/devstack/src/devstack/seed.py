"""A realistic demo population, registered through the profile service's public API.

Mentees look like engineers on their way into product management: strong in what engineers
bring (technical depth, delivery, problem framing), with gaps in what they must build
(customer insight, pricing, stakeholder communication, strategy). Mentors are product
managers with a few deep strengths each; about half made the move from engineering.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class SeedReport:
    mentors: list[str] = field(default_factory=list)
    mentees: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"registered {len(self.mentors)} mentors and {len(self.mentees)} mentees "
            f"in {self.seconds:.1f} s"
        ]
        if self.failures:
            lines.append(f"{len(self.failures)} registrations failed, for example:")
            lines += [f"  {failure}" for failure in self.failures[:5]]
        lines.append(
            "matches and mails follow within seconds: `devstack mail` lists the mails, "
            "GET http://127.0.0.1:8003/v1/notifications with the operator key lists the sends"
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


async def seed(
    profile_url: str,
    *,
    mentors: int = 30,
    mentees: int = 100,
    random_seed: int = 7,
    concurrency: int = 8,
) -> SeedReport:
    """Register `mentors` then `mentees` through POST /v1/mentors and /v1/mentees."""
    rng = random.Random(random_seed)
    run = uuid.uuid4().hex[:6]
    report = SeedReport()
    started = time.monotonic()
    limit = asyncio.Semaphore(concurrency)
    done = 0
    total = mentors + mentees

    async with httpx.AsyncClient(base_url=profile_url, timeout=30) as client:
        try:
            await client.get("/healthz")
        except httpx.TransportError as error:
            raise SystemExit(
                f"devstack seed: the profile service does not answer at {profile_url} "
                f"({error!r}); start the stack with `make dev` first"
            ) from None

        async def register(path: str, body: dict[str, Any], into: list[str]) -> None:
            nonlocal done
            async with limit:
                response = await client.post(path, json=body)
            if response.status_code == 201:
                into.append(response.json()["id"])
            else:
                report.failures.append(f"{path} {response.status_code}: {response.text[:200]}")
            done += 1
            _progress(done, total)

        await asyncio.gather(
            *(
                register("/v1/mentors", mentor_profile(rng, run, i), report.mentors)
                for i in range(mentors)
            )
        )
        await asyncio.gather(
            *(
                register("/v1/mentees", mentee_profile(rng, run, i), report.mentees)
                for i in range(mentees)
            )
        )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    report.seconds = time.monotonic() - started
    return report


def _progress(done: int, total: int) -> None:
    if not sys.stderr.isatty():  # a redrawn bar is noise in a log file
        return
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\rseeding [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()
