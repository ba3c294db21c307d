"""The operator console over a real matching service and database: the matcher's
GET /v1/operator/stats needs the operator key and every number matches the rows put into the
database; the console passes the page's key on, adds what the services' /metrics say and
serves its page. The profile service's /metrics is a stand-in server; the notification
service's does not answer, which the console reports instead of failing."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.console.app import ConsoleSettings
from devstack.console.app import create_app as create_console
from devstack.processes import free_port
from devstack.testing import KafkaHandle
from fastapi import FastAPI
from matching_service.app import create_app
from matching_service.config import MatchingSettings

from tests.support.services import FAST_KAFKA, OPERATOR_KEY

pytestmark = pytest.mark.integration

PROFILE_METRICS = b"""\
# HELP mentorship_outbox_pending Outbox rows waiting to be published.
# TYPE mentorship_outbox_pending gauge
mentorship_outbox_pending{service="profile"} 7.0
"""


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, PROFILE_METRICS) if self.path == "/metrics" else (404, b"")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def profile_metrics() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def matching_app(
    matching_db: str, kafka: KafkaHandle, namespace: str
) -> AsyncIterator[FastAPI]:
    """The matching service in-process, started (pool, migrations, consumers)."""
    settings = MatchingSettings(
        database_url=matching_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        operator_api_key=OPERATOR_KEY,
        **FAST_KAFKA,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def matcher(matching_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=matching_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://matching") as client:
        yield client


class _Routes(httpx.AsyncBaseTransport):
    """Requests to ``http://matching.test`` go to the matcher in this process, the rest out."""

    def __init__(self, matching_app: FastAPI) -> None:
        self._matching = httpx.ASGITransport(app=matching_app)
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "matching.test":
            return await self._matching.handle_async_request(request)
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


@contextlib.asynccontextmanager
async def console_client(
    settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_console(settings, transport=transport)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://console"
        ) as client,
    ):
        yield client


@pytest.fixture
async def console(matching_app: FastAPI, profile_metrics: str) -> AsyncIterator[httpx.AsyncClient]:
    """The console, reading the in-process matcher, the stand-in profile metrics and a
    notification service that does not answer."""
    settings = ConsoleSettings(
        profile_url=profile_metrics,
        matching_url="http://matching.test",
        notification_url=f"http://127.0.0.1:{free_port()}",  # nobody listens
        console_peer_timeout_seconds=1.0,
    )
    async with console_client(settings, _Routes(matching_app)) as client:
        yield client


def ids(*names: str) -> dict[str, uuid.UUID]:
    return {name: uuid.uuid4() for name in names}


async def insert_population(url: str) -> dict[str, uuid.UUID]:
    """Three mentors, four mentees and five matches, timed relative to the database's now()."""
    who = ids("A", "B", "C", "M1", "M2", "M3", "M4")
    conn = await asyncpg.connect(url)
    try:
        for mentor, capacity, load, accepting, skills in (
            ("A", 2, 1, True, {"pricing_monetisation": 5, "product_metrics": 3}),
            ("B", 1, 1, True, {"customer_insight": 4}),
            ("C", 3, 0, False, {"pricing_monetisation": 4}),
        ):
            await conn.execute(
                """
                INSERT INTO mentors (id, version, timezone, languages, skills, was_engineer,
                                     accepting_mentees, capacity, requested_capacity, load)
                VALUES ($1, 1, 'Europe/Berlin', '{en}', $2::jsonb, true, $3, $4, $4, $5)
                """,
                who[mentor],
                json.dumps([{"skill": s, "level": level} for s, level in skills.items()]),
                accepting,
                capacity,
                load,
            )
        for mentee, registered_hours_ago, gaps in (
            ("M1", 3, {"product_metrics": (1, 4)}),
            ("M2", 4, {"pricing_monetisation": (2, 3)}),
            ("M3", 40, {"pricing_monetisation": (1, 4), "customer_insight": (2, 3)}),
            ("M4", 240, {"pricing_monetisation": (0, 2), "technical_depth": (5, 5)}),
        ):
            await conn.execute(
                """
                INSERT INTO mentees (id, version, timezone, languages, skills, registered_at)
                VALUES ($1, 1, 'Europe/Berlin', '{en}', $2::jsonb,
                        now() - make_interval(hours => $3))
                """,
                who[mentee],
                json.dumps([{"skill": s, "current": c, "target": t} for s, (c, t) in gaps.items()]),
                registered_hours_ago,
            )
        # (mentee, mentor, status, end_reason, proposed h ago, accepted h ago, ended h ago)
        for mentee, mentor, status, end_reason, proposed, accepted, ended in (
            ("M1", "C", "expired", "profile_changed", 2.5, None, 1.5),  # withdrawn
            ("M1", "A", "proposed", None, 1, None, None),
            ("M2", "B", "accepted", None, 3, 2, None),
            ("M3", "C", "expired", "timeout", 20, None, 4),  # lapsed; M3 waits since
            ("M4", "A", "declined", "declined_by_mentee", 35, None, 30),  # M4 waits since
        ):
            await conn.execute(
                """
                INSERT INTO matches (id, mentee_id, mentor_id, status, score, score_breakdown,
                                     explanation, covered_skills, uncovered_skills,
                                     algorithm_version, end_reason, proposed_at, accepted_at,
                                     ended_at, declined_by)
                VALUES ($1, $2, $3, $4, 0.5, '{}'::jsonb, 'test', '{}', '{}', 'test', $5,
                        now() - make_interval(secs => $6 * 3600),
                        now() - make_interval(secs => $7 * 3600),
                        now() - make_interval(secs => $8 * 3600),
                        CASE WHEN $4 = 'declined' THEN 'mentee' END)
                """,
                uuid.uuid4(),
                who[mentee],
                who[mentor],
                status,
                end_reason,
                float(proposed),
                None if accepted is None else float(accepted),
                None if ended is None else float(ended),
            )
    finally:
        await conn.close()
    return who


async def test_the_stats_need_the_operator_key(matcher: httpx.AsyncClient) -> None:
    anonymous = await matcher.get("/v1/operator/stats")
    assert anonymous.status_code == 401
    stranger = await matcher.get(
        "/v1/operator/stats", headers={"Authorization": "Bearer not-the-operator-key"}
    )
    assert stranger.status_code == 403
    assert stranger.json()["error"] == "forbidden"
    paths = (await matcher.get("/openapi.json")).json()["paths"]
    assert "/v1/operator/stats" in paths
    # The matcher serves no page and reads no other service any more: the console does.
    assert "/v1/dashboard" not in paths
    assert (await matcher.get("/dashboard")).status_code == 404


async def test_the_console_needs_the_operator_key_and_serves_its_page(
    console: httpx.AsyncClient,
) -> None:
    anonymous = await console.get("/v1/console")
    assert anonymous.status_code == 401
    stranger = await console.get(
        "/v1/console", headers={"Authorization": "Bearer not-the-operator-key"}
    )
    assert stranger.status_code == 403
    assert stranger.json()["error"] == "forbidden"
    # The page itself holds no data and needs no key; it asks for the key.
    page = await console.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for asset, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        answer = await console.get(f"/{asset}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(kind)
    assert "/" not in (await console.get("/openapi.json")).json()["paths"]


async def test_without_the_matcher_the_console_says_so(profile_metrics: str) -> None:
    settings = ConsoleSettings(
        profile_url=profile_metrics,
        matching_url=f"http://127.0.0.1:{free_port()}",  # nobody listens
        console_peer_timeout_seconds=1.0,
    )
    async with console_client(settings) as console:
        answer = await console.get(
            "/v1/console", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        )
        assert answer.status_code == 503
        assert answer.json()["error"] == "matching_unavailable"
        assert "does not answer" in answer.json()["message"]


async def test_the_console_counts_what_the_database_holds(
    console: httpx.AsyncClient, matcher: httpx.AsyncClient, matching_db: str
) -> None:
    who = await insert_population(matching_db)
    stats = await matcher.get(
        "/v1/operator/stats", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
    )
    assert stats.status_code == 200, stats.text
    answer = await console.get("/v1/console", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    # The matcher's panels, as its own route gives them (read a moment later).
    for panel in ("mentors", "skills"):
        assert data[panel] == stats.json()[panel], panel

    mentees = data["mentees"]
    assert (mentees["registered"], mentees["with_open_match"], mentees["waiting"]) == (4, 2, 2)
    assert {bar["label"]: bar["count"] for bar in mentees["wait_buckets"] if bar["count"]} == {
        "1-6 h": 1,  # M3: since its proposal lapsed 4 hours ago
        "1-3 d": 1,  # M4: since its mentor declined 30 hours ago (registered 10 days ago)
    }
    longest = mentees["longest_waits"]
    assert [w["mentee_id"] for w in longest] == [str(who["M4"]), str(who["M3"])]
    assert longest[0]["waiting_hours"] == pytest.approx(30, abs=0.1)
    assert longest[1]["waiting_hours"] == pytest.approx(4, abs=0.1)

    mentors = data["mentors"]
    assert (mentors["registered"], mentors["accepting"]) == (3, 2)
    assert (mentors["slots"], mentors["used"], mentors["free_slots"]) == (6, 2, 1)
    assert [
        (r["capacity"], r["mentors"], r["slots"], r["used"]) for r in mentors["by_capacity"]
    ] == [(1, 1, 1, 1), (2, 1, 2, 1), (3, 1, 3, 0)]
    assert {bar["label"]: bar["count"] for bar in mentors["utilisation"]} == {
        "no mentee yet": 0,
        "some slots used": 1,
        "full": 1,
        "paused": 1,
    }

    proposals = data["proposals"]
    assert {s["status"]: s["count"] for s in proposals["by_status"]} == {
        "proposed": 1,
        "accepted": 1,
        "declined": 1,
        "expired": 2,
        "concluded": 0,  # no mentorship has ended yet
    }
    # accepted / (accepted + declined + lapsed): the withdrawn proposal does not count.
    assert proposals["acceptance_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert proposals["bucket"] == "hour"  # the first proposal is 35 hours old
    buckets = proposals["over_time"]
    assert len(buckets) in {36, 37}  # 35 hours back, and the hour the first one was in
    totals = {
        key: sum(b[key] for b in buckets)
        for key in ("proposed", "accepted", "declined", "lapsed", "withdrawn")
    }
    assert totals == {"proposed": 5, "accepted": 1, "declined": 1, "lapsed": 1, "withdrawn": 1}
    rates = [b["acceptance_rate"] for b in buckets if b["acceptance_rate"] is not None]
    assert sorted(rates) == [0.0, 0.0, 1.0]  # declined (30 h), lapsed (4 h), accepted (2 h)

    skills = {row["skill"]: row for row in data["skills"]["skills"]}
    assert data["skills"]["strong_level"] == 4
    assert data["skills"]["skills"][0]["skill"] == "pricing_monetisation"
    pricing = skills["pricing_monetisation"]
    assert (pricing["demand_waiting"], pricing["mentees_waiting"], pricing["demand_all"]) == (
        5,
        2,
        6,
    )
    assert (pricing["mentors_strong"], pricing["free_slots_strong"]) == (2, 1)  # C is paused
    insight = skills["customer_insight"]
    assert (insight["demand_waiting"], insight["mentors_strong"], insight["free_slots_strong"]) == (
        1,
        1,
        0,
    )
    metrics = skills["product_metrics"]
    assert (metrics["demand_waiting"], metrics["demand_all"], metrics["mentors_strong"]) == (
        0,
        3,
        0,  # A is at level 3: not strong
    )
    assert skills["technical_depth"]["demand_all"] == 0  # no gap where current == target

    # The peers: profile answered through its /metrics, notification did not.
    pipeline = {service["service"]: service for service in data["pipeline"]}
    assert list(pipeline) == ["profile", "matching", "notification"]
    assert (pipeline["profile"]["status"], pipeline["profile"]["outbox_pending"]) == ("ok", 7)
    assert pipeline["matching"]["status"] == "ok"
    assert pipeline["matching"]["outbox_pending"] == 0
    assert pipeline["notification"]["status"] == "unavailable"
    assert pipeline["notification"]["detail"]
    notifications = data["notifications"]
    assert notifications["status"] == "unavailable"
    assert notifications["sent"] is None
