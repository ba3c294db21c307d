"""Learning resources on the matches page and the learning plan page, against a fake matching
API: resources for the gaps the mentor of the plan's match does not cover, none for mentors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.web_pages import sign_in, web_pages

SKILLS = [
    {"id": "pricing_monetisation", "name": "Pricing", "description": "Money.", "group": "build"},
    {
        "id": "stakeholder_communication",
        "name": "Stakeholders",
        "description": "People.",
        "group": "build",
    },
]
MENTEE, MENTOR = uuid.uuid4(), uuid.uuid4()
OPEN_MATCH, OLD_MATCH = uuid.uuid4(), uuid.uuid4()
BOOK = {
    "id": "book-1",
    "kind": "book",
    "title": "Talking to People",
    "by": "A. Author",
    "summary": "Why updates matter.",
}
PRACTICE = {
    "id": "practice-1",
    "kind": "practice",
    "title": "Send a weekly update",
    "by": None,
    "summary": "Write to people outside engineering.",
}


def match(match_id: uuid.UUID, status: str) -> dict[str, Any]:
    return {
        "id": str(match_id),
        "mentee_id": str(MENTEE),
        "mentor_id": str(MENTOR),
        "score": 0.6,
        "status": status,
        "explanation": "Covers your gap in pricing.",
        "covered_skills": ["pricing_monetisation"],
        "uncovered_skills": ["stakeholder_communication"],
        "accepted_by": [],
        "proposed_at": "2027-01-04T09:00:00Z",
        "accepted_at": None,
    }


PLAN: dict[str, Any] = {
    "mentee_id": str(MENTEE),
    "match_id": str(OPEN_MATCH),
    "match_status": "proposed",
    "mentor_id": str(MENTOR),
    "resources_version": 1,
    "gaps": [
        {
            "skill": "stakeholder_communication",
            "current": 2,
            "target": 4,
            "covered_by_mentor": False,
            "resources": [PRACTICE, BOOK],
        },
        {
            "skill": "pricing_monetisation",
            "current": 1,
            "target": 4,
            "covered_by_mentor": True,
            "resources": [],
        },
    ],
    "last_issued": None,
}


class FakeMatcher:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.plan: tuple[int, dict[str, Any]] = (200, PLAN)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.paths.append(path)
        if path == "/v1/skills":
            return httpx.Response(200, json=SKILLS)
        if path.endswith("/matches"):
            return httpx.Response(
                200, json={"matches": [match(OPEN_MATCH, "proposed"), match(OLD_MATCH, "declined")]}
            )
        if path == f"/v1/mentees/{MENTEE}/plan":
            return httpx.Response(self.plan[0], json=self.plan[1])
        return httpx.Response(404, json={"error": "not_found", "message": "No."})


@pytest.fixture
async def web() -> AsyncIterator[tuple[httpx.AsyncClient, FakeMatcher]]:
    fake = FakeMatcher()
    async with web_pages(fake.handle) as client:
        yield client, fake


def article(page: str, match_id: uuid.UUID) -> str:
    start = page.index(f'id="match-{match_id}"')
    return page[start : page.index("</article>", start)]


async def test_the_open_match_lists_resources_for_its_uncovered_gaps(
    web: tuple[httpx.AsyncClient, FakeMatcher],
) -> None:
    client, _ = web
    sign_in(client, MENTEE, "mentee")
    page = (await client.get("/matches")).text
    open_match = article(page, OPEN_MATCH)
    assert "Stakeholders" in open_match
    assert "(you 2, target 4)" in open_match
    assert (
        "<strong>Send a weekly update</strong>. Write to people outside engineering." in open_match
    )
    assert "Book:</span> <strong>Talking to People</strong>, A. Author." in open_match
    # The plan speaks of the open match only; an old one points to the plan.
    old = article(page, OLD_MATCH)
    assert "Talking to People" not in old
    assert 'href="/plan"' in old


async def test_without_a_plan_yet_the_matches_page_still_shows_and_points_to_the_plan(
    web: tuple[httpx.AsyncClient, FakeMatcher],
) -> None:
    client, fake = web
    fake.plan = (404, {"error": "mentee_not_found", "message": "Not yet."})
    sign_in(client, MENTEE, "mentee")
    answer = await client.get("/matches")
    assert answer.status_code == 200
    assert 'href="/plan"' in article(answer.text, OPEN_MATCH)
    waiting = await client.get("/plan")
    assert "has not read your profile yet" in waiting.text


async def test_the_plan_page_lists_every_gap_and_marks_those_the_mentor_covers(
    web: tuple[httpx.AsyncClient, FakeMatcher],
) -> None:
    client, _ = web
    sign_in(client, MENTEE, "mentee")
    page = (await client.get("/plan")).text
    assert page.index("Stakeholders") < page.index("Pricing</h2>")  # the plan's order
    assert "Your mentor, once you both accept, helps" in page
    pricing = page[page.index('id="gap-pricing_monetisation"') :]
    assert "Your mentor is strong here" in pricing
    assert "Talking to People" in page
    assert 'href="/plan" aria-current="page"' in page


async def test_mentors_see_no_resources_and_no_plan(
    web: tuple[httpx.AsyncClient, FakeMatcher],
) -> None:
    client, fake = web
    sign_in(client, MENTOR, "mentor")
    page = (await client.get("/matches")).text
    assert 'class="resources"' not in page
    assert 'href="/plan"' not in page
    assert not [p for p in fake.paths if p.endswith("/plan")]
    refused = await client.get("/plan")
    assert refused.status_code == 404
    assert "Learning plans are for engineers" in refused.text
