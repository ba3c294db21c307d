"""The load: a fixed population of mentors, then mentees registering through the public API at a
steady rate (open loop: a slow or absent service does not slow the schedule down).

Used by the fault-injection suite (``tests/faults``) and the pipeline benchmark
(``benchmarks/pipeline/``), which also drives a hello-world server with it.

Every registration has its own email address. A registration is retried (same body) after a
transport error or a 5xx until it gets a definite answer: 201, or 409 after an earlier attempt
whose answer was lost (that attempt stored it). The profile database, looked up by email, then
tells which registrations really happened; a 201 the database does not know is a lost one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from .http_client import TransportError

#: Every mentor is strong in all of these and every mentee wants to grow in some of them, so
#: any mentor can be proposed to any mentee: a waiting mentee means every slot is taken.
CORE_SKILLS = ("pricing_monetisation", "product_strategy", "customer_insight", "go_to_market")
OTHER_SKILLS = (
    "stakeholder_communication",
    "roadmap_prioritisation",
    "product_metrics",
    "market_competition",
)
TIMEZONES = (
    "Europe/Berlin",
    "Europe/London",
    "Europe/Madrid",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Kolkata",
)

Kind = Literal["mentor", "mentee"]
Outcome = Literal["pending", "created", "created_earlier", "refused", "gave_up"]


@dataclass
class Registration:
    """One registration as the client saw it."""

    kind: Kind
    email: str
    started_at: float
    #: When the open-loop schedule meant it to leave (``time.monotonic()``); None outside it.
    scheduled_at: float | None = None
    #: When the last attempt got its definite answer (``time.monotonic()``).
    answered_at: float | None = None
    attempts: int = 0
    outcome: Outcome = "pending"
    profile_id: str | None = None
    #: The owner token the 201 carried (None without one: the person cannot act later).
    token: str | None = None
    answers: list[str] = field(default_factory=list)


def mentor_body(email: str, rng: random.Random, capacity: int) -> dict[str, Any]:
    skills = [{"skill": skill, "level": rng.randint(4, 5)} for skill in CORE_SKILLS]
    skills += [{"skill": s, "level": rng.randint(1, 5)} for s in rng.sample(OTHER_SKILLS, 2)]
    return {
        "name": f"Mentor {email.split('@')[0]}",
        "email": email,
        "timezone": rng.choice(TIMEZONES),
        "languages": ["en"],
        "capacity": capacity,
        "was_engineer": rng.random() < 0.6,
        "skills": skills,
    }


def mentee_body(email: str, rng: random.Random) -> dict[str, Any]:
    gaps = rng.sample(CORE_SKILLS, rng.randint(1, 3))
    skills = []
    for skill in gaps:
        current = rng.randint(0, 2)
        skills.append({"skill": skill, "current": current, "target": rng.randint(current + 2, 5)})
    skills.append({"skill": "technical_depth", "current": 5, "target": 5})
    return {
        "name": f"Engineer {email.split('@')[0]}",
        "email": email,
        "timezone": rng.choice(TIMEZONES),
        "languages": ["en"],
        "skills": skills,
    }


class Answer(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class JsonPoster(Protocol):
    """An HTTP client: httpx.AsyncClient, or devstack.http_client.KeepAliveClient (far less CPU
    per request, for rates a general client cannot generate from one process)."""

    async def post(self, url: str, *, json: Any) -> Answer: ...


#: What a client raises when a request got no answer (the registration is tried again).
TRANSPORT_ERRORS = (httpx.TransportError, TransportError)


class LoadDriver:
    """Registers people through the profile API; remembers what each registration got."""

    def __init__(
        self,
        http: JsonPoster,
        profile_url: str,
        *,
        run: str,
        seed: int = 7,
        give_up_after: float = 150.0,
    ) -> None:
        self._http = http
        self._profile_url = profile_url
        self._run = run
        self._rng = random.Random(seed)
        self._give_up_after = give_up_after
        self.registrations: list[Registration] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._pacer: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._numbers = itertools.count(1)
        self.load_started: float | None = None
        self.load_stopped: float | None = None

    # -- one registration ----------------------------------------------------------------

    async def register(
        self, kind: Kind, body: dict[str, Any], *, scheduled_at: float | None = None
    ) -> Registration:
        registration = Registration(kind, body["email"], time.monotonic(), scheduled_at)
        self.registrations.append(registration)
        url = f"{self._profile_url}/v1/{kind}s"
        delay = 0.2
        while True:
            registration.attempts += 1
            try:
                response = await self._http.post(url, json=body)
            except TRANSPORT_ERRORS as error:
                registration.answers.append(type(error).__name__)
            else:
                registration.answers.append(str(response.status_code))
                registration.answered_at = time.monotonic()
                if response.status_code == 201:
                    registration.outcome = "created"
                    created = response.json()
                    registration.profile_id = created["id"]
                    registration.token = created.get("token")
                    return registration
                if response.status_code == 409 and registration.attempts > 1:
                    # An earlier attempt stored it and its answer was lost on the way.
                    registration.outcome = "created_earlier"
                    return registration
                if response.status_code < 500:
                    registration.outcome = "refused"
                    registration.answers[-1] += f" {response.text[:300]}"
                    return registration
            if time.monotonic() - registration.started_at > self._give_up_after:
                registration.outcome = "gave_up"
                return registration
            await asyncio.sleep(delay * (0.5 + self._rng.random()))
            delay = min(delay * 2, 2.0)

    async def register_mentors(self, capacities: list[int], *, concurrency: int = 8) -> None:
        """The fixed population, before the load; fails unless every one was created."""
        gate = asyncio.Semaphore(concurrency)

        async def one(number: int, capacity: int) -> Registration:
            async with gate:
                email = f"mentor-{self._run}-{number:04d}@example.com"
                return await self.register("mentor", mentor_body(email, self._rng, capacity))

        done = await asyncio.gather(*(one(i, c) for i, c in enumerate(capacities, 1)))
        failed = [r for r in done if r.outcome != "created"]
        assert not failed, f"mentors not registered: {failed[:5]}"

    # -- the steady load -----------------------------------------------------------------

    def start(self, rate: float) -> None:
        """Send mentee registrations at ``rate`` per second until :meth:`stop`."""
        assert self._pacer is None, "the load runs once"
        self.load_started = time.monotonic()
        self._pacer = asyncio.create_task(self._pace(rate), name="load-pacer")

    async def _pace(self, rate: float) -> None:
        assert self.load_started is not None
        for sent in itertools.count():
            # Open loop: the i-th registration leaves at start + i / rate, however the
            # earlier ones fare.
            wait = self.load_started + sent / rate - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._stop.wait()
            if self._stop.is_set():
                return
            number = next(self._numbers)
            email = f"mentee-{self._run}-{number:05d}@example.com"
            body = mentee_body(email, self._rng)
            scheduled = self.load_started + sent / rate
            task = asyncio.create_task(self._send(body, scheduled), name=f"register-{number}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, body: dict[str, Any], scheduled_at: float) -> None:
        await self.register("mentee", body, scheduled_at=scheduled_at)

    async def stop(self) -> None:
        """Stop sending and wait for every registration in flight to get its answer."""
        self._stop.set()
        self.load_stopped = time.monotonic()
        if self._pacer is not None:
            await self._pacer
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def cancel(self) -> None:
        """Stop at once, abandoning what is in flight (after a failure)."""
        self._stop.set()
        tasks = [t for t in (self._pacer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- what happened -------------------------------------------------------------------

    @property
    def mentees(self) -> list[Registration]:
        return [r for r in self.registrations if r.kind == "mentee"]

    @property
    def mentors(self) -> list[Registration]:
        return [r for r in self.registrations if r.kind == "mentor"]
