"""Session credentials at the matching service, in-process against a real database and broker:
a credential the profile service signed opens its own profile's matches, and answers its own
side of a match, like the owner token; it opens nothing of anyone else's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from devstack.testing import KafkaHandle
from matching_service.app import create_app
from matching_service.config import MatchingSettings
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key

from tests.support.kafka import produce
from tests.support.profiles import mentee, mentor, registered
from tests.support.services import FAST_KAFKA, OPERATOR_KEY, eventually, serve_in_process
from tests.support.sessions import SIGNER, signed_in

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions_matcher(
    matching_db: str, kafka: KafkaHandle, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = MatchingSettings(
        database_url=matching_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        operator_api_key=OPERATOR_KEY,
        session_public_key=SIGNER.public_key_text,
        **FAST_KAFKA,
    )
    async with serve_in_process(create_app(settings)) as client:
        yield client


async def test_a_session_opens_its_own_matches_and_answers_its_own_side_only(
    sessions_matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    api = sessions_matcher
    pm = mentor({"pricing_monetisation": 5})
    engineer = mentee({"pricing_monetisation": (1, 4)})
    stranger = mentee({"pricing_monetisation": (2, 4)}, languages=("fr",))
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(kafka.bootstrap_servers, topic, [registered(pm)])
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    await eventually(
        lambda: api.get(f"/v1/mentors/{pm.profile_id}", headers=operator),
        lambda answer: answer.status_code == 200,
    )
    await produce(kafka.bootstrap_servers, topic, [registered(engineer), registered(stranger)])

    as_engineer = signed_in(engineer.profile_id, "mentee")
    as_mentor = signed_in(pm.profile_id, "mentor")

    async def engineer_matches() -> Any:
        return await api.get(f"/v1/mentees/{engineer.profile_id}/matches", headers=as_engineer)

    answer = await eventually(
        engineer_matches, lambda a: a.status_code == 200 and bool(a.json()["matches"])
    )
    [match] = answer.json()["matches"]

    mentor_view = await api.get(f"/v1/mentors/{pm.profile_id}/matches", headers=as_mentor)
    assert mentor_view.status_code == 200
    assert [m["id"] for m in mentor_view.json()["matches"]] == [match["id"]]

    # Nobody else's: another mentee's matches, the mentor's list, a forged or expired one.
    await eventually(
        lambda: api.get(f"/v1/mentees/{stranger.profile_id}/matches", headers=operator),
        lambda a: a.status_code == 200,
    )
    for path, headers in (
        (f"/v1/mentees/{stranger.profile_id}/matches", as_engineer),
        (f"/v1/mentors/{pm.profile_id}/matches", as_engineer),
        (f"/v1/mentees/{engineer.profile_id}/matches", as_mentor),
        (
            f"/v1/mentees/{engineer.profile_id}/matches",
            signed_in(engineer.profile_id, "mentee", signer=SessionSigner(generate_signing_key())),
        ),
        (
            f"/v1/mentees/{engineer.profile_id}/matches",
            signed_in(engineer.profile_id, "mentee", lifetime=timedelta(seconds=-1)),
        ),
        (f"/v1/matches/{match['id']}", signed_in(stranger.profile_id, "mentee")),
    ):
        refused = await api.get(path, headers=headers)
        assert refused.status_code == 404, (path, refused.text)

    # Each side answers for itself; the side comes from the credential.
    wrong_side = await api.post(
        f"/v1/matches/{match['id']}/accept", json={"party": "mentor"}, headers=as_engineer
    )
    assert wrong_side.status_code == 422
    accepted = await api.post(f"/v1/matches/{match['id']}/accept", json={}, headers=as_engineer)
    assert accepted.status_code == 200
    assert accepted.json()["accepted_by"] == ["mentee"]
    both = await api.post(f"/v1/matches/{match['id']}/accept", json={}, headers=as_mentor)
    assert both.status_code == 200
    assert both.json()["status"] == "accepted"
