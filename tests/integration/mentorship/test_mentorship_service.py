"""The mentorship service in-process: real PostgreSQL, real broker, a clock the tests move."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_service.app import create_app
from mentorship_shared.contracts.events import MatchAccepted, ProfileDeleted
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS

from tests.support.services import OPERATOR_KEY, mentorship_settings, serve_in_process

from .conftest import (
    MovableClock,
    Pair,
    accepted_pair,
    mentorship_events,
    of_type,
    ok,
    publish,
    started_mentorship,
    wire,
)

pytestmark = pytest.mark.integration

PRICING = "pricing_monetisation"
STRATEGY = "product_strategy"


async def test_a_mentorship_runs_from_the_accepted_match_to_its_outcome(
    service: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, clock: MovableClock
) -> None:
    pair = await accepted_pair(kafka, namespace, clock)
    mentorship = await started_mentorship(service, pair)
    url = f"/v1/mentorships/{mentorship['id']}"
    assert mentorship["your_side"] == "mentee"
    assert mentorship["cadence_weeks"] == 2
    assert {s["skill"] for s in mentorship["progress"]["skills"]} == {PRICING, STRATEGY}

    # Goals: the mentee proposes, the mentor agrees.
    proposed = await ok(
        await service.post(
            f"{url}/goals",
            json={
                "skill": PRICING,
                "title": "Write a one-page pricing strategy for feature X",
                "milestones": [{"title": "Interview three customers", "due_on": "2031-01-15"}],
            },
            headers=pair.as_mentee,
        ),
        201,
    )
    goal = proposed["goals"][0]
    assert (goal["status"], len(goal["milestones"])) == ("proposed", 1)
    agreed = await ok(
        await service.post(f"{url}/goals/{goal['id']}/agreement", headers=pair.as_mentor)
    )
    assert agreed["goals"][0]["status"] == "agreed"
    milestone = goal["milestones"][0]
    marked = await ok(
        await service.put(
            f"{url}/goals/{goal['id']}/milestones/{milestone['id']}",
            json={"done": True},
            headers=pair.as_mentee,
        )
    )
    assert marked["goals"][0]["milestones"][0]["done"] is True

    # Twelve days later the first check-in is two days away: one reminder.
    clock.advance(timedelta(days=12))
    events = await mentorship_events(
        kafka, namespace, lambda es: bool(of_type(es, "CheckInReminderIssued"))
    )
    assert of_type(events, "CheckInReminderIssued")[0]["payload"]["check_in_number"] == 1

    logged = await ok(
        await service.post(
            f"{url}/check-ins",
            json={"discussed": "Pricing page draft", "next_step": "Talk to sales"},
            headers=pair.as_mentor,
        ),
        201,
    )
    assert logged["check_ins"] == 1
    assert logged["surveys_open"] == ["first_check_in"]
    assert logged["check_in_log"][0]["next_step"] == "Talk to sales"

    for headers, csat, nps, comment, share in (
        (pair.as_mentee, 4, 9, "Grace explains pricing well", True),
        (pair.as_mentor, 4, 8, "Ada could prepare more", False),
    ):
        await ok(
            await service.post(
                f"{url}/feedback",
                json={
                    "round": "first_check_in",
                    "csat": csat,
                    "nps": nps,
                    "comment": comment,
                    "share_comment": share,
                },
                headers=headers,
            ),
            201,
        )
    # The mentor's text stays with the mentor (no consent); the mentee's reaches the mentor.
    as_mentee = await ok(await service.get(url, headers=pair.as_mentee))
    theirs = next(a for a in as_mentee["feedback"] if a["given_by"] == "mentor")
    assert (theirs["comment"], theirs["csat"], theirs["nps"]) == (None, None, None)
    as_mentor = await ok(await service.get(url, headers=pair.as_mentor))
    shared = next(a for a in as_mentor["feedback"] if a["given_by"] == "mentee")
    assert shared["comment"] == "Grace explains pricing well"
    as_operator = await ok(await service.get(url))
    assert {a["comment"] for a in as_operator["feedback"]} == {
        "Grace explains pricing well",
        "Ada could prepare more",
    }

    # The second check-in's reminder, once, twelve days after the first check-in.
    clock.advance(timedelta(days=12))
    await mentorship_events(
        kafka, namespace, lambda es: len(of_type(es, "CheckInReminderIssued")) == 2
    )
    await ok(
        await service.post(
            f"{url}/check-ins",
            json={"discussed": "Sales feedback", "next_step": "Ship the page"},
            headers=pair.as_mentee,
        ),
        201,
    )
    reassessed = await ok(
        await service.post(
            f"{url}/assessments",
            json={"levels": [{"skill": PRICING, "current": 3}, {"skill": STRATEGY, "current": 3}]},
            headers=pair.as_mentee,
        ),
        201,
    )
    assert reassessed["progress"]["gap_closed_overall"] == pytest.approx(3 / 5)

    await ok(await service.post(f"{url}/goals/{goal['id']}/achievement", headers=pair.as_mentor))
    completed = await ok(await service.post(f"{url}/completion", headers=pair.as_mentee))
    assert (completed["status"], completed["end_cause"]) == ("completed", "goals_achieved")
    assert completed["surveys_open"] == ["closing"]
    for headers, csat, nps in ((pair.as_mentee, 5, 10), (pair.as_mentor, 4, 9)):
        await ok(
            await service.post(
                f"{url}/feedback",
                json={"round": "closing", "csat": csat, "nps": nps},
                headers=headers,
            ),
            201,
        )

    events = await mentorship_events(
        kafka, namespace, lambda es: bool(of_type(es, "MentorshipOutcomeRecorded"))
    )
    ended = of_type(events, "MentorshipEnded")
    assert [e["payload"]["ending"] for e in ended] == ["completed"]
    assert ended[0]["payload"]["mentor_id"] == str(pair.mentor.profile_id)
    [outcome] = of_type(events, "MentorshipOutcomeRecorded")
    assert outcome["payload"]["completed"] is True
    assert outcome["payload"]["mentee_feedback"] == {"round": "closing", "csat": 5, "nps": 10}
    assert outcome["payload"]["gap_closed_overall"] == pytest.approx(3 / 5)
    assert [e["event_type"] for e in events if e["event_type"] == "FeedbackRequested"] == [
        "FeedbackRequested",
        "FeedbackRequested",
    ]
    assert len(of_type(events, "CheckInReminderIssued")) == 2
    # Every event of the mentorship is keyed by it, so they stay in order on one partition.
    assert {e["payload"]["mentorship_id"] for e in events} == {mentorship["id"]}

    report = await ok(await service.get("/v1/reports/program"))
    month = report["months"][-1]
    assert (month["started"], month["completed"], month["ended_early"], month["lapsed"]) == (
        1,
        1,
        0,
        0,
    ) or report["total"]["completed"] == 1
    total = report["total"]
    assert (total["started"], total["completed"]) == (1, 1)
    assert total["feedback"]["answers"] == 4
    assert total["feedback"]["nps"] == 75.0  # 3 promoters, 1 passive (8)
    assert total["feedback"]["csat_median"] == 4.0
    assert {g["skill"]: g["levels_closed"] for g in total["gap_closed"]} == {
        PRICING: 2,
        STRATEGY: 1,
    }


async def test_only_the_two_people_and_operators_see_it_and_bad_input_changes_nothing(
    service: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    db: asyncpg.Connection,
) -> None:
    pair = await accepted_pair(kafka, namespace, clock)
    mentorship = await started_mentorship(service, pair)
    url = f"/v1/mentorships/{mentorship['id']}"
    stranger = {"Authorization": "Bearer not-anyones-token"}
    assert (await service.get(url, headers=stranger)).status_code == 404
    assert (await service.get(f"/v1/mentorships/{uuid.uuid4()}")).status_code == 404
    missing = await service.get(url, headers={"Authorization": ""})
    assert missing.status_code == 401
    listed = await service.get(f"/v1/people/{pair.mentee.profile_id}/mentorships", headers=stranger)
    assert listed.status_code == 404

    # Operators read; the changes are the two people's.
    refused = await service.post(f"{url}/check-ins", json={"discussed": "x", "next_step": "y"})
    assert (refused.status_code, refused.json()["error"]) == (403, "operators_read_only")
    # The mentor does not propose goals.
    wrong_side = await service.post(
        f"{url}/goals", json={"skill": PRICING, "title": "Mentor's goal"}, headers=pair.as_mentor
    )
    assert wrong_side.status_code == 403

    outbox_before = await db.fetchval("SELECT count(*) FROM outbox")
    for path, body, field in (
        (f"{url}/goals", {"skill": "go_to_market", "title": "Not a gap"}, "skill"),
        (f"{url}/goals", {"skill": "no_such_skill", "title": "Unknown"}, "skill"),
        (f"{url}/goals", {"skill": PRICING, "title": "x"}, "title"),
        (f"{url}/goals", {"skill": PRICING, "title": "Two\nlines"}, "title"),
        (f"{url}/goals", {"skill": PRICING, "title": "Fine", "owner": "me"}, "owner"),
        (
            f"{url}/goals",
            {
                "skill": PRICING,
                "title": "Many steps",
                "milestones": [{"title": "step", "due_on": "2031-01-01"}] * 11,
            },
            "milestones",
        ),
        (f"{url}/check-ins", {"discussed": "x" * 2001, "next_step": "y"}, "discussed"),
        (f"{url}/check-ins", {"discussed": "   ", "next_step": "y"}, "discussed"),
        (f"{url}/feedback", {"round": "first_check_in", "csat": 6, "nps": 5}, "csat"),
        (f"{url}/feedback", {"round": "first_check_in", "csat": "5", "nps": 5}, "csat"),
        (f"{url}/feedback", {"round": "first_check_in", "csat": 3, "nps": 11}, "nps"),
        (f"{url}/feedback", {"round": "halfway", "csat": 3, "nps": 5}, "round"),
        (f"{url}/assessments", {"levels": []}, "levels"),
        (f"{url}/assessments", {"levels": [{"skill": PRICING, "current": 6}]}, "levels.0.current"),
        (f"{url}/assessments", {"levels": [{"skill": "go_to_market", "current": 2}]}, "levels"),
        (f"{url}/ending", {"reason": ""}, "reason"),
    ):
        response = await service.post(path, json=body, headers=pair.as_mentee)
        assert response.status_code == 422, (body, response.text)
        assert field in [f["field"] for f in response.json()["fields"]], (body, response.json())
    cadence = await service.put(f"{url}/cadence", json={"weeks": 3}, headers=pair.as_mentor)
    assert cadence.status_code == 422
    assert cadence.json()["fields"][0]["field"] == "weeks"
    # Not open yet: the first survey needs a check-in.
    early = await service.post(
        f"{url}/feedback",
        json={"round": "first_check_in", "csat": 4, "nps": 8},
        headers=pair.as_mentee,
    )
    assert (early.status_code, early.json()["error"]) == (409, "survey_not_open")

    assert await db.fetchval("SELECT count(*) FROM outbox") == outbox_before
    assert await db.fetchval("SELECT count(*) FROM goals") == 0
    assert await db.fetchval("SELECT count(*) FROM feedback") == 0
    assert await db.fetchval("SELECT count(*) FROM assessments") == 0
    unchanged = await ok(await service.get(url, headers=pair.as_mentee))
    assert unchanged == mentorship

    # Five goals, not six.
    for n in range(5):
        await ok(
            await service.post(
                f"{url}/goals",
                json={"skill": PRICING, "title": f"Goal {n}"},
                headers=pair.as_mentee,
            ),
            201,
        )
    sixth = await service.post(
        f"{url}/goals", json={"skill": STRATEGY, "title": "Goal 6"}, headers=pair.as_mentee
    )
    assert (sixth.status_code, sixth.json()["error"]) == (409, "too_many_goals")
    assert await db.fetchval("SELECT count(*) FROM goals") == 5


async def test_a_mentorship_without_check_ins_is_nudged_once_and_then_lapses(
    service: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, clock: MovableClock
) -> None:
    pair = await accepted_pair(kafka, namespace, clock)
    mentorship = await started_mentorship(service, pair)
    clock.advance(timedelta(days=22))  # past the nudge (day 21), before the lapse (day 28)
    events = await mentorship_events(
        kafka, namespace, lambda es: bool(of_type(es, "CheckInMissed"))
    )
    # The reminder was due too, but a nudge makes it pointless: only the nudge went out.
    assert of_type(events, "CheckInReminderIssued") == []
    clock.advance(timedelta(days=6))
    events = await mentorship_events(
        kafka, namespace, lambda es: bool(of_type(es, "MentorshipEnded"))
    )
    [ended] = of_type(events, "MentorshipEnded")
    assert (ended["payload"]["ending"], ended["payload"]["cause"]) == ("lapsed", "no_check_in")
    assert len(of_type(events, "CheckInMissed")) == 1
    view = await ok(await service.get(f"/v1/mentorships/{mentorship['id']}"))
    assert view["status"] == "lapsed"
    # The outcome comes when the closing window passed, with whatever answers came in.
    clock.advance(timedelta(days=14))
    events = await mentorship_events(
        kafka, namespace, lambda es: bool(of_type(es, "MentorshipOutcomeRecorded"))
    )
    [outcome] = of_type(events, "MentorshipOutcomeRecorded")
    assert (outcome["payload"]["ending"], outcome["payload"]["mentee_feedback"]) == (
        "lapsed",
        None,
    )


async def test_two_schedulers_on_one_database_remind_once(
    mentorship_db: str,
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    service: httpx.AsyncClient,
    db: asyncpg.Connection,
) -> None:
    pairs = [await accepted_pair(kafka, namespace, clock) for _ in range(5)]
    for pair in pairs:
        await started_mentorship(service, pair)
    second = create_app(mentorship_settings(mentorship_db, kafka, namespace), clock=clock)
    async with serve_in_process(second, bearer=OPERATOR_KEY):
        clock.advance(timedelta(days=12))
        events = await mentorship_events(
            kafka, namespace, lambda es: len(of_type(es, "CheckInReminderIssued")) >= 5
        )
        # Both schedulers keep polling a while longer: still one reminder a mentorship.
        await asyncio.sleep(1.0)
        assert (
            await db.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = $1", "CheckInReminderIssued"
            )
            == 5
        )
    reminded = [e["payload"]["mentorship_id"] for e in of_type(events, "CheckInReminderIssued")]
    assert len(reminded) == len(set(reminded)) == 5


async def test_an_acceptance_delivered_again_starts_no_second_mentorship(
    service: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    db: asyncpg.Connection,
) -> None:
    pair = await accepted_pair(kafka, namespace, clock)
    await started_mentorship(service, pair)
    again = MatchAccepted(
        match_id=pair.match_id,
        mentee_id=pair.mentee.profile_id,
        mentor_id=pair.mentor.profile_id,
        accepted_at=clock(),
    )
    # A new envelope (new event id) for the same acceptance, then a marker that must follow.
    await publish(kafka, namespace, MATCH_EVENTS, wire(again, "matching"))
    marker = await accepted_pair(kafka, namespace, clock)
    await started_mentorship(service, marker)
    assert (
        await db.fetchval("SELECT count(*) FROM mentorships WHERE match_id = $1", pair.match_id)
        == 1
    )
    assert (
        await db.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'MentorshipStarted'") == 2
    )


async def test_a_deleted_profile_ends_its_mentorship_and_erases_what_was_written(
    service: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    db: asyncpg.Connection,
) -> None:
    pair: Pair = await accepted_pair(kafka, namespace, clock)
    mentorship = await started_mentorship(service, pair)
    url = f"/v1/mentorships/{mentorship['id']}"
    await ok(
        await service.post(
            f"{url}/goals",
            json={"skill": PRICING, "title": "Price it like Grace"},
            headers=pair.as_mentee,
        ),
        201,
    )
    await ok(
        await service.post(
            f"{url}/check-ins",
            json={"discussed": "Ada's pricing page", "next_step": "Call Grace"},
            headers=pair.as_mentee,
        ),
        201,
    )
    await publish(
        kafka,
        namespace,
        PROFILE_EVENTS,
        wire(
            ProfileDeleted(profile_id=pair.mentee.profile_id, kind="mentee", version=2), "profile"
        ),
    )
    events = await mentorship_events(
        kafka, namespace, lambda es: bool(of_type(es, "MentorshipEnded"))
    )
    [ended] = of_type(events, "MentorshipEnded")
    assert (ended["payload"]["cause"], ended["payload"]["ended_by"]) == (
        "profile_deleted",
        "mentee",
    )
    # The mentee's token no longer opens anything; the mentor sees the ending, not the texts.
    assert (await service.get(url, headers=pair.as_mentee)).status_code == 404
    seen = await ok(await service.get(url, headers=pair.as_mentor))
    assert seen["status"] == "ended_early"
    assert seen["goals"][0]["title"] == "[erased]"
    assert seen["check_in_log"][0]["discussed"] == "[erased]"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM people WHERE profile_id = $1", pair.mentee.profile_id
        )
        == 0
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM erased_profiles WHERE id = $1", pair.mentee.profile_id
        )
        == 1
    )

    # A replayed acceptance for the erased mentee starts nothing.
    await publish(
        kafka,
        namespace,
        MATCH_EVENTS,
        wire(
            MatchAccepted(
                match_id=uuid.uuid4(),
                mentee_id=pair.mentee.profile_id,
                mentor_id=pair.mentor.profile_id,
                accepted_at=clock(),
            ),
            "matching",
        ),
    )
    marker = await accepted_pair(kafka, namespace, clock)
    await started_mentorship(service, marker)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM mentorships WHERE mentee_id = $1", pair.mentee.profile_id
        )
        == 1
    )


async def test_the_report_is_for_operators_and_checks_its_months(
    service: httpx.AsyncClient, clock: MovableClock
) -> None:
    person = {"Authorization": "Bearer someone"}
    assert (await service.get("/v1/reports/program", headers=person)).status_code == 403
    bad = await service.get("/v1/reports/program", params={"from": "2026-13"})
    assert (bad.status_code, bad.json()["fields"][0]["field"]) == (422, "from")
    backwards = await service.get(
        "/v1/reports/program", params={"from": "2026-05", "to": "2026-04"}
    )
    assert backwards.status_code == 422
    too_long = await service.get("/v1/reports/program", params={"from": "2020-01", "to": "2026-04"})
    assert too_long.status_code == 422
    report = await ok(
        await service.get("/v1/reports/program", params={"from": "2026-01", "to": "2026-03"})
    )
    assert [m["period"] for m in report["months"]] == ["2026-01", "2026-02", "2026-03"]
    assert report["total"]["period"] == "2026-01..2026-03"
    assert report["total"]["feedback"]["nps"] is None
    default = await ok(await service.get("/v1/reports/program"))
    assert len(default["months"]) == 12
    assert default["last_month"] == clock().strftime("%Y-%m")
