"""The mentorship pages against a fake mentorship API: what each side sees, the forms' bodies
sent with the person's session credential, the API's field errors beside their controls,
and refused posts that reach no API."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.web_pages import csrf_token, sign_in, web_pages

SKILLS = [
    {"id": "pricing_monetisation", "name": "Pricing", "description": "Money.", "group": "build"},
    {"id": "product_strategy", "name": "Strategy", "description": "Direction.", "group": "build"},
]
MENTEE, MENTOR = uuid.uuid4(), uuid.uuid4()
MENTORSHIP = uuid.uuid4()
GOAL = uuid.uuid4()
MILESTONE = uuid.uuid4()


def mentorship_view(side: str, **changes: Any) -> dict[str, Any]:
    """A running mentorship as the mentorship API shows it to `side`."""
    view: dict[str, Any] = {
        "id": str(MENTORSHIP),
        "match_id": str(uuid.uuid4()),
        "mentee_id": str(MENTEE),
        "mentor_id": str(MENTOR),
        "your_side": side,
        "status": "active",
        "cadence_weeks": 2,
        "started_at": "2027-01-04T09:00:00Z",
        "next_check_in_due": "2027-02-01T09:00:00Z",
        "lapses_at": "2027-02-15T09:00:00Z",
        "check_ins": 1,
        "goals": [
            {
                "id": str(GOAL),
                "skill": "pricing_monetisation",
                "title": "Price the team plan",
                "status": "proposed",
                "proposed_at": "2027-01-05T10:00:00Z",
                "agreed_at": None,
                "achieved_at": None,
                "milestones": [
                    {
                        "id": str(MILESTONE),
                        "title": "Draft the pricing page",
                        "due_on": "2027-01-25",
                        "done": False,
                        "done_at": None,
                    }
                ],
            }
        ],
        "progress": {
            "skills": [
                {
                    "skill": "pricing_monetisation",
                    "start": 1,
                    "target": 4,
                    "current": 2,
                    "levels_closed": 1,
                    "gap_closed": 1 / 3,
                },
                {
                    "skill": "product_strategy",
                    "start": 2,
                    "target": 4,
                    "current": 2,
                    "levels_closed": 0,
                    "gap_closed": 0.0,
                },
            ],
            "gap_closed_overall": 0.2,
        },
        "check_in_log": [
            {
                "number": 1,
                "logged_by": "mentor",
                "logged_at": "2027-01-18T17:00:00Z",
                "discussed": "Competitor pricing pages",
                "next_step": "Draft our page",
            }
        ],
        "feedback": [],
        "surveys_open": ["first_check_in"],
        "completion_proposed_by": None,
        "ended_at": None,
        "ending": None,
        "end_cause": None,
        "ended_by": None,
        "end_reason": None,
        "feedback_due_by": None,
        "outcome_recorded_at": None,
    }
    view.update(changes)
    return view


class FakeMentorshipApi:
    """The profile API's skills and a mentorship API holding one mentorship; `refusals` answer
    given (method, path) with a 4xx instead."""

    def __init__(self, side: str) -> None:
        self.view = mentorship_view(side)
        self.listed: list[dict[str, Any]] = [
            {"id": str(MENTORSHIP), "status": "active", "started_at": "2027-01-04T09:00:00Z"}
        ]
        self.refusals: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.sent: list[tuple[str, str, str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == "profile" and path == "/v1/skills":
            return httpx.Response(200, json=SKILLS)
        assert request.url.host == "mentorship", request.url
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, path, request.headers.get("authorization", ""), body))
        refusal = self.refusals.get((request.method, path))
        if refusal is not None:
            return httpx.Response(refusal[0], json=refusal[1])
        if path.endswith("/mentorships") and path.startswith("/v1/people/"):
            return httpx.Response(200, json={"mentorships": self.listed})
        if not path.startswith(f"/v1/mentorships/{MENTORSHIP}"):
            return httpx.Response(404, json={"error": "not_found", "message": "No such."})
        return httpx.Response(200 if request.method in ("GET", "PUT") else 201, json=self.view)

    def changes(self) -> list[tuple[str, str, str, Any]]:
        return [s for s in self.sent if s[0] != "GET"]


@pytest.fixture
async def as_mentee() -> AsyncIterator[tuple[httpx.AsyncClient, FakeMentorshipApi, str]]:
    fake = FakeMentorshipApi("mentee")
    async with web_pages(fake.handle) as client:
        yield client, fake, sign_in(client, MENTEE, "mentee")


@pytest.fixture
async def as_mentor() -> AsyncIterator[tuple[httpx.AsyncClient, FakeMentorshipApi, str]]:
    fake = FakeMentorshipApi("mentor")
    async with web_pages(fake.handle) as client:
        yield client, fake, sign_in(client, MENTOR, "mentor")


PAGE = f"/mentorships/{MENTORSHIP}"


async def test_one_mentorship_opens_at_once_and_none_says_how_one_starts(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, credential = as_mentee
    answer = await client.get("/mentorships")
    assert (answer.status_code, answer.headers["location"]) == (303, PAGE)
    assert fake.sent[0][:3] == ("GET", f"/v1/people/{MENTEE}/mentorships", f"Bearer {credential}")
    fake.listed = []
    empty = await client.get("/mentorships")
    assert empty.status_code == 200
    assert "No mentorship yet" in empty.text


async def test_the_mentee_sees_goals_schedule_log_progress_and_the_open_survey(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, _, _ = as_mentee
    page = (await client.get(PAGE)).text
    assert "Mentorship with your mentor" in page
    assert "Price the team plan" in page
    assert "waiting for your mentor to agree" in page
    assert "Draft the pricing page</span>, due 25 January 2027" in page
    assert "due by <strong>1 February 2027</strong>" in page
    assert "Competitor pricing pages" in page
    assert "logged by your mentor" in page
    assert "1 of 3 levels closed" in page
    assert "<strong>20%</strong> of the gap is closed" in page
    assert f'href="{PAGE}/surveys/first_check_in"' in page
    assert f'href="{PAGE}/goals/new"' in page
    assert f'href="{PAGE}/levels"' in page
    assert "Agree to this goal" not in page
    assert "Withdraw" in page


async def test_the_mentor_agrees_to_a_goal_with_a_button_and_the_api_s_refusal_is_shown(
    as_mentor: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, credential = as_mentor
    page = (await client.get(PAGE)).text
    assert "Mentorship with your mentee" in page
    assert "Agree to this goal" in page
    assert f'href="{PAGE}/goals/new"' not in page
    token = csrf_token(page)
    agreed = await client.post(f"{PAGE}/goals/{GOAL}/agree", data={"csrf_token": token})
    assert (agreed.status_code, agreed.headers["location"]) == (303, f"{PAGE}?notice=goal-agreed")
    assert fake.changes() == [
        (
            "POST",
            f"/v1/mentorships/{MENTORSHIP}/goals/{GOAL}/agreement",
            f"Bearer {credential}",
            None,
        )
    ]
    fake.refusals[("POST", f"/v1/mentorships/{MENTORSHIP}/goals/{GOAL}/agreement")] = (
        409,
        {"error": "goal_already_agreed", "message": "This goal is agreed already.", "fields": []},
    )
    again = await client.post(f"{PAGE}/goals/{GOAL}/agree", data={"csrf_token": token})
    assert again.status_code == 409
    assert re.search(r'role="alert".*This goal is agreed already\.', again.text, re.S)
    shown = await client.get(f"{PAGE}?notice=goal-agreed")
    assert "You agreed to the goal." in shown.text


async def test_a_proposed_goal_sends_its_rows_and_the_api_s_messages_land_beside_them(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, credential = as_mentee
    form_page = (await client.get(f"{PAGE}/goals/new")).text
    assert '<option value="product_strategy">Strategy (now 2, target 4)</option>' in form_page
    fake.refusals[("POST", f"/v1/mentorships/{MENTORSHIP}/goals")] = (
        422,
        {
            "error": "invalid_request",
            "message": "The request is invalid.",
            "fields": [
                {"field": "title", "message": "String should have at least 3 characters"},
                {"field": "milestones.0.due_on", "message": "Input should be a valid date"},
            ],
        },
    )
    refused = await client.post(
        f"{PAGE}/goals/new",
        data={
            "csrf_token": csrf_token(form_page),
            "skill": "pricing_monetisation",
            "title": "x",
            "milestone-2-title": "Ask sales",
            "milestone-2-due": "soon",
        },
    )
    assert refused.status_code == 422
    page = refused.text
    assert re.search(r'id="title-error">.*at least 3 characters', page)
    assert re.search(r'id="milestone-2-due-error">.*valid date', page)
    # The summary at the top says which field each message is about, and links to it.
    assert '<a href="#milestone-2-due">Step 2, done by: Input should be a valid date</a>' in page
    assert re.search(r'<input id="milestone-2-due"[^>]*aria-invalid="true"', page)
    assert 'value="Ask sales"' in page  # what was typed stays
    assert '<option value="pricing_monetisation" selected>' in page
    assert fake.changes() == [
        (
            "POST",
            f"/v1/mentorships/{MENTORSHIP}/goals",
            f"Bearer {credential}",
            {
                "skill": "pricing_monetisation",
                "title": "x",
                "milestones": [{"title": "Ask sales", "due_on": "soon"}],
            },
        )
    ]


async def test_a_survey_answer_goes_as_numbers_and_consent_and_a_missing_score_is_named(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, _ = as_mentee
    form_page = (await client.get(f"{PAGE}/surveys/first_check_in")).text
    assert 'type="radio" id="csat-5" name="csat" value="5"' in form_page
    assert 'type="radio" id="nps-0" name="nps" value="0"' in form_page
    assert "recommend this mentor" in form_page
    token = csrf_token(form_page)
    fake.refusals[("POST", f"/v1/mentorships/{MENTORSHIP}/feedback")] = (
        422,
        {
            "error": "invalid_request",
            "message": "The request is invalid.",
            "fields": [{"field": "nps", "message": "Field required"}],
        },
    )
    refused = await client.post(
        f"{PAGE}/surveys/first_check_in",
        data={"csrf_token": token, "csat": "4", "comment": "Helpful", "share_comment": "yes"},
    )
    assert refused.status_code == 422
    assert re.search(r'id="nps-error">.*Field required', refused.text)
    assert '<a href="#nps">How likely you are to recommend: Field required</a>' in refused.text
    assert 'id="csat-4" name="csat" value="4" checked' in refused.text
    del fake.refusals[("POST", f"/v1/mentorships/{MENTORSHIP}/feedback")]
    answered = await client.post(
        f"{PAGE}/surveys/first_check_in",
        data={"csrf_token": token, "csat": "4", "nps": "9", "comment": "Helpful"},
    )
    assert answered.headers["location"] == f"{PAGE}?notice=survey"
    assert [body for *_, body in fake.changes()] == [
        {"round": "first_check_in", "csat": 4, "comment": "Helpful", "share_comment": True},
        {
            "round": "first_check_in",
            "csat": 4,
            "nps": 9,
            "comment": "Helpful",
            "share_comment": False,
        },
    ]
    for wrong in (f"{PAGE}/surveys/halfway", "/mentorships/not-an-id"):
        unknown = await client.get(wrong)
        assert unknown.status_code == 404
        assert "Page not found" in unknown.text  # a page, not the framework's JSON


async def test_levels_check_ins_cadence_and_the_ending_send_what_the_forms_hold(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, _ = as_mentee
    levels_page = (await client.get(f"{PAGE}/levels")).text
    # Each gap skill offered at the level last assessed.
    assert re.search(
        r'<select id="level-pricing_monetisation".*?<option value="2" selected>', levels_page, re.S
    )
    token = csrf_token(levels_page)
    posts = [
        (
            f"{PAGE}/levels",
            {"level-pricing_monetisation": "3", "level-product_strategy": "2"},
            "notice=levels",
            {
                "levels": [
                    {"skill": "pricing_monetisation", "current": 3},
                    {"skill": "product_strategy", "current": 2},
                ]
            },
        ),
        (
            f"{PAGE}/check-ins/new",
            {"discussed": "Roadmap", "next_step": "Rank features"},
            "notice=check-in",
            {"discussed": "Roadmap", "next_step": "Rank features"},
        ),
        (f"{PAGE}/cadence", {"weeks": "4"}, "notice=cadence", {"weeks": 4}),
        (f"{PAGE}/ending", {"reason": "New job"}, "notice=ended", {"reason": "New job"}),
        (
            f"{PAGE}/goals/{GOAL}/milestones/{MILESTONE}",
            {"done": "yes"},
            "notice=milestone",
            {"done": True},
        ),
    ]
    for path, data, notice, _ in posts:
        answer = await client.post(path, data={"csrf_token": token, **data})
        assert answer.status_code == 303, (path, answer.text[:300])
        assert answer.headers["location"].endswith(notice)
    assert [(method, body) for method, _, _, body in fake.changes()] == [
        ("POST", posts[0][3]),
        ("POST", posts[1][3]),
        ("PUT", posts[2][3]),
        ("POST", posts[3][3]),
        ("PUT", posts[4][3]),
    ]


async def test_completion_says_whether_it_completed_or_waits_for_the_other_side(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, _ = as_mentee
    token = csrf_token((await client.get(PAGE)).text)
    fake.view = mentorship_view("mentee", completion_proposed_by="mentee")
    waiting = await client.post(f"{PAGE}/completion", data={"csrf_token": token})
    assert waiting.headers["location"] == f"{PAGE}?notice=completion-proposed"
    assert "it completes when your mentor agrees" in (await client.get(PAGE)).text
    fake.view = mentorship_view(
        "mentee",
        status="completed",
        ending="completed",
        end_cause="both_agreed",
        ended_by="mentee",
        ended_at="2027-03-01T12:00:00Z",
        feedback_due_by="2027-03-15T12:00:00Z",
        surveys_open=["closing"],
    )
    done = await client.post(f"{PAGE}/completion", data={"csrf_token": token})
    assert done.headers["location"] == f"{PAGE}?notice=completed"
    page = (await client.get(PAGE)).text
    assert "Completed: you both agreed it was done, on 1 March 2027." in page
    assert "open until 15 March 2027" in page
    assert f'href="{PAGE}/surveys/closing"' in page
    assert "Log a check-in" not in page


async def test_posts_without_a_valid_token_reach_no_api_and_strangers_go_to_sign_in(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, fake, _ = as_mentee
    await client.get(PAGE)  # the csrf cookie
    for path in (
        f"{PAGE}/goals/new",
        f"{PAGE}/goals/{GOAL}/agree",
        f"{PAGE}/goals/{GOAL}/achieve",
        f"{PAGE}/goals/{GOAL}/remove",
        f"{PAGE}/goals/{GOAL}/milestones/{MILESTONE}",
        f"{PAGE}/check-ins/new",
        f"{PAGE}/cadence",
        f"{PAGE}/surveys/first_check_in",
        f"{PAGE}/levels",
        f"{PAGE}/completion",
        f"{PAGE}/ending",
    ):
        refused = await client.post(path, data={"csrf_token": "0" * 64, "weeks": "1"})
        assert refused.status_code == 403, path
    assert fake.changes() == []
    client.cookies.delete("session")
    for path in ("/mentorships", PAGE, f"{PAGE}/goals/new", f"{PAGE}/levels"):
        answer = await client.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in"), path


async def test_someone_else_s_mentorship_is_not_found_and_keeps_the_person_signed_in(
    as_mentee: tuple[httpx.AsyncClient, FakeMentorshipApi, str],
) -> None:
    client, _, _ = as_mentee
    answer = await client.get(f"/mentorships/{uuid.uuid4()}")
    assert answer.status_code == 404
    assert "No such mentorship" in answer.text
    assert not [c for c in answer.headers.get_list("set-cookie") if c.startswith("session=")]
