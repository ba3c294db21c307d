"""What people do after they registered, while the load of the mentorship fault test runs:
both sides accept some of the proposals through the matcher's API, and in some of the
mentorships that start a check-in is logged through the mentorship API, each with the owner
token its registration returned.

Who accepts and who checks in is a pure function of the ids (:func:`accepts`,
:func:`checks_in`), so the checks know what must have happened without asking the driver.
Every step reads the state first and acts only when it has not happened yet: a request whose
answer was lost to a killed service is not repeated blindly (a second check-in would be a
different check-in)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
from devstack.load import LoadDriver

#: Share (percent) of the mentees whose proposal both sides accept.
ACCEPT_PERCENT = 50
#: Share (percent) of the mentorships in which a check-in is logged (before the clock moves).
CHECK_IN_PERCENT = 50


def accepts(mentee_id: str) -> bool:
    """Whether both sides accept this mentee's proposal."""
    return uuid.UUID(mentee_id).int % 100 < ACCEPT_PERCENT


def checks_in(mentorship_id: str) -> bool:
    """Whether a check-in is logged in this mentorship."""
    return (uuid.UUID(mentorship_id).int >> 8) % 100 < CHECK_IN_PERCENT


class JourneyDriver:
    """Accepts proposals and logs check-ins, one pass every ``interval`` seconds, until
    stopped; check-ins only until :meth:`close_check_ins`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        load: LoadDriver,
        *,
        matching_url: str,
        mentorship_url: str,
        interval: float = 1.0,
        concurrency: int = 8,
    ) -> None:
        self._http = http
        self._load = load
        self._matching = matching_url
        self._mentorship = mentorship_url
        self._interval = interval
        self._gate = asyncio.Semaphore(concurrency)
        #: The accepted matches: match id -> mentee id.
        self.accepted: dict[str, str] = {}
        #: The mentorships seen: mentee id -> mentorship id.
        self.mentorships: dict[str, str] = {}
        #: Mentorships with their check-in logged.
        self.checked_in: set[str] = set()
        self._check_ins_open = True
        self._check_ins = asyncio.Lock()
        self._logged = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def check_ins_logged(self) -> int:
        """Mentorships whose check-in is logged (read back from the service)."""
        return sum(1 for mentorship_id in self.checked_in if checks_in(mentorship_id))

    async def until_check_ins(self, count: int, timeout: float) -> None:
        """Wait until ``count`` check-ins are logged, at most ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._logged:
                await self._logged.wait_for(lambda: self.check_ins_logged >= count)

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        assert self._task is None, "the journeys run once"
        self._task = asyncio.create_task(self._run(), name="journeys")

    async def close_check_ins(self) -> None:
        """No check-in from now on; returns once none is in flight."""
        async with self._check_ins:
            self._check_ins_open = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._accept_proposals()
            async with self._check_ins:
                if self._check_ins_open:
                    await self._log_check_ins()
            await asyncio.sleep(self._interval)

    # -- the steps -----------------------------------------------------------------------

    def _tokens(self) -> dict[str, str]:
        return {
            r.profile_id: r.token
            for r in self._load.registrations
            if r.profile_id is not None and r.token is not None
        }

    async def _get(self, url: str, token: str) -> dict[str, Any] | None:
        """The answer's body, or None for anything but a 200 (not there yet, a service that
        is down or restarting): the next pass asks again."""
        async with self._gate:
            try:
                answer = await self._http.get(url, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError:
                return None
        if answer.status_code != 200:
            return None
        body: dict[str, Any] = answer.json()
        return body

    async def _post(self, url: str, token: str, body: dict[str, Any]) -> None:
        """Fire once; whether it took effect is read back on the next pass."""
        async with self._gate:
            with contextlib.suppress(httpx.HTTPError):
                await self._http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})

    async def _accept_proposals(self) -> None:
        tokens = self._tokens()
        waiting = [
            r.profile_id
            for r in self._load.mentees
            if r.profile_id is not None
            and r.profile_id in tokens
            and accepts(r.profile_id)
            and r.profile_id not in self.accepted.values()
        ]
        await asyncio.gather(*(self._accept(mentee, tokens) for mentee in waiting))

    async def _accept(self, mentee_id: str, tokens: dict[str, str]) -> None:
        listing = await self._get(
            f"{self._matching}/v1/mentees/{mentee_id}/matches", tokens[mentee_id]
        )
        if listing is None:
            return
        for match in listing["matches"]:
            if match["status"] == "accepted":
                self.accepted[match["id"]] = mentee_id
                return
            if match["status"] != "proposed":
                continue
            url = f"{self._matching}/v1/matches/{match['id']}/accept"
            for side, person in (("mentee", mentee_id), ("mentor", match["mentor_id"])):
                if side not in match["accepted_by"] and person in tokens:
                    await self._post(url, tokens[person], {})
            return

    async def _log_check_ins(self) -> None:
        tokens = self._tokens()
        await asyncio.gather(
            *(
                self._check_in(mentee, tokens[mentee])
                for mentee in set(self.accepted.values())
                if self.mentorships.get(mentee) not in self.checked_in
            )
        )

    async def _check_in(self, mentee_id: str, token: str) -> None:
        if mentee_id not in self.mentorships:
            listing = await self._get(
                f"{self._mentorship}/v1/people/{mentee_id}/mentorships", token
            )
            if not listing or not listing["mentorships"]:
                return
            self.mentorships[mentee_id] = listing["mentorships"][0]["id"]
        mentorship_id = self.mentorships[mentee_id]
        if not checks_in(mentorship_id):
            self.checked_in.add(mentorship_id)  # nothing to do for it
            return
        url = f"{self._mentorship}/v1/mentorships/{mentorship_id}"
        mentorship = await self._get(url, token)
        if mentorship is None:
            return
        if mentorship["check_ins"] >= 1:
            async with self._logged:
                self.checked_in.add(mentorship_id)
                self._logged.notify_all()
            return
        await self._post(
            f"{url}/check-ins",
            token,
            {"discussed": "Where the pricing gap comes from", "next_step": "Read two case studies"},
        )
