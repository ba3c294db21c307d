"""End to end over HTTP, Kafka, PostgreSQL and SMTP: two mentors with different strengths and
an engineer whose biggest gap is one mentor's strength."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack

from tests.support.services import OPERATOR_KEY, eventually, mail_received

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_right_mentor_is_proposed_and_both_people_get_one_email(
    stack: Stack, smtp_sink: SmtpSink, unique: str
) -> None:
    profile, matching, notification = (
        stack.urls[n] for n in ("profile", "matching", "notification")
    )
    async with httpx.AsyncClient(timeout=10) as http:
        pricing_pm = await http.post(
            f"{profile}/v1/mentors",
            json={
                "name": "Priya Pricing",
                "email": f"priya-{unique}@example.com",
                "timezone": "Europe/London",
                "languages": ["en", "hi"],
                "capacity": 2,
                "was_engineer": True,
                "skills": [
                    {"skill": "pricing_monetisation", "level": 5},
                    {"skill": "market_competition", "level": 4},
                    {"skill": "technical_depth", "level": 3},
                ],
            },
        )
        communication_pm = await http.post(
            f"{profile}/v1/mentors",
            json={
                "name": "Sam Stakeholder",
                "email": f"sam-{unique}@example.com",
                "timezone": "America/New_York",
                "languages": ["en"],
                "capacity": 2,
                "was_engineer": False,
                "skills": [
                    {"skill": "stakeholder_communication", "level": 5},
                    {"skill": "cross_functional_leadership", "level": 5},
                ],
            },
        )
        assert [r.status_code for r in (pricing_pm, communication_pm)] == [201, 201]
        # Profiles travel on different partitions, in no fixed order: wait until the matcher
        # knows both mentors, or the engineer could be matched before one of them arrives.
        for mentor in (pricing_pm, communication_pm):
            await eventually(
                lambda mentor=mentor: http.get(
                    f"{matching}/v1/mentors/{mentor.json()['id']}",
                    headers=bearer(mentor.json()["token"]),
                ),
                lambda response: response.status_code == 200,
            )
        engineer = await http.post(
            f"{profile}/v1/mentees",
            json={
                "name": "Erin Engineer",
                "email": f"erin-{unique}@example.com",
                "timezone": "Europe/Berlin",
                "languages": ["en", "de"],
                "skills": [
                    {"skill": "pricing_monetisation", "current": 0, "target": 4},
                    {"skill": "stakeholder_communication", "current": 2, "target": 3},
                    {"skill": "technical_depth", "current": 5, "target": 5},
                ],
                "target_role": "Product manager, payments",
            },
        )
        assert engineer.status_code == 201, engineer.text
        mentee_id = engineer.json()["id"]

        async def matches() -> list[dict[str, Any]]:
            response = await http.get(
                f"{matching}/v1/mentees/{mentee_id}/matches",
                headers=bearer(engineer.json()["token"]),
            )
            found: list[dict[str, Any]] = (
                response.json()["matches"] if response.status_code == 200 else []
            )
            return found

        try:
            [match] = await eventually(matches, lambda found: len(found) == 1, timeout=30)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stack.log_tail()}") from error
        assert match["mentor_id"] == pricing_pm.json()["id"]
        assert match["status"] == "proposed"
        assert "pricing" in match["explanation"]

        mails = await mail_received(smtp_sink, 2, timeout=30)

        async def sent() -> list[dict[str, Any]]:
            listing: list[dict[str, Any]] = (
                await http.get(f"{notification}/v1/notifications", headers=bearer(OPERATOR_KEY))
            ).json()["notifications"]
            return [n for n in listing if n["status"] == "sent"]

        await eventually(sent, lambda ns: len(ns) == 2, timeout=30)
    recipients = sorted(str(m["To"]) for m in smtp_sink.messages())
    assert recipients == [
        f"Erin Engineer <erin-{unique}@example.com>",
        f"Priya Pricing <priya-{unique}@example.com>",
    ]
    to_engineer = next(m for m in mails if "erin" in str(m["To"]))
    assert "Priya Pricing" in str(to_engineer["Subject"])
    assert "pricing" in to_engineer.get_content()


async def test_a_declined_proposal_moves_on_and_an_accepted_one_introduces_both_people(
    stack: Stack, smtp_sink: SmtpSink, unique: str
) -> None:
    profile, matching = stack.urls["profile"], stack.urls["matching"]

    def mails_to(address: str) -> list[str]:
        return [m.get_content() for m in smtp_sink.messages() if address in str(m["To"])]

    async with httpx.AsyncClient(timeout=10) as http:
        mentors, tokens = {}, {}
        for name, level in (("Gina Growth", 5), ("Omar Onboarding", 3)):
            response = await http.post(
                f"{profile}/v1/mentors",
                json={
                    "name": name,
                    "email": f"{name.split()[0].lower()}-{unique}@example.com",
                    "timezone": "Europe/Madrid",
                    "languages": ["en"],
                    "capacity": 1,
                    "was_engineer": True,
                    "skills": [{"skill": "go_to_market", "level": level}],
                },
            )
            assert response.status_code == 201, response.text
            mentors[name], tokens[name] = response.json()["id"], response.json()["token"]
            await eventually(
                lambda name=name: http.get(
                    f"{matching}/v1/mentors/{mentors[name]}", headers=bearer(tokens[name])
                ),
                lambda response: response.status_code == 200,
            )
        engineer = await http.post(
            f"{profile}/v1/mentees",
            json={
                "name": "Dana Developer",
                "email": f"dana-{unique}@example.com",
                "timezone": "Europe/Lisbon",
                "languages": ["en"],
                "skills": [{"skill": "go_to_market", "current": 1, "target": 4}],
            },
        )
        assert engineer.status_code == 201, engineer.text
        mentee_id, dana_token = engineer.json()["id"], engineer.json()["token"]

        async def open_match() -> dict[str, Any] | None:
            response = await http.get(
                f"{matching}/v1/mentees/{mentee_id}/matches", headers=bearer(dana_token)
            )
            listed = response.json()["matches"] if response.status_code == 200 else []
            return next((m for m in listed if m["status"] == "proposed"), None)

        first = await eventually(open_match, lambda m: m is not None, timeout=30)
        assert first is not None
        assert first["mentor_id"] == mentors["Gina Growth"]
        # Each side answers with their own token; the token says which side they are.
        declined = await http.post(
            f"{matching}/v1/matches/{first['id']}/decline",
            json={"reason": "Travelling until spring"},
            headers=bearer(tokens["Gina Growth"]),
        )
        assert declined.status_code == 200, declined.text

        second = await eventually(
            open_match, lambda m: m is not None and m["id"] != first["id"], timeout=30
        )
        assert second is not None
        assert second["mentor_id"] == mentors["Omar Onboarding"]
        for token in (dana_token, tokens["Omar Onboarding"]):
            answer = await http.post(
                f"{matching}/v1/matches/{second['id']}/accept", json={}, headers=bearer(token)
            )
            assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"

        # Dana: proposal, decline (with Gina's reason), next proposal, acceptance; Omar: the
        # proposal and the acceptance. Mails go out in any order: wait for the last of each.
        dana, omar = f"dana-{unique}@example.com", f"omar-{unique}@example.com"
        await eventually(
            lambda: asyncio.sleep(0, (mails_to(dana), mails_to(omar))),
            lambda mails: (
                any(omar in body for body in mails[0])
                and any(dana in body for body in mails[1])
                and len(mails[0]) >= 4
            ),
            timeout=30,
        )
    dana_mails = mails_to(dana)
    assert any("Travelling until spring" in body for body in dana_mails)
    # Before the acceptance, no mail gave Dana a mentor's address.
    assert not any(f"gina-{unique}@example.com" in body for body in dana_mails)
    assert sum(omar in body for body in dana_mails) == 1  # only the introduction
    assert sum(dana in body for body in mails_to(omar)) == 1
