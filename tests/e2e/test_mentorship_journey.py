"""A mentorship from the accepted match to its outcome, end to end over HTTP: the services as
processes (profile, matching, notification, mentorship) on real PostgreSQL, the broker and an
SMTP server.

Two check-ins two weeks apart need weeks to pass: the mentorship service runs on a development
clock (:class:`devstack.clock.DevClock`, DEV_CLOCK_CONTROL) that the test moves ahead. Only
its "now" moves; its scheduler raises the reminders, the outbox and the broker carry them,
and the notification service mails them to the SMTP server, as in production.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack.clock import DevClock
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.topics import MENTORSHIP_EVENTS, namespaced

from tests.support.kafka import committed, end_offsets, produce, read_topic
from tests.support.services import OPERATOR_KEY, eventually

pytestmark = pytest.mark.e2e

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"
#: How long before a due check-in the reminder comes (CHECK_IN_REMINDER_LEAD_HOURS).
REMINDER_LEAD = timedelta(hours=48)
CADENCE = timedelta(weeks=2)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer(OPERATOR_KEY)


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


class Journey:
    """What the test knows of the two people and where the services are."""

    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self.profile, self.matching, self.notification, self.mentorship = (
            stack.url(name) for name in ("profile", "matching", "notification", "mentorship")
        )
        self.mentee: dict[str, Any] = {}
        self.mentor: dict[str, Any] = {}

    @property
    def as_mentee(self) -> dict[str, str]:
        return bearer(self.mentee["token"])

    @property
    def as_mentor(self) -> dict[str, str]:
        return bearer(self.mentor["token"])

    async def mentees_list(self, url: str, key: str) -> list[dict[str, Any]]:
        """The list under ``key`` that ``url`` answers the mentee; empty while it does not
        know the mentee yet."""
        response = await self.http.get(url, headers=self.as_mentee)
        found: list[dict[str, Any]] = response.json()[key] if response.status_code == 200 else []
        return found

    async def mentor_slots(self) -> dict[str, Any]:
        return await ok(
            await self.http.get(
                f"{self.matching}/v1/mentors/{self.mentor['id']}", headers=self.as_mentor
            )
        )

    async def sent_mails(self) -> list[dict[str, Any]]:
        """Every mail the notification service sent, as its operator listing shows it."""
        listing = await ok(
            await self.http.get(
                f"{self.notification}/v1/notifications",
                params={"limit": 200},
                headers=OPERATOR,
            )
        )
        return [n for n in listing["notifications"] if n["status"] == "sent"]

    async def mails_about(self, event_type: str, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` mails about events of ``event_type`` were sent."""

        async def sent() -> list[dict[str, Any]]:
            return [m for m in await self.sent_mails() if m["source_event_type"] == event_type]

        try:
            return await eventually(sent, lambda mails: len(mails) >= count, timeout=30)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.stack.log_tail(30)}") from error


def at_the_sink(sink: SmtpSink, mails: list[dict[str, Any]]) -> list[str]:
    """The subjects of ``mails`` as the SMTP server received them, each exactly once."""
    received = Counter(str(m["Message-ID"]).strip() for m in sink.messages())
    subjects = {str(m["Message-ID"]).strip(): str(m["Subject"]) for m in sink.messages()}
    for mail in mails:
        assert received[mail["message_id"]] == 1, (mail, received)
    return [subjects[mail["message_id"]] for mail in mails]


async def test_a_mentorship_from_acceptance_to_completion_frees_the_slot_once_and_counts(
    mentorship_stack: Stack,
    dev_clock: DevClock,
    smtp_sink: SmtpSink,
    kafka: KafkaHandle,
    namespace: str,
    unique: str,
) -> None:
    stack = mentorship_stack
    async with httpx.AsyncClient(timeout=10) as http:
        journey = Journey(stack, http)
        await accept_a_match(journey, unique)
        mentorship = await the_mentorship_starts(journey)
        url = f"{journey.mentorship}/v1/mentorships/{mentorship['id']}"
        goal = await agree_on_a_goal(journey, url)

        # The first check-in: its reminder comes two days before it is due.
        started_at = datetime.fromisoformat(mentorship["started_at"])
        dev_clock.advance_to(started_at + CADENCE - REMINDER_LEAD + timedelta(hours=1))
        first_reminders = await journey.mails_about("CheckInReminderIssued", 2)
        assert sorted(m["recipient_role"] for m in first_reminders) == ["mentee", "mentor"]
        assert all(
            s.startswith("Your first check-in with ")
            for s in at_the_sink(smtp_sink, first_reminders)
        )
        first = await ok(
            await http.post(
                f"{url}/check-ins",
                json={
                    "discussed": "Which customers feel the price of the API tier",
                    "next_step": "Interview three customers about willingness to pay",
                },
                headers=journey.as_mentee,
            ),
            201,
        )
        assert (first["check_ins"], first["surveys_open"]) == (1, ["first_check_in"])
        surveys = await journey.mails_about("FeedbackRequested", 2)
        assert all(s.startswith("How is your mentorship") for s in at_the_sink(smtp_sink, surveys))
        for headers, csat, nps in ((journey.as_mentee, 4, 9), (journey.as_mentor, 5, 10)):
            await ok(
                await http.post(
                    f"{url}/feedback",
                    json={"round": "first_check_in", "csat": csat, "nps": nps},
                    headers=headers,
                ),
                201,
            )

        # The second check-in: due two weeks after the first, reminded two days before.
        logged_at = datetime.fromisoformat(first["check_in_log"][0]["logged_at"])
        assert datetime.fromisoformat(first["next_check_in_due"]) == logged_at + CADENCE
        dev_clock.advance_to(logged_at + CADENCE - REMINDER_LEAD + timedelta(hours=1))
        reminders = await journey.mails_about("CheckInReminderIssued", 4)
        second_reminders = [m for m in reminders if m not in first_reminders]
        assert sorted(m["recipient_role"] for m in second_reminders) == ["mentee", "mentor"]
        assert all(
            s.startswith("Check-in 2 with ") for s in at_the_sink(smtp_sink, second_reminders)
        )
        second = await ok(
            await http.post(
                f"{url}/check-ins",
                json={
                    "discussed": "What the interviews said about pricing",
                    "next_step": "Write the pricing proposal",
                },
                headers=journey.as_mentor,
            ),
            201,
        )
        assert second["check_ins"] == 2

        # Re-assessment, the goal achieved, and with it the mentorship complete.
        reassessed = await ok(
            await http.post(
                f"{url}/assessments",
                json={
                    "levels": [
                        {"skill": PRICING, "current": 3},
                        {"skill": STAKEHOLDERS, "current": 3},
                    ]
                },
                headers=journey.as_mentee,
            ),
            201,
        )
        # Pricing 1 -> 3 of a gap of 3, stakeholders 2 -> 3 of 2: 3 of 5 levels closed.
        assert reassessed["progress"]["gap_closed_overall"] == pytest.approx(3 / 5)
        milestone = goal["milestones"][0]
        await ok(
            await http.put(
                f"{url}/goals/{goal['id']}/milestones/{milestone['id']}",
                json={"done": True},
                headers=journey.as_mentee,
            )
        )
        await ok(
            await http.post(f"{url}/goals/{goal['id']}/achievement", headers=journey.as_mentor)
        )
        completed = await ok(await http.post(f"{url}/completion", headers=journey.as_mentee))
        assert (completed["status"], completed["end_cause"]) == ("completed", "goals_achieved")
        assert completed["surveys_open"] == ["closing"]
        for headers, csat, nps in ((journey.as_mentee, 5, 10), (journey.as_mentor, 4, 8)):
            await ok(
                await http.post(
                    f"{url}/feedback",
                    json={"round": "closing", "csat": csat, "nps": nps},
                    headers=headers,
                ),
                201,
            )
        closed = await ok(await http.get(url, headers=OPERATOR))
        assert closed["outcome_recorded_at"] is not None
        ended = await journey.mails_about("MentorshipEnded", 2)
        assert all(" is complete" in s for s in at_the_sink(smtp_sink, ended))

        await the_report_counts_it(journey)

        # Every mail of the mentorship went out once, to both people, and nothing else did.
        about_it = Counter(
            (m["source_event_type"], m["recipient_role"])
            for m in await journey.sent_mails()
            if m["source_event_type"]
            in {
                "MentorshipStarted",
                "CheckInReminderIssued",
                "FeedbackRequested",
                "MentorshipEnded",
            }
        )
        assert about_it == {
            (event, role): 2 if event == "CheckInReminderIssued" else 1
            for event in (
                "MentorshipStarted",
                "CheckInReminderIssued",
                "FeedbackRequested",
                "MentorshipEnded",
            )
            for role in ("mentee", "mentor")
        }
        copies = Counter(str(m["Message-ID"]).strip() for m in smtp_sink.messages())
        assert max(copies.values()) == 1, copies

        # The matcher frees the mentor's slot, once.
        slots = await eventually(journey.mentor_slots, lambda s: s["open_matches"] == 0, timeout=30)
        assert (slots["capacity"], slots["free_slots"]) == (1, 1)
        match = await ok(
            await http.get(
                f"{journey.matching}/v1/matches/{mentorship['match_id']}",
                headers=journey.as_mentee,
            )
        )
        assert match["status"] == "concluded"
        await the_ending_delivered_again_changes_nothing(journey, kafka, namespace, mentorship)


async def accept_a_match(journey: Journey, unique: str) -> None:
    """A mentor with one slot and an engineer whose gaps are the mentor's strengths register
    through the profile API; both accept the proposal through the matcher's API."""
    http = journey.http
    journey.mentor = await ok(
        await http.post(
            f"{journey.profile}/v1/mentors",
            json={
                "name": "Priya Pricing",
                "email": f"priya-{unique}@example.com",
                "timezone": "Europe/London",
                "languages": ["en"],
                "capacity": 1,
                "was_engineer": True,
                "skills": [
                    {"skill": PRICING, "level": 5},
                    {"skill": STAKEHOLDERS, "level": 4},
                ],
            },
        ),
        201,
    )
    await eventually(
        lambda: http.get(
            f"{journey.matching}/v1/mentors/{journey.mentor['id']}", headers=journey.as_mentor
        ),
        lambda response: response.status_code == 200,
    )
    journey.mentee = await ok(
        await http.post(
            f"{journey.profile}/v1/mentees",
            json={
                "name": "Erin Engineer",
                "email": f"erin-{unique}@example.com",
                "timezone": "Europe/Berlin",
                "languages": ["en"],
                "skills": [
                    {"skill": PRICING, "current": 1, "target": 4},
                    {"skill": STAKEHOLDERS, "current": 2, "target": 4},
                    {"skill": "technical_depth", "current": 5, "target": 5},
                ],
                "target_role": "Product manager, payments",
            },
        ),
        201,
    )

    [match] = await eventually(
        lambda: journey.mentees_list(
            f"{journey.matching}/v1/mentees/{journey.mentee['id']}/matches", "matches"
        ),
        lambda found: len(found) == 1,
        timeout=30,
    )
    assert match["mentor_id"] == journey.mentor["id"]
    url = f"{journey.matching}/v1/matches/{match['id']}/accept"
    half = await ok(await http.post(url, json={}, headers=journey.as_mentee))
    assert (half["status"], half["accepted_by"]) == ("proposed", ["mentee"])
    both = await ok(await http.post(url, json={}, headers=journey.as_mentor))
    assert both["status"] == "accepted"
    slots = await journey.mentor_slots()
    assert (slots["capacity"], slots["open_matches"], slots["free_slots"]) == (1, 1, 0)


async def the_mentorship_starts(journey: Journey) -> dict[str, Any]:
    """One mentorship for the accepted match, seen by both people, its gaps from the
    mentee's self-assessment; both are mailed that it started."""
    http = journey.http

    [summary] = await eventually(
        lambda: journey.mentees_list(
            f"{journey.mentorship}/v1/people/{journey.mentee['id']}/mentorships", "mentorships"
        ),
        lambda found: len(found) == 1,
        timeout=30,
    )
    assert (summary["mentor_id"], summary["status"]) == (journey.mentor["id"], "active")
    url = f"{journey.mentorship}/v1/mentorships/{summary['id']}"
    as_mentor = await eventually(
        lambda: http.get(url, headers=journey.as_mentor),
        lambda response: response.status_code == 200,
    )
    assert as_mentor.json()["your_side"] == "mentor"
    mentorship = await ok(await http.get(url, headers=journey.as_mentee))
    assert mentorship["your_side"] == "mentee"
    assert mentorship["cadence_weeks"] == 2
    assert {p["skill"] for p in mentorship["progress"]["skills"]} == {PRICING, STAKEHOLDERS}
    started = await journey.mails_about("MentorshipStarted", 2)
    assert sorted(m["recipient_role"] for m in started) == ["mentee", "mentor"]
    return mentorship


async def agree_on_a_goal(journey: Journey, url: str) -> dict[str, Any]:
    """The mentee proposes a goal on a gap with one milestone; the mentor agrees to it."""
    http = journey.http
    proposed = await ok(
        await http.post(
            f"{url}/goals",
            json={
                "skill": PRICING,
                "title": "Write a one-page pricing proposal for the API tier",
                "milestones": [
                    {
                        "title": "Interview three customers about willingness to pay",
                        "due_on": (date.today() + timedelta(days=21)).isoformat(),
                    }
                ],
            },
            headers=journey.as_mentee,
        ),
        201,
    )
    [goal] = proposed["goals"]
    assert goal["status"] == "proposed"
    # Only the mentor agrees.
    refused = await http.post(f"{url}/goals/{goal['id']}/agreement", headers=journey.as_mentee)
    assert refused.status_code == 403, refused.text
    agreed = await ok(
        await http.post(f"{url}/goals/{goal['id']}/agreement", headers=journey.as_mentor)
    )
    [agreed_goal] = agreed["goals"]
    assert agreed_goal["status"] == "agreed"
    return dict(agreed_goal)


async def the_ending_delivered_again_changes_nothing(
    journey: Journey, kafka: KafkaHandle, namespace: str, mentorship: dict[str, Any]
) -> None:
    """The MentorshipEnded record once more as it was (the inbox knows its event id) and as a
    new event about the same ending (the match has concluded already): the matcher frees no
    second slot."""
    topic = namespaced(MENTORSHIP_EVENTS, namespace)
    records = await read_topic(
        kafka.bootstrap_servers,
        topic,
        until=lambda rs: any(b'"MentorshipEnded"' in r.value for r in rs),
    )
    [ended] = [r for r in records if json.loads(r.value)["event_type"] == "MentorshipEnded"]
    again = json.loads(ended.value)
    again["event_id"] = str(uuid.uuid4())
    await produce(
        kafka.bootstrap_servers,
        topic,
        [ended.value, json.dumps(again).encode()],
        key=ended.key,
        headers=list(ended.headers),
    )
    ends = await end_offsets(kafka.bootstrap_servers, topic)
    group = f"{namespace}matching"  # the matching service's consumer group

    async def behind() -> dict[int, tuple[int, int]]:
        offsets = await committed(kafka.bootstrap_servers, group, topic)
        # An empty partition has nothing to commit: the group commits the offsets of what it read.
        return {
            p: (offsets.get(p, -1), end)
            for p, end in ends.items()
            if end > 0 and offsets.get(p, -1) < end
        }

    await eventually(behind, lambda left: not left, timeout=30)
    slots = await journey.mentor_slots()
    assert (slots["capacity"], slots["open_matches"], slots["free_slots"]) == (1, 0, 1)
    assert mentorship["match_id"] == json.loads(ended.value)["payload"]["match_id"]


async def the_report_counts_it(journey: Journey) -> None:
    """The operators' program report: one mentorship started and completed, four answers
    (promoters 9, 10, 10 and a passive 8: NPS 75), the gaps closed per skill."""
    report = await ok(
        await journey.http.get(f"{journey.mentorship}/v1/reports/program", headers=OPERATOR)
    )
    total = report["total"]
    assert (total["started"], total["completed"], total["ended_early"], total["lapsed"]) == (
        1,
        1,
        0,
        0,
    )
    assert total["feedback"]["answers"] == 4
    assert total["feedback"]["csat_median"] == 4.5
    assert total["feedback"]["nps"] == 75.0
    assert {g["skill"]: (g["gap_levels"], g["levels_closed"]) for g in total["gap_closed"]} == {
        PRICING: (3, 2),
        STAKEHOLDERS: (2, 1),
    }
    assert total["gap_closed_overall"] == pytest.approx(3 / 5)
    # The months add up to the total.
    assert sum(month["started"] for month in report["months"]) == 1
    assert sum(month["completed"] for month in report["months"]) == 1
    refused = await journey.http.get(
        f"{journey.mentorship}/v1/reports/program", headers=journey.as_mentee
    )
    assert refused.status_code == 403
