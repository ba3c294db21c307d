"""The demo seed's own decisions: which way each mentorship goes, plausible survey answers, a
failed call noted rather than raised, and what it tells the person who ran it."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest
from devstack.seed import (
    GOALS,
    JOURNEYS,
    Person,
    Seeder,
    SeedReport,
    plan_journeys,
    survey_answer,
)
from mentorship_shared.contracts.skills import TAXONOMY


def test_every_kind_of_journey_happens_once_there_are_enough_mentorships() -> None:
    kinds = {kind for kind, _ in JOURNEYS}
    for count in (len(kinds), 12, 49):
        planned = plan_journeys(count, random.Random(count))
        assert len(planned) == count
        assert set(planned) == kinds
    assert len(plan_journeys(2, random.Random(1))) == 2
    assert plan_journeys(0, random.Random(1)) == []
    assert sum(weight for _, weight in JOURNEYS) == pytest.approx(1.0)


def test_the_plan_follows_the_weights_and_the_seed() -> None:
    planned = Counter(plan_journeys(2000, random.Random(7)))
    for kind, weight in JOURNEYS:
        assert planned[kind] / 2000 == pytest.approx(weight, abs=0.04), kind
    assert plan_journeys(30, random.Random(3)) == plan_journeys(30, random.Random(3))


def test_survey_answers_are_in_range_and_the_unhappy_do_not_recommend() -> None:
    rng = random.Random(5)
    for happy in (True, False):
        answers = [survey_answer(rng, happy, "closing") for _ in range(200)]
        assert all(1 <= a["csat"] <= 5 and 0 <= a["nps"] <= 10 for a in answers)
        assert {a["round"] for a in answers} == {"closing"}
        promoters = sum(a["nps"] >= 9 for a in answers)
        assert (promoters > 50) is happy


def test_every_skill_has_a_goal_that_fits_the_api() -> None:
    assert set(GOALS) == set(TAXONOMY.ids)
    assert all(3 <= len(title) <= 200 for title in GOALS.values())


async def test_a_failed_call_is_noted_and_not_raised() -> None:
    def service(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        if request.headers.get("authorization") != "Bearer t":
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(201, json={"id": "m1"})

    report = SeedReport()
    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as http:
        seeder = Seeder(http, report, concurrency=2)
        assert await seeder.call("POST", "http://s/ok", token="t", json={}) == {"id": "m1"}
        assert await seeder.call("POST", "http://s/ok", token="other", json={}) is None
        assert await seeder.call("GET", "http://s/down") is None
    assert len(report.failures) == 2
    assert report.failures[0].startswith("POST http://s/ok 404")
    assert "ConnectError" in report.failures[1]


def test_the_summary_says_what_was_made() -> None:
    report = SeedReport(
        mentors=[Person("a", "t")] * 3,
        mentees=[Person("b", "u")] * 5,
        proposed=4,
        accepted=2,
        journeys=Counter({"completed": 1, "ended_early": 1}),
        seconds=3.25,
    )
    lines = report.summary().splitlines()
    assert lines[0] == "registered 3 mentors and 5 mentees"
    assert lines[1] == "4 mentees got a proposal; both sides accepted 2"
    assert lines[2] == "mentorships: 2 (completed 1, ended_early 1)"
    assert lines[-1].startswith("done in 3.2 s")
