"""Session credentials at the mentorship service: a credential the profile service signed for
one of the two people opens the mentorship and acts for that person's side, exactly like
their owner token; it opens nothing of anyone else's (this is how the web pages act for a
signed-in person)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key

from tests.support.sessions import signed_in

from .conftest import MovableClock, accepted_pair, ok, started_mentorship

pytestmark = pytest.mark.integration

PRICING = "pricing_monetisation"


async def test_a_session_acts_for_its_own_side_of_its_own_mentorship_only(
    service: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    db: asyncpg.Connection,
) -> None:
    pair = await accepted_pair(kafka, namespace, clock)
    other = await accepted_pair(kafka, namespace, clock)
    mentorship = await started_mentorship(service, pair)
    await started_mentorship(service, other)
    url = f"/v1/mentorships/{mentorship['id']}"
    as_mentee = signed_in(pair.mentee.profile_id, "mentee")
    as_mentor = signed_in(pair.mentor.profile_id, "mentor")

    listed = await ok(
        await service.get(f"/v1/people/{pair.mentee.profile_id}/mentorships", headers=as_mentee)
    )
    assert [m["id"] for m in listed["mentorships"]] == [mentorship["id"]]
    assert (await ok(await service.get(url, headers=as_mentee)))["your_side"] == "mentee"
    assert (await ok(await service.get(url, headers=as_mentor)))["your_side"] == "mentor"

    # Each acts for their own side: the mentee proposes, the mentor agrees.
    proposed = await ok(
        await service.post(
            f"{url}/goals",
            json={"skill": PRICING, "title": "Price the team plan"},
            headers=as_mentee,
        ),
        201,
    )
    goal_id = proposed["goals"][0]["id"]
    agreed = await ok(await service.post(f"{url}/goals/{goal_id}/agreement", headers=as_mentor))
    assert agreed["goals"][0]["status"] == "agreed"

    # The side comes from the profile the credential names, never from the kind it states.
    posing = signed_in(pair.mentee.profile_id, "mentor")
    posed = await service.post(
        f"{url}/goals",
        json={"skill": PRICING, "title": "Another"},
        headers=signed_in(pair.mentor.profile_id, "mentee"),
    )
    assert posed.status_code == 403, posed.text
    assert (await ok(await service.get(url, headers=posing)))["your_side"] == "mentee"

    goals_before = await db.fetchval("SELECT count(*) FROM goals")
    outbox_before = await db.fetchval("SELECT count(*) FROM outbox")
    stranger = signed_in(other.mentee.profile_id, "mentee")
    forged = signed_in(
        pair.mentee.profile_id, "mentee", signer=SessionSigner(generate_signing_key())
    )
    expired = signed_in(pair.mentee.profile_id, "mentee", lifetime=timedelta(seconds=-1))
    for method, path, headers in (
        ("GET", url, stranger),
        ("GET", url, forged),
        ("GET", url, expired),
        ("GET", f"/v1/mentorships/{uuid.uuid4()}", as_mentee),
        ("GET", f"/v1/people/{pair.mentor.profile_id}/mentorships", as_mentee),
        ("GET", f"/v1/people/{pair.mentee.profile_id}/mentorships", forged),
        ("POST", f"{url}/check-ins", stranger),
        ("POST", f"{url}/check-ins", expired),
    ):
        body = {"discussed": "Pricing", "next_step": "Draft"} if method == "POST" else None
        refused = await service.request(method, path, json=body, headers=headers)
        assert refused.status_code == 404, (path, refused.text)
    assert await db.fetchval("SELECT count(*) FROM goals") == goals_before
    assert await db.fetchval("SELECT count(*) FROM outbox") == outbox_before
    assert await db.fetchval("SELECT count(*) FROM check_ins") == 0
