"""The web pages in a real browser, against the stack `make dev` runs.

`devstack up` runs on free ports (the web front end among its services); Debian's Chromium,
headless and driven by Playwright, is a mentor and then an engineer registering through the
forms, signing in again with the link the SMTP sink caught, seeing their match with its
explanation, where to start on the gap the mentor does not cover (and the engineer's learning
plan), and accepting it; both then see the acceptance. Then the mentorship runs in the
pages: the engineer proposes a goal, the mentor agrees to it and logs a check-in, both answer
the first survey, the engineer re-assesses their levels. Bad input shows each field's message
and stores nothing (the mentorship API, asked with the operator key, holds only what the
corrected forms sent). axe-core (tests/e2e/node_modules, from `make browser-tools`) checks
every page: no serious or critical violation. Every page is screenshotted into
TEST_ARTEFACTS_DIR (default var/test-artefacts/web) for review.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from devstack.smtp_sink import read_maildir
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS, DEV_STACK_OPERATOR_KEY, DevStack, get

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS_DIR", ROOT / "var" / "test-artefacts")) / "web"

MENTOR = {
    "name": "Priya Pricing",
    "email": "priya@example.com",
    "timezone": "Europe/London",
    "languages": "en",
    "capacity": "2",
    "levels": {"pricing_monetisation": "5", "market_competition": "4"},
}
ENGINEER = {
    "name": "Erin Engineer",
    "email": "erin@example.com",
    "timezone": "Europe/Berlin",
    "languages": "en, de",
    "target_role": "Associate PM",
    "gaps": {"pricing_monetisation": ("1", "4"), "stakeholder_communication": ("2", "4")},
}


@pytest.fixture
def axe_script() -> Path:
    if not AXE.is_file():
        pytest.fail(
            f"{AXE} is missing: `make browser-tools` installs axe-core with npm ci "
            "(`make test` and `make test-e2e` run it first)."
        )
    return AXE


class Visit:
    """One person's browser: pages checked by axe-core and saved as screenshots."""

    def __init__(self, browser: Browser, stack: DevStack, axe: Path, who: str) -> None:
        # The pages' CSP refuses inline scripts, the injected axe-core among them: the test
        # lifts it for its own script only (the CSP itself is checked in the unit tests).
        self.context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        # A form answered 422 logs "Failed to load resource" on purpose; missing files are
        # caught as 404 answers below.
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status == 404 else None,
        )
        self.web = stack.urls["web"]
        self.axe = axe
        self.who = who

    def open(self, path: str) -> None:
        response = self.page.goto(f"{self.web}{path}")
        assert response is not None
        assert response.status < 400, (path, response.status, self.page.content()[:2000])

    def check(self, name: str) -> None:
        """No serious or critical accessibility violation, and a screenshot for review."""
        self.page.add_script_tag(path=str(self.axe))
        violations: list[dict[str, Any]] = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: {bad}"
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTEFACTS / f"{self.who}-{name}.png"), full_page=True)

    def fill_common(self, person: dict[str, Any]) -> None:
        page = self.page
        page.get_by_label("Name", exact=True).fill(person["name"])
        page.get_by_label("Email address").fill(person["email"])
        page.get_by_label("Timezone", exact=True).select_option(person["timezone"])
        page.get_by_label("Languages you speak").fill(person["languages"])

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


def mails_to(stack: DevStack, address: str, count: int) -> list[str]:
    """The bodies of the mails to `address`, once there are `count`."""
    deadline = time.monotonic() + 30
    while True:
        bodies = [
            m.get_content() for m in read_maildir(stack.var_dir / "mail") if address in str(m["To"])
        ]
        if len(bodies) >= count:
            return bodies
        assert time.monotonic() < deadline, (address, bodies, stack.output())
        time.sleep(0.3)


def sign_in_by_mail(visit: Visit, stack: DevStack, address: str, links_before: int) -> None:
    """Ask for a link, using only the keyboard, then follow the link from the mail."""
    visit.open("/sign-in")
    visit.check("sign-in")
    page = visit.page
    page.keyboard.press("Tab")  # the skip link comes first
    for _ in range(20):
        if page.evaluate("document.activeElement.id") == "email":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(address)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Check your email")
    visit.check("link-sent")
    bodies = [b for b in mails_to(stack, address, 1) if "sign-in/link?token=" in b]
    deadline = time.monotonic() + 30
    while len(bodies) <= links_before:
        assert time.monotonic() < deadline, stack.output()
        time.sleep(0.3)
        bodies = [b for b in mails_to(stack, address, 1) if "sign-in/link?token=" in b]
    found = re.search(r"(http://\S+/sign-in/link\?token=\S+)", bodies[-1])
    assert found, bodies[-1]
    page.goto(found.group(1))
    visit.check("link-opened")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/matches"))


def wait_for_match(visit: Visit, stack: DevStack) -> None:
    """Reload the matches page until the matcher's proposal is there."""
    deadline = time.monotonic() + 30
    while visit.page.locator("article.match").count() == 0:
        assert time.monotonic() < deadline, f"{visit.page.content()[:3000]}\n{stack.output(80)}"
        time.sleep(0.5)
        visit.page.reload()


def open_mentorship(visit: Visit, stack: DevStack) -> str:
    """Open the person's one mentorship (the list page leads straight to it) once the
    mentorship service has started it and knows the engineer's gaps; its id."""
    deadline = time.monotonic() + 30
    while True:
        visit.open("/mentorships")
        found = re.search(r"/mentorships/([0-9a-f-]{36})$", visit.page.url)
        if found and visit.page.locator(".progress-list li").count() > 0:
            return found.group(1)
        assert time.monotonic() < deadline, f"{visit.page.content()[:3000]}\n{stack.output(80)}"
        time.sleep(0.5)


def stored_mentorship(stack: DevStack, mentorship_id: str) -> dict[str, Any]:
    """The mentorship as the mentorship API holds it (asked with the operator key)."""
    status, body = get(
        f"{stack.urls['mentorship']}/v1/mentorships/{mentorship_id}", DEV_STACK_OPERATOR_KEY
    )
    assert status == 200, (status, body[:500])
    stored: dict[str, Any] = json.loads(body)
    return stored


def sign_out(visit: Visit) -> None:
    visit.page.get_by_role("button", name="Sign out").click()
    visit.page.wait_for_selector("text=Register as an engineer")


def test_engineer_and_mentor_register_sign_in_by_mail_and_accept_their_match(
    chromium: Path, dev_stack: DevStack, axe_script: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            run_the_story(browser, dev_stack, axe_script)
        finally:
            browser.close()


def run_the_story(browser: Browser, stack: DevStack, axe: Path) -> None:
    # --- the mentor registers -------------------------------------------------------------
    mentor = Visit(browser, stack, axe, "mentor")
    mentor.open("/")
    mentor.check("home")
    mentor.page.get_by_role("link", name="Register as a mentor").first.click()
    mentor.check("register-form")
    mentor.fill_common(MENTOR)
    mentor.page.get_by_label("How many mentees you take at once").fill(MENTOR["capacity"])
    mentor.page.get_by_label("I moved from engineering into product myself").check()
    for skill, level in MENTOR["levels"].items():
        mentor.page.locator(f"#level-{skill}").select_option(level)
    mentor.page.get_by_role("button", name="Register").click()
    mentor.page.wait_for_selector("text=Your API token, shown only this once")
    assert len(mentor.page.input_value("#api-token")) >= 40
    mentor.check("registered")
    sign_out(mentor)

    # --- an engineer's bad input: the messages beside the fields, nothing stored ----------
    engineer = Visit(browser, stack, axe, "engineer")
    engineer.open("/register/engineer")
    engineer.fill_common({**ENGINEER, "email": "not-an-address"})
    engineer.page.locator("#current-pricing_monetisation").select_option("4")
    engineer.page.locator("#target-pricing_monetisation").select_option("2")
    engineer.page.get_by_role("button", name="Register").click()
    engineer.page.wait_for_selector("#error-summary")
    email_error = engineer.page.inner_text("#email-error")
    assert "email" in email_error.lower(), email_error
    skill_error = engineer.page.inner_text("#skill-pricing_monetisation-error")
    assert "below current" in skill_error, skill_error
    assert engineer.page.get_attribute("#email", "aria-invalid") == "true"
    assert engineer.page.input_value("#name") == ENGINEER["name"]  # kept for the next try
    engineer.check("register-errors")

    # --- corrected: registered and signed in at once -------------------------------------
    engineer.page.get_by_label("Email address").fill(ENGINEER["email"])
    engineer.page.get_by_label("Target role (optional)").fill(ENGINEER["target_role"])
    for skill, (now, target) in ENGINEER["gaps"].items():
        engineer.page.locator(f"#current-{skill}").select_option(now)
        engineer.page.locator(f"#target-{skill}").select_option(target)
    engineer.page.get_by_role("button", name="Register").click()
    # A 409 here would mean the refused attempt had stored the address after all.
    engineer.page.wait_for_selector("text=Your API token, shown only this once")
    engineer.check("registered")
    sign_out(engineer)

    # --- the engineer signs in by mail, sees the match and its explanation, accepts -------
    sign_in_by_mail(engineer, stack, ENGINEER["email"], links_before=0)
    wait_for_match(engineer, stack)
    match = engineer.page.locator("article.match").first
    explanation = match.locator(".explanation").inner_text()
    assert "pricing" in explanation.lower(), explanation
    assert "Pricing and monetisation" in match.locator(".skill-lists").inner_text()
    # Where to start on the gap the mentor does not cover, from the learning-resource catalogue.
    resources = match.locator(".resources").inner_text()
    assert "Stakeholder communication" in resources, resources
    assert match.locator(".resources .resource-list li").count() >= 1
    engineer.check("matches")
    engineer.page.set_viewport_size({"width": 320, "height": 800})
    width = engineer.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the matches page is {width} px wide at 320 px"
    engineer.check("matches-320px")
    engineer.page.set_viewport_size({"width": 1100, "height": 900})
    match.get_by_role("button", name="Accept").click()
    engineer.page.wait_for_selector("text=You accepted the match.")
    assert "waiting for the other side" in engineer.page.locator("article.match").first.inner_text()

    engineer.open("/suggestions")
    engineer.check("suggestions")
    engineer.open("/plan")
    engineer.check("plan")
    assert "Your mentor is strong here" in engineer.page.inner_text("#main")
    assert engineer.page.locator(".resource-list li").count() >= 1
    engineer.open("/profile")
    engineer.check("profile")

    # --- the mentor signs in by mail and accepts with the keyboard -------------------------
    mentor_page = mentor.page
    sign_in_by_mail(mentor, stack, MENTOR["email"], links_before=0)
    wait_for_match(mentor, stack)
    proposal = mentor_page.locator("article.match").first
    assert "accepted so far by: mentee" in proposal.inner_text()
    mentor.check("matches")
    proposal.get_by_role("button", name="Accept").focus()
    mentor_page.keyboard.press("Enter")
    mentor_page.wait_for_selector("text=You accepted the match.")
    assert "Accepted by both" in mentor_page.locator("article.match").first.inner_text()
    mentor.check("matches-accepted")

    mentor.open("/profile")
    mentor.check("profile")
    mentor.open("/profile/delete")
    mentor.check("delete-confirmation")

    # --- both see the acceptance ------------------------------------------------------------
    engineer.open("/matches")
    assert "Accepted by both" in engineer.page.locator("article.match").first.inner_text()
    engineer.check("matches-accepted")

    run_the_mentorship(engineer, mentor, stack)
    mentor.close()
    engineer.close()


def run_the_mentorship(engineer: Visit, mentor: Visit, stack: DevStack) -> None:
    """After both accepted: a goal, its agreement, a check-in, the first survey on both sides
    and a re-assessment, all through the pages."""
    # --- the engineer proposes a goal; bad input first ---------------------------------------
    mentorship_id = open_mentorship(engineer, stack)
    engineer.check("mentorship")
    page = engineer.page
    page.get_by_role("link", name="Propose a goal").click()
    page.wait_for_selector("h1:text('Propose a goal')")
    engineer.check("goal-form")
    page.get_by_label("The gap it works on").select_option("pricing_monetisation")
    page.get_by_label("The goal").fill("x")
    page.locator("#milestone-1-title").fill("Draft the pricing page")
    page.get_by_role("button", name="Propose the goal").click()
    page.wait_for_selector("#error-summary")
    title_error = page.inner_text("#title-error")
    assert "3 characters" in title_error, title_error
    assert "date" in page.inner_text("#milestone-1-due-error").lower()
    assert page.get_attribute("#title", "aria-invalid") == "true"
    assert page.input_value("#milestone-1-title") == "Draft the pricing page"
    engineer.check("goal-errors")
    assert stored_mentorship(stack, mentorship_id)["goals"] == []

    due = (date.today() + timedelta(days=21)).isoformat()
    page.get_by_label("The goal").fill("Price the team plan for small businesses")
    page.locator("#milestone-1-due").fill(due)
    page.get_by_role("button", name="Propose the goal").click()
    page.wait_for_selector("text=Your goal is proposed")
    assert page.locator("article.goal").count() == 1
    assert "waiting for your mentor to agree" in page.inner_text("article.goal")

    # --- the mentor agrees, changes the cadence and logs a check-in (bad input first) ------
    open_mentorship(mentor, stack)
    mentor.check("mentorship")
    mentor_page = mentor.page
    mentor_page.get_by_role("button", name="Agree to this goal").click()
    mentor_page.wait_for_selector("text=You agreed to the goal.")
    assert "Agreed on" in mentor_page.inner_text("article.goal")
    mentor_page.get_by_label("Meet every").select_option("1")
    mentor_page.get_by_role("button", name="Change how often you meet").click()
    mentor_page.wait_for_selector("text=The check-in schedule is changed")
    assert "You meet every 1 week." in mentor_page.inner_text("#main")

    mentor_page.get_by_role("link", name="Log a check-in").click()
    mentor_page.wait_for_selector("h1:text('Log a check-in')")
    mentor.check("check-in-form")
    mentor_page.get_by_label("The next step").fill("Draft the pricing page")
    mentor_page.get_by_role("button", name="Log the check-in").click()
    mentor_page.wait_for_selector("#discussed-error")
    assert mentor_page.get_attribute("#discussed", "aria-invalid") == "true"
    mentor.check("check-in-errors")
    assert stored_mentorship(stack, mentorship_id)["check_ins"] == 0
    mentor_page.get_by_label("What you talked about").fill(
        "How competitors price per seat; what small teams pay for today."
    )
    mentor_page.get_by_role("button", name="Log the check-in").click()
    mentor_page.wait_for_selector("text=The check-in is logged")
    assert "Check-in 1" in mentor_page.inner_text(".check-in-log")

    # --- both answer the first survey: the mentor with the keyboard, missing a score first -
    mentor_page.get_by_role("link", name="Answer the survey after the first check-in").click()
    mentor_page.wait_for_selector("h1:text('Survey after the first check-in')")
    mentor.check("survey-form")
    mentor_page.locator("#csat-4").check()
    mentor_page.get_by_role("button", name="Send my answer").click()
    mentor_page.wait_for_selector("#nps-error")
    assert "required" in mentor_page.inner_text("#nps-error").lower()
    assert mentor_page.is_checked("#csat-4")  # kept for the next try
    mentor.check("survey-errors")
    assert stored_mentorship(stack, mentorship_id)["feedback"] == []
    mentor_page.locator("#nps-0").focus()
    for _ in range(9):
        mentor_page.keyboard.press("ArrowRight")
    assert mentor_page.is_checked("#nps-9")
    mentor_page.get_by_label("Anything else? (optional)").fill("A thoughtful engineer.")
    mentor_page.get_by_label("Show my comment to my mentee").check()
    mentor_page.get_by_role("button", name="Send my answer").click()
    mentor_page.wait_for_selector("text=Thank you: your answer is saved.")

    open_mentorship(engineer, stack)
    assert "Check-in 1" in page.inner_text(".check-in-log")
    page.get_by_role("link", name="Answer the survey after the first check-in").click()
    page.wait_for_selector("h1:text('Survey after the first check-in')")
    page.locator("#csat-5").check()
    page.locator("#nps-10").check()
    page.get_by_label("Anything else? (optional)").fill("Just for the operators.")
    page.get_by_role("button", name="Send my answer").click()
    page.wait_for_selector("text=Thank you: your answer is saved.")
    answers = page.inner_text(".answers-list")
    assert "A thoughtful engineer." in answers  # the mentor shared it
    assert "satisfaction 5 of 5" in answers  # the engineer's own scores
    assert "satisfaction 4" not in answers  # never the mentor's

    # --- the engineer re-assesses ------------------------------------------------------------
    page.get_by_role("link", name="Re-assess your levels").click()
    page.wait_for_selector("h1:text('Re-assess your levels')")
    engineer.check("levels-form")
    page.get_by_label("Pricing and monetisation").select_option("3")
    page.get_by_role("button", name="Save my levels").click()
    page.wait_for_selector("text=Your levels are saved.")
    assert "now 3; 2 of 3 levels closed" in page.inner_text(".progress-list")
    engineer.check("mentorship-progress")
    page.set_viewport_size({"width": 320, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the mentorship page is {width} px wide at 320 px"
    engineer.check("mentorship-320px")
    page.set_viewport_size({"width": 1100, "height": 900})
    page.get_by_role("link", name="End the mentorship early").click()
    engineer.check("ending-form")

    mentor.open("/mentorships")
    mentor_answers = mentor.page.inner_text(".answers-list")
    assert "Your mentee answered the survey after the first check-in" in mentor_answers
    assert "satisfaction 4 of 5" in mentor_answers  # the mentor's own
    assert "satisfaction 5" not in mentor_answers  # never the engineer's scores
    assert "Just for the operators." not in mentor_answers  # nor a comment kept from them
    mentor.check("mentorship-surveys")

    # Only what the corrected forms sent was stored.
    stored = stored_mentorship(stack, mentorship_id)
    assert [(g["title"], g["status"]) for g in stored["goals"]] == [
        ("Price the team plan for small businesses", "agreed")
    ]
    assert [x["due_on"] for x in stored["goals"][0]["milestones"]] == [due]
    assert stored["check_ins"] == 1
    assert stored["cadence_weeks"] == 1
    assert sorted((a["given_by"], a["csat"], a["nps"]) for a in stored["feedback"]) == [
        ("mentee", 5, 10),
        ("mentor", 4, 9),
    ]
    assert {s["skill"]: s["current"] for s in stored["progress"]["skills"]} == {
        "pricing_monetisation": 3,
        "stakeholder_communication": 2,
    }
