"""The operator console's own parts: reading Prometheus text into the mail and pipeline panels,
a service that does not answer, and a page made only of the console's own files."""

from __future__ import annotations

import re
from pathlib import Path

import devstack.console
import httpx
import pytest
from devstack.console.app import ConsoleSettings, create_app, read_metrics
from devstack.console.view import ServiceMetrics, notification_view, parse_metrics, pipeline_view

METRICS = """\
# HELP mentorship_outbox_pending Outbox rows waiting to be published.
# TYPE mentorship_outbox_pending gauge
mentorship_outbox_pending{service="notification"} 4.0
mentorship_outbox_pending{service="matching"} 100.0
# HELP mentorship_consumer_lag Records not taken yet.
# TYPE mentorship_consumer_lag gauge
mentorship_consumer_lag{consumer="match-events",partition="0",service="notification",topic="match.events"} 3.0
mentorship_consumer_lag{consumer="match-events",partition="1",service="notification",topic="match.events"} 2.0
mentorship_consumer_lag{consumer="profile-events",partition="0",service="notification",topic="profile.events"} 0.0
# HELP mentorship_dead_letters_total Dead letters.
# TYPE mentorship_dead_letters_total counter
mentorship_dead_letters_total{consumer="match-events",reason="invalid_payload",topic="match.events"} 1.0
mentorship_dead_letters_created{consumer="match-events",reason="invalid_payload",topic="match.events"} 1.7e9
# HELP mentorship_emails_sent_total Mails sent.
# TYPE mentorship_emails_sent_total counter
mentorship_emails_sent_total{template="match_proposed"} 40.0
mentorship_emails_sent_total{template="match_accepted"} 6.0
# HELP mentorship_emails_failed_total Mails failed.
# TYPE mentorship_emails_failed_total counter
mentorship_emails_failed_total{outcome="retrying",template="match_proposed"} 5.0
mentorship_emails_failed_total{outcome="given_up",template="match_proposed"} 2.0
mentorship_emails_failed_total{outcome="given_up",template="match_expired"} 1.0
# HELP process_cpu_seconds_total CPU time.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
"""


def test_metrics_text_gives_backlog_lag_dead_letters_and_mail() -> None:
    found = parse_metrics(METRICS)
    assert found.outbox_pending == 104
    assert found.consumer_lag == {
        ("match-events", "match.events"): 5,
        ("profile-events", "profile.events"): 0,
    }
    assert found.dead_letters == 1
    assert found.sent == {"match_proposed": 40, "match_accepted": 6}
    assert found.failed == {
        ("match_proposed", "retrying"): 5,
        ("match_proposed", "given_up"): 2,
        ("match_expired", "given_up"): 1,
    }

    mail = notification_view(found, None)
    assert (mail.status, mail.sent, mail.retrying, mail.given_up) == ("ok", 46, 5, 3)
    assert [(t.template, t.sent, t.retrying, t.given_up) for t in mail.by_template] == [
        ("match_accepted", 6, 0, 0),
        ("match_expired", 0, 0, 1),
        ("match_proposed", 40, 5, 2),
    ]
    view = pipeline_view("notification", found)
    assert view.status == "ok"
    assert view.outbox_pending == 104
    assert [(c.consumer, c.topic, c.lag) for c in view.consumer_lag] == [
        ("match-events", "match.events", 5),
        ("profile-events", "profile.events", 0),
    ]


def test_own_metrics_count_only_the_gauges_of_this_service() -> None:
    # Services run in one test process share a registry; their gauges carry `service`.
    found = parse_metrics(METRICS, service="matching")
    assert found.outbox_pending == 100
    assert found.consumer_lag == {}
    assert found.dead_letters == 1  # no service label: this process's own


def test_text_that_is_not_prometheus_is_refused() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the parser's own message
        parse_metrics("<html><body>502 Bad Gateway</body></html>\n")


def test_an_unavailable_peer_leaves_its_numbers_empty() -> None:
    assert pipeline_view("profile", None, "down").model_dump() == {
        "service": "profile",
        "status": "unavailable",
        "detail": "down",
        "outbox_pending": None,
        "consumer_lag": [],
        "dead_letters": None,
    }
    mail = notification_view(None, "no answer")
    assert (mail.status, mail.detail, mail.sent, mail.by_template) == (
        "unavailable",
        "no answer",
        None,
        [],
    )
    assert ServiceMetrics().outbox_pending == 0


async def test_a_peer_that_does_not_answer_or_is_not_configured_is_reported_not_raised() -> None:
    async with httpx.AsyncClient(timeout=0.5, trust_env=False) as client:
        # Port 9 (discard) on loopback: nothing listens there in a test.
        found, detail = await read_metrics(client, "profile", "http://127.0.0.1:9", "PROFILE_URL")
        assert found is None
        assert detail is not None
        assert "127.0.0.1:9/metrics" in detail
        found, detail = await read_metrics(client, "profile", "", "PROFILE_URL")
        assert found is None
        assert detail == "not configured (PROFILE_URL is empty)"


async def test_an_answer_that_is_not_prometheus_text_is_reported() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>\n")

    async with httpx.AsyncClient(transport=httpx.MockTransport(html)) as client:
        found, detail = await read_metrics(client, "profile", "http://proxy", "PROFILE_URL")
    assert found is None
    assert detail is not None
    assert "not Prometheus text" in detail


STATIC = Path(devstack.console.__file__).parent / "static"


async def test_the_page_loads_only_our_own_files_from_the_console() -> None:
    html = (STATIC / "console.html").read_text()
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(referenced) == {"data:,", "/console.css", "/console.js"}
    # The app is not started (no peers): the page and its files need nothing of it.
    app = create_app(ConsoleSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        for path in ("/", "/console.css", "/console.js"):
            answer = await client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/")).text == html
    for name in ("console.html", "console.js", "console.css"):
        text = (STATIC / name).read_text()
        # No CDN, no other origin: the only absolute URL is the SVG namespace.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        # The Content-Security-Policy allows no inline script or style.
        assert "<script>" not in text
        assert "style=" not in text
        assert "innerHTML" not in text
