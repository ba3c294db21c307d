"""The operator console in a real browser, against the stack `make dev` runs.

`devstack up` runs as a subprocess in its own process group, on free ports and its own data
folder; `devstack seed` registers the demo population through the public API, accepts some of
its matches and takes their mentorships through goals, check-ins, surveys and endings; then
Debian's Chromium (headless, driven by Playwright, no browser download) opens the operator
console, is given the operator key and must show the seeded numbers, the mentorship program
among them, in SVG plots without a console error. The whole process group is stopped
afterwards, whatever happened.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS, DEV_STACK_OPERATOR_KEY, DevStack, get

pytestmark = pytest.mark.e2e

OPERATOR_KEY = DEV_STACK_OPERATOR_KEY
MENTORS, MENTEES = 30, 100  # what `make seed` registers


def seed(stack: DevStack) -> dict[str, int]:
    """`make seed` against the stack; the mentorships it made, by how each went."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.cli",
            "seed",
            "--profile-url",
            stack.urls["profile"],
            "--matching-url",
            stack.urls["matching"],
            "--mentorship-url",
            stack.urls["mentorship"],
            "--mentors",
            str(MENTORS),
            "--mentees",
            str(MENTEES),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"registered {MENTORS} mentors and {MENTEES} mentees" in result.stdout, result.stdout
    made = re.search(r"^mentorships: (\d+) \((.*)\)$", result.stdout, re.MULTILINE)
    assert made is not None, result.stdout
    journeys = {k: int(n) for k, n in (item.split() for item in made.group(2).split(", "))}
    assert sum(journeys.values()) == int(made.group(1))
    return journeys


def _counts(data: dict[str, Any]) -> tuple[Any, ...]:
    """What the page's checks compare: the numbers that move while the system works."""
    return (
        data["mentors"]["registered"],
        data["mentees"]["registered"],
        data["proposals"]["by_status"],
        (data["program"]["report"] or {}).get("total"),
    )


def console_numbers(stack: DevStack, mentorships: int) -> dict[str, Any]:
    """The console's GET /v1/console once the matcher has read every seeded profile, the
    program report counts every seeded mentorship, and the numbers have stopped moving (a
    mentorship that ended frees its mentor's slot, and the matcher proposes again)."""
    deadline = time.monotonic() + 45
    previous: tuple[Any, ...] | None = None
    while True:
        status, body = get(f"{stack.urls['console']}/v1/console", OPERATOR_KEY)
        assert status == 200, (status, body[:500])
        data: dict[str, Any] = json.loads(body)
        report = data["program"]["report"] or {"total": {"started": None}}
        seeded = (
            data["mentors"]["registered"] == MENTORS
            and data["mentees"]["registered"] == MENTEES
            and report["total"]["started"] == mentorships
        )
        if seeded and _counts(data) == previous:
            return data
        previous = _counts(data) if seeded else None
        assert time.monotonic() < deadline, json.dumps(data)[:2000]
        time.sleep(2.0)


def watch_for_errors(page: Page, errors: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            errors.append(f"console {message.type}: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))


def test_the_console_shows_the_seeded_stack_in_a_real_browser(
    chromium: Path, dev_stack: DevStack
) -> None:
    journeys = seed(dev_stack)
    data = console_numbers(dev_stack, sum(journeys.values()))
    # The program report counts what the seed did, as it did it.
    total = data["program"]["report"]["total"]
    assert total["completed"] == journeys.get("completed", 0) + journeys.get("completed_by_both", 0)
    assert total["ended_early"] == journeys.get("ended_early", 0)
    assert total["completed"] > 0
    assert total["ended_early"] > 0
    assert total["feedback"]["answers"] > 0
    assert total["gap_closed"], total
    page_url = f"{dev_stack.urls['console']}/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            errors: list[str] = []
            watch_for_errors(page, errors)

            response = page.goto(page_url)
            assert response is not None
            assert response.status == 200
            assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
            # No data without the key: the page asks for it first.
            page.wait_for_selector("#login:not([hidden])")
            assert page.locator("#panels").is_hidden()

            page.fill("#key", OPERATOR_KEY)
            page.click("#login button[type=submit]")
            page.wait_for_selector("body[data-loaded=true]", timeout=15_000)

            # The seeded population, as the matcher counts it.
            assert page.inner_text("#stat-mentors .value") == str(MENTORS)
            assert page.inner_text("#stat-mentees .value") == str(MENTEES)
            proposed = next(
                s["count"] for s in data["proposals"]["by_status"] if s["status"] == "proposed"
            )
            assert proposed > 0, data["proposals"]
            page.wait_for_function(
                "n => document.querySelector('#stat-proposed .value').textContent === String(n)",
                arg=proposed,
                timeout=10_000,
            )

            # Plots, not only tables: each chart drew an SVG with bars in it.
            for chart in (
                "chart-waits" if data["mentees"]["waiting"] else None,
                "chart-capacity",
                "chart-utilisation",
                "chart-status",
                "chart-acceptance",
                "chart-skills",
                "chart-mail" if data["notifications"]["sent"] else None,
            ):
                if chart is None:
                    continue
                bars = page.locator(f"#{chart} svg rect.bar")
                assert bars.count() > 0, f"{chart} has no bars"
            assert page.locator("#chart-skills svg text.bar-label").count() >= 14

            # The mentorship program, by month, as the mentorship service's report has it.
            assert page.inner_text("#stat-program-started .value") == str(total["started"])
            assert page.inner_text("#stat-program-completed .value") == str(total["completed"])
            assert page.inner_text("#stat-program-ended-early .value") == str(total["ended_early"])
            assert (
                page.inner_text("#stat-program-csat .value")
                == f"{total['feedback']['csat_median']:.1f}"
            )
            # Rounded as the page's Math.round does (halves up), not as round() does (halves
            # to even): an NPS of 22.5 shows as +23.
            nps = math.floor(total["feedback"]["nps"] + 0.5)
            assert page.inner_text("#stat-program-nps .value") == (
                f"+{nps}" if nps > 0 else str(nps)
            )
            for chart in ("chart-program", "chart-gap-closed"):
                assert page.locator(f"#{chart} svg rect.bar").count() > 0, f"{chart} has no bars"
            # A row for the month of the seeding, and the total.
            assert page.locator("#table-program tbody tr").count() >= 2
            skills = page.locator("#chart-gap-closed svg text.bar-label")
            assert skills.count() == len(total["gap_closed"])
            # Every service answered, so no panel says unavailable.
            assert page.locator(".unavailable").count() == 0

            # It refreshes by itself: the time of the last update moves on.
            updated = page.inner_text("#status")
            page.wait_for_function(
                "before => document.querySelector('#status').textContent !== before",
                arg=updated,
                timeout=15_000,
            )
            assert not errors, "\n".join(errors)

            # A wrong key gets a clear message, not a broken page (a new tab: its own session
            # storage, so no key yet).
            stranger = context.new_page()
            stranger.goto(page_url)
            stranger.fill("#key", "not-the-key")
            stranger.click("#login button[type=submit]")
            stranger.wait_for_selector("#login-error:not([hidden])", timeout=10_000)
            message = stranger.inner_text("#login-error")
            assert "not the operator key" in message
            assert "403" in message
            assert stranger.locator("#panels").is_hidden()
        finally:
            browser.close()
