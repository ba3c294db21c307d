"""/healthz answers from the stall detector: 200 while consumers progress, 503 naming the stuck
consumer and partition, and it never calls the readiness check (no database, no broker)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from mentorship_shared.plumbing.http import install_operational_routes
from mentorship_shared.plumbing.liveness import StallDetector


class FakeClock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_healthz_fails_with_the_stalled_consumer_and_partition_and_recovers() -> None:
    clock = FakeClock()
    detector = StallDetector(30, clock=clock)
    readiness_calls = 0

    async def readiness() -> dict[str, str]:
        nonlocal readiness_calls
        readiness_calls += 1
        return {"database": "ok"}

    app = FastAPI()
    install_operational_routes(app, readiness, liveness=detector.stalls)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        detector.observe("matching-profiles", {("profile.events", 2): 4})
        clock.now = 29
        healthy = await client.get("/healthz")
        assert healthy.status_code == 200
        assert healthy.json() == {"status": "ok"}

        clock.now = 31
        stalled = await client.get("/healthz")
        assert stalled.status_code == 503
        assert stalled.json() == {
            "status": "stalled",
            "stalled": [
                {
                    "consumer": "matching-profiles",
                    "topic": "profile.events",
                    "partition": 2,
                    "lag": 4,
                    "seconds_without_progress": 31.0,
                }
            ],
        }

        detector.progressed("matching-profiles")
        assert (await client.get("/healthz")).status_code == 200
    assert readiness_calls == 0


async def test_healthz_without_consumers_is_ok() -> None:
    async def readiness() -> dict[str, str]:
        return {}

    app = FastAPI()
    install_operational_routes(app, readiness)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
