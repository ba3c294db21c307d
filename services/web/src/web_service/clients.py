"""The profile, matching and mentorship services' public HTTP APIs, as this front end uses
them.

Every call for a person carries their session credential as the bearer token: the services
decide what it may see, exactly as for a script with an owner token. Refusals come back as
`ApiRefused` with the API's error body, so pages can show its messages next to the fields.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .forms import Kind, SkillInfo


@dataclass(eq=False)
class ApiRefused(Exception):
    """A 4xx answer: the API's error code, message and offending fields."""

    status: int
    error: str
    message: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    retry_after: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.message}"


class ApiUnavailable(Exception):
    """A service did not answer, or answered with a server error."""


def _refusal(response: httpx.Response) -> ApiRefused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    fields = [
        (str(item.get("field", "")), str(item.get("message", "")))
        for item in body.get("fields") or []
        if isinstance(item, dict)
    ]
    return ApiRefused(
        status=response.status_code,
        error=str(body.get("error", "http_error")),
        message=str(body.get("message", response.reason_phrase)),
        fields=fields,
        retry_after=response.headers.get("retry-after"),
    )


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


class ServiceApis:
    """Calls to the profile, matching and mentorship APIs over one pooled HTTP client each."""

    def __init__(
        self,
        *,
        profile_url: str,
        matching_url: str,
        mentorship_url: str,
        timeout: float,
        frontend_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._profile = httpx.AsyncClient(
            base_url=profile_url, timeout=timeout, transport=transport
        )
        self._matching = httpx.AsyncClient(
            base_url=matching_url, timeout=timeout, transport=transport
        )
        self._mentorship = httpx.AsyncClient(
            base_url=mentorship_url, timeout=timeout, transport=transport
        )
        self._frontend_key = frontend_key
        self._skills: list[SkillInfo] | None = None

    async def aclose(self) -> None:
        for client in self._clients().values():
            await client.aclose()

    def _clients(self) -> dict[str, httpx.AsyncClient]:
        return {
            "profile": self._profile,
            "matching": self._matching,
            "mentorship": self._mentorship,
        }

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            response = await client.request(method, path, headers=headers, json=json, params=params)
        except httpx.HTTPError as error:
            raise ApiUnavailable(f"{client.base_url} did not answer: {error!r}") from error
        if response.status_code >= 500:
            raise ApiUnavailable(f"{client.base_url}{path} answered {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json() if response.content else None

    def _from_browser(self, client_address: str) -> dict[str, str]:
        """Headers that let the profile service count its limits per browser address."""
        if not self._frontend_key:
            return {}
        return {"X-Frontend-Key": self._frontend_key, "X-Forwarded-For": client_address}

    # --- profile service -------------------------------------------------------------------

    async def skills(self) -> list[SkillInfo]:
        """The taxonomy, asked once per process (it changes only with a new version)."""
        if self._skills is None:
            listed = await self._call(self._profile, "GET", "/v1/skills")
            self._skills = [
                SkillInfo(s["id"], s["name"], s["description"], s["group"]) for s in listed
            ]
        return self._skills

    async def register(
        self, kind: Kind, body: Mapping[str, Any], *, client_address: str
    ) -> dict[str, Any]:
        path = "/v1/mentees" if kind == "mentee" else "/v1/mentors"
        result: dict[str, Any] = await self._call(
            self._profile, "POST", path, json=body, headers=self._from_browser(client_address)
        )
        return result

    async def open_session(self, profile_id: uuid.UUID, owner_token: str) -> dict[str, Any]:
        """A session credential for the owner of `owner_token` (just registered)."""
        result: dict[str, Any] = await self._call(
            self._profile,
            "POST",
            f"/v1/profiles/{profile_id}/sessions",
            headers=_bearer(owner_token),
        )
        return result

    async def request_sign_in_link(self, email: str, *, client_address: str) -> None:
        await self._call(
            self._profile,
            "POST",
            "/v1/sign-in-links",
            json={"email": email},
            headers=self._from_browser(client_address),
        )

    async def redeem_sign_in_link(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            self._profile, "POST", "/v1/sessions", json={"sign_in_token": token}
        )
        return result

    async def profile(self, credential: str, profile_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            self._profile, "GET", f"/v1/profiles/{profile_id}", headers=_bearer(credential)
        )
        return result

    async def change_profile(
        self, credential: str, profile_id: uuid.UUID, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            self._profile,
            "PATCH",
            f"/v1/profiles/{profile_id}",
            json=changes,
            headers=_bearer(credential),
        )
        return result

    async def delete_profile(self, credential: str, profile_id: uuid.UUID) -> None:
        await self._call(
            self._profile, "DELETE", f"/v1/profiles/{profile_id}", headers=_bearer(credential)
        )

    async def rotate_token(self, credential: str, profile_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            self._profile, "POST", f"/v1/profiles/{profile_id}/token", headers=_bearer(credential)
        )
        return result

    # --- matching service ------------------------------------------------------------------

    async def matches(self, credential: str, kind: Kind, profile_id: uuid.UUID) -> list[Any]:
        side = "mentees" if kind == "mentee" else "mentors"
        result = await self._call(
            self._matching, "GET", f"/v1/{side}/{profile_id}/matches", headers=_bearer(credential)
        )
        matches: list[Any] = result["matches"]
        return matches

    async def suggestions(self, credential: str, mentee_id: uuid.UUID) -> list[Any]:
        result = await self._call(
            self._matching,
            "GET",
            f"/v1/mentees/{mentee_id}/suggestions",
            params={"limit": 5},
            headers=_bearer(credential),
        )
        suggestions: list[Any] = result["suggestions"]
        return suggestions

    async def plan(self, credential: str, mentee_id: uuid.UUID) -> dict[str, Any]:
        """The mentee's learning plan: every gap, whether their mentor covers it, and
        resources for the others."""
        result: dict[str, Any] = await self._call(
            self._matching, "GET", f"/v1/mentees/{mentee_id}/plan", headers=_bearer(credential)
        )
        return result

    async def ask_mentor(
        self, credential: str, mentee_id: uuid.UUID, mentor_id: uuid.UUID
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            self._matching,
            "POST",
            f"/v1/mentees/{mentee_id}/requests",
            json={"mentor_id": str(mentor_id)},
            headers=_bearer(credential),
        )
        return result

    async def answer_match(
        self, credential: str, match_id: uuid.UUID, *, accept: bool, reason: str | None = None
    ) -> dict[str, Any]:
        action = "accept" if accept else "decline"
        body: dict[str, Any] = {} if accept else {"reason": reason or None}
        result: dict[str, Any] = await self._call(
            self._matching,
            "POST",
            f"/v1/matches/{match_id}/{action}",
            json=body,
            headers=_bearer(credential),
        )
        return result

    # --- mentorship service ----------------------------------------------------------------

    async def mentorships(self, credential: str, profile_id: uuid.UUID) -> list[Any]:
        """The person's mentorships, newest first (summaries)."""
        result = await self._call(
            self._mentorship,
            "GET",
            f"/v1/people/{profile_id}/mentorships",
            headers=_bearer(credential),
        )
        found: list[Any] = result["mentorships"]
        return found

    async def mentorship(self, credential: str, mentorship_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            self._mentorship,
            "GET",
            f"/v1/mentorships/{mentorship_id}",
            headers=_bearer(credential),
        )
        return result

    async def act_on_mentorship(
        self,
        credential: str,
        mentorship_id: uuid.UUID,
        method: str,
        action: str,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One change to a mentorship: `action` is the path below the mentorship, such as
        `goals` or `goals/{id}/agreement`; the answer is the mentorship afterwards."""
        result: dict[str, Any] = await self._call(
            self._mentorship,
            method,
            f"/v1/mentorships/{mentorship_id}/{action}",
            json=body,
            headers=_bearer(credential),
        )
        return result

    # --- operations ------------------------------------------------------------------------

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        for name, client in self._clients().items():
            try:
                response = await client.get("/healthz", timeout=2.0)
                checks[name] = "ok" if response.status_code == 200 else f"{response.status_code}"
            except httpx.HTTPError as error:
                checks[name] = f"unavailable: {type(error).__name__}"
        return checks
