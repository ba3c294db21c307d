"""The operator dashboard's pure parts: wait buckets, mentor load, time buckets, acceptance
rates and the reading of Prometheus text."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import matching_service
import pytest
from matching_service.app import create_app
from matching_service.config import MatchingSettings
from matching_service.dashboard import (
    MentorGroup,
    ServiceMetrics,
    acceptance_rate,
    acceptance_series,
    mentor_panel,
    notification_view,
    parse_metrics,
    pipeline_view,
    read_peer,
    time_grid,
    wait_buckets,
)


def test_waits_fall_into_their_bucket_and_a_bound_belongs_to_the_next() -> None:
    bars = wait_buckets([0.0, 0.99, 1.0, 5.9, 23.0, 24.0, 100.0, 200.0, 400.0, 10_000.0])
    assert [(bar.label, bar.count) for bar in bars] == [
        ("< 1 h", 2),
        ("1-6 h", 2),
        ("6-24 h", 1),
        ("1-3 d", 1),
        ("3-7 d", 1),
        ("1-2 wk", 1),
        ("> 2 wk", 2),
    ]
    assert sum(bar.count for bar in wait_buckets([])) == 0


def test_mentor_load_adds_up_slots_and_sorts_mentors_by_utilisation() -> None:
    panel = mentor_panel(
        [
            MentorGroup(capacity=2, load=0, accepting=True, mentors=3),
            MentorGroup(capacity=2, load=1, accepting=True, mentors=1),
            MentorGroup(capacity=2, load=2, accepting=True, mentors=2),
            MentorGroup(capacity=1, load=1, accepting=False, mentors=1),
            # capacity lowered below the slots taken: full, no free slot
            MentorGroup(capacity=1, load=2, accepting=True, mentors=1),
        ]
    )
    assert (panel.registered, panel.accepting) == (8, 7)
    assert panel.slots == 2 * 6 + 1 + 1
    assert panel.used == 0 + 1 + 4 + 1 + 2
    assert panel.free_slots == 2 * 3 + 1  # the paused mentor's slots are not free
    assert [(r.capacity, r.mentors, r.slots, r.used) for r in panel.by_capacity] == [
        (1, 2, 2, 3),
        (2, 6, 12, 5),
    ]
    assert {bar.label: bar.count for bar in panel.utilisation} == {
        "no mentee yet": 3,
        "some slots used": 1,
        "full": 3,
        "paused": 1,
    }


NOW = datetime(2026, 3, 2, 15, 42, tzinfo=UTC)


def test_hourly_buckets_while_the_first_proposal_is_at_most_two_days_old() -> None:
    unit, starts = time_grid(NOW, None)
    assert unit == "hour"
    assert len(starts) == 12
    assert starts[-1] == datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))

    unit, starts = time_grid(NOW, NOW - timedelta(hours=30))
    assert (unit, len(starts)) == ("hour", 31)
    assert starts[0] <= NOW - timedelta(hours=30)

    unit, starts = time_grid(NOW, NOW - timedelta(days=2))
    assert (unit, len(starts)) == ("hour", 48)


def test_daily_buckets_after_two_days_at_most_thirty_of_them() -> None:
    unit, starts = time_grid(NOW, NOW - timedelta(days=3))
    assert unit == "day"
    assert len(starts) == 7
    assert starts[-1] == datetime(2026, 3, 2, tzinfo=UTC)
    # the day of the first proposal is the first bucket, even when it began late that day
    assert time_grid(NOW, NOW - timedelta(days=20))[1][0] == datetime(2026, 2, 10, tzinfo=UTC)
    late = datetime(2026, 2, 20, 23, 50, tzinfo=UTC)
    early_now = datetime(2026, 3, 2, 0, 10, tzinfo=UTC)
    assert time_grid(early_now, late)[1][0] == datetime(2026, 2, 20, tzinfo=UTC)
    assert len(time_grid(NOW, NOW - timedelta(days=400))[1]) == 30


def test_acceptance_rate_counts_answers_not_withdrawals() -> None:
    assert acceptance_rate(0, 0, 0) is None
    assert acceptance_rate(3, 1, 0) == 0.75
    assert acceptance_rate(1, 1, 1) == pytest.approx(1 / 3, abs=1e-4)

    _, starts = time_grid(NOW, None)
    series = acceptance_series(
        starts,
        {starts[-1]: 5, starts[0]: 2},
        {
            (starts[-1], "accepted"): 2,
            (starts[-1], "declined"): 1,
            (starts[-1], "lapsed"): 1,
            (starts[-1], "withdrawn"): 7,
            (starts[0] - timedelta(hours=1), "accepted"): 9,  # before the first bucket
        },
    )
    assert len(series) == len(starts)
    last = series[-1]
    assert (last.proposed, last.accepted, last.declined, last.lapsed, last.withdrawn) == (
        5,
        2,
        1,
        1,
        7,
    )
    assert last.acceptance_rate == 0.5
    assert series[0].proposed == 2
    assert series[0].acceptance_rate is None
    assert sum(bucket.accepted for bucket in series) == 2


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
    # Port 9 (discard) on loopback: nothing listens there in a test.
    found, detail = await read_peer("http://127.0.0.1:9", 0.5, "DASHBOARD_PROFILE_URL")
    assert found is None
    assert detail is not None
    assert "127.0.0.1:9/metrics" in detail
    found, detail = await read_peer("", 0.5, "DASHBOARD_PROFILE_URL")
    assert found is None
    assert detail == "not configured (DASHBOARD_PROFILE_URL is empty)"


STATIC = Path(matching_service.__file__).parent / "static"


async def test_the_page_loads_only_our_own_files_from_the_service() -> None:
    html = (STATIC / "dashboard.html").read_text()
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(referenced) == {"data:,", "/dashboard/dashboard.css", "/dashboard/dashboard.js"}
    # The app is not started (no database): the page and its files need nothing of it.
    app = create_app(MatchingSettings(database_url="postgresql://nobody@localhost/unused"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://matching") as client:
        for path in ("/dashboard", "/dashboard/dashboard.css", "/dashboard/dashboard.js"):
            answer = await client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/dashboard")).text == html
    for name in ("dashboard.html", "dashboard.js", "dashboard.css"):
        text = (STATIC / name).read_text()
        # No CDN, no other origin: the only absolute URL is the SVG namespace.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        # The Content-Security-Policy allows no inline script or style.
        assert "<script>" not in text
        assert "style=" not in text
        assert "innerHTML" not in text
