"""Who may see and change what, across the three services: every endpoint that takes an id,
called without a token, with another person's token, with the owner's and with the operator
key. Nobody learns anything about what is not theirs (OWASP API1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from devstack.stack import Stack

from tests.support.services import OPERATOR_KEY, eventually

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Person:
    id: str
    token: str
    email: str


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    body: dict[str, Any] | None = None

    async def send(
        self, http: httpx.AsyncClient, stack: Stack, token: str | None
    ) -> httpx.Response:
        headers = bearer(token) if token is not None else {}
        return await http.request(
            self.method,
            f"{stack.urls[self.service]}{self.path}",
            json=self.body,
            headers=headers,
        )


async def register(http: httpx.AsyncClient, stack: Stack, kind: str, **fields: Any) -> Person:
    response = await http.post(f"{stack.urls['profile']}/v1/{kind}", json=fields)
    assert response.status_code == 201, response.text
    body = response.json()
    return Person(id=body["id"], token=body["token"], email=fields["email"])


async def test_every_endpoint_with_an_id_answers_only_its_owner_and_the_operator(
    stack: Stack, unique: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        pm = await register(
            http,
            stack,
            "mentors",
            name="Mira Mentor",
            email=f"mira-{unique}@example.com",
            timezone="Europe/Vienna",
            languages=["en"],
            capacity=1,
            was_engineer=True,
            skills=[{"skill": "product_metrics", "level": 5}],
        )
        await eventually(
            lambda: http.get(
                f"{stack.urls['matching']}/v1/mentors/{pm.id}", headers=bearer(pm.token)
            ),
            lambda r: r.status_code == 200,
        )
        owner = await register(
            http,
            stack,
            "mentees",
            name="Olga Owner",
            email=f"olga-{unique}@example.com",
            timezone="Europe/Vienna",
            languages=["en"],
            skills=[{"skill": "product_metrics", "current": 1, "target": 4}],
        )
        intruder = await register(
            http,
            stack,
            "mentees",
            name="Ivan Intruder",
            email=f"ivan-{unique}@example.com",
            timezone="Europe/Vienna",
            languages=["fr"],  # no mentor for Ivan: he only ever sees his own empty lists
            skills=[{"skill": "product_metrics", "current": 1, "target": 4}],
        )

        async def owners_match() -> list[dict[str, Any]]:
            response = await http.get(
                f"{stack.urls['matching']}/v1/mentees/{owner.id}/matches",
                headers=bearer(owner.token),
            )
            return response.json()["matches"] if response.status_code == 200 else []

        [match] = await eventually(owners_match, lambda found: len(found) == 1, timeout=30)
        await eventually(
            lambda: http.get(
                f"{stack.urls['matching']}/v1/mentees/{intruder.id}/matches",
                headers=bearer(intruder.token),
            ),
            lambda r: r.status_code == 200,
        )

        reads = [
            Call("profile", "GET", f"/v1/profiles/{owner.id}"),
            Call("matching", "GET", f"/v1/mentees/{owner.id}/matches"),
            Call("matching", "GET", f"/v1/mentees/{owner.id}/suggestions"),
            Call("matching", "GET", f"/v1/matches/{match['id']}"),
            Call("matching", "GET", f"/v1/mentors/{pm.id}"),
        ]
        writes = [
            Call("profile", "PATCH", f"/v1/profiles/{owner.id}", {"goals": "taken over"}),
            Call("profile", "POST", f"/v1/profiles/{owner.id}/token"),
            Call("matching", "POST", f"/v1/mentees/{owner.id}/requests", {"mentor_id": pm.id}),
            Call("matching", "POST", f"/v1/matches/{match['id']}/accept", {}),
            Call("matching", "POST", f"/v1/matches/{match['id']}/decline", {}),
            Call("profile", "DELETE", f"/v1/profiles/{owner.id}"),
        ]
        operator_only = [
            Call("matching", "POST", "/v1/rounds"),
            Call("matching", "GET", "/v1/operator/stats"),
            Call("notification", "GET", "/v1/notifications"),
        ]

        failures = []
        for call in [*reads, *writes, *operator_only]:
            anonymous = await call.send(http, stack, None)
            if anonymous.status_code != 401:
                failures.append(f"{call}: no token -> {anonymous.status_code}")
            other = await call.send(http, stack, intruder.token)
            allowed_refusals = {403} if call in operator_only else {403, 404}
            if other.status_code not in allowed_refusals:
                failures.append(f"{call}: another person's token -> {other.status_code}")
            for secret in (owner.id, owner.email, pm.email, match["id"]):
                if secret in other.text:
                    failures.append(f"{call}: another person's token saw {secret!r}")
        assert not failures, "\n".join(failures)

        # Nothing the intruder tried changed anything: the match is still open and unanswered,
        # the profile unchanged, and the owner's token still works.
        for call in reads:
            response = await call.send(
                http, stack, pm.token if call.path.startswith("/v1/mentors") else owner.token
            )
            assert response.status_code == 200, (call, response.text)
        seen = (
            await Call("matching", "GET", f"/v1/matches/{match['id']}").send(
                http, stack, owner.token
            )
        ).json()
        assert (seen["status"], seen["accepted_by"]) == ("proposed", [])
        profile = (await reads[0].send(http, stack, owner.token)).json()
        assert profile.get("goals") != "taken over"
        assert "token" not in profile
        assert not any("hash" in key for key in profile)

        # The mentor sees the match too, but only as the mentor; the operator sees everything.
        as_mentor = await Call("matching", "GET", f"/v1/matches/{match['id']}").send(
            http, stack, pm.token
        )
        assert as_mentor.status_code == 200
        for call in operator_only:
            assert (await call.send(http, stack, OPERATOR_KEY)).status_code in {200, 201}


async def test_a_rotated_token_retires_the_old_one_in_every_service(
    stack: Stack, unique: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        person = await register(
            http,
            stack,
            "mentees",
            name="Rita Rotate",
            email=f"rita-{unique}@example.com",
            timezone="Asia/Tokyo",
            languages=["ja"],
            skills=[{"skill": "go_to_market", "current": 0, "target": 3}],
        )
        matches_url = f"{stack.urls['matching']}/v1/mentees/{person.id}/matches"
        await eventually(
            lambda: http.get(matches_url, headers=bearer(person.token)),
            lambda r: r.status_code == 200,
        )
        rotated = await http.post(
            f"{stack.urls['profile']}/v1/profiles/{person.id}/token", headers=bearer(person.token)
        )
        assert rotated.status_code == 200, rotated.text
        new_token = rotated.json()["token"]
        assert new_token != person.token

        profile_url = f"{stack.urls['profile']}/v1/profiles/{person.id}"
        assert (await http.get(profile_url, headers=bearer(person.token))).status_code == 404
        assert (await http.get(profile_url, headers=bearer(new_token))).status_code == 200
        # The matcher learns of the new token from the ProfileUpdated event, within seconds.
        await eventually(
            lambda: http.get(matches_url, headers=bearer(new_token)),
            lambda r: r.status_code == 200,
        )
        assert (await http.get(matches_url, headers=bearer(person.token))).status_code == 404
