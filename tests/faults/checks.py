"""What "every registration has exactly one effect in each service" means, read from the
services' own databases and the SMTP sink's maildir after (and while) the system catches up.

* profile: one row per registration, with the id the client was given;
* matching: every profile in the matcher's copy; one match decision per mentee (exactly one
  proposal, or none while every mentor is full: every mentor can take every mentee); each
  mentor's load equals its open matches and stays within its capacity; exactly one
  MatchProposed event in the outbox per match;
* notification: every profile is a contact; exactly one mail (one distinct Message-ID) per
  proposal and recipient, at the right address, and one learning-plan mail to each mentee left
  without a proposal (and none to the others). A mail resent after a crash between the send
  and its record carries the same Message-ID: those raw copies are counted separately;
* mentorship: every profile is known; with people accepting proposals (`tests.faults.journeys`),
  exactly one mentorship per accepted match and one MentorshipStarted event each, and no
  match in any other state than proposed or accepted; each side mailed once per acceptance,
  per mentorship start, per first check-in (the survey) and, once the mentorship service's
  clock has passed a check-in's reminder time, per reminder: exactly one CheckInReminderIssued
  event and one mail per side for the check-in due, and none for any other.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import asyncpg
from devstack.clock import DevClock
from devstack.load import LoadDriver, Registration
from devstack.stack import Stack

from tests.faults.journeys import JourneyDriver, accepts

#: How many examples of each problem a report quotes.
_EXAMPLES = 5


@dataclass
class Findings:
    """One look at the whole system."""

    sent: int = 0
    registered: int = 0
    matches: int = 0
    mentorships: int = 0
    waiting: int = 0
    mails: int = 0
    #: Effects that should be there and are not: effect -> registrations (emails) concerned.
    missing: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: Effects that are there more than once: effect -> number of extra copies.
    duplicated: Counter[str] = field(default_factory=Counter)
    #: Anything else that must never happen: what -> examples.
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    #: Work not done yet: outbox rows to publish, mails to send, per service.
    backlog: Counter[str] = field(default_factory=Counter)
    #: Copies of a mail beyond the first with the same Message-ID.
    raw_duplicate_mails: int = 0
    #: Registrations the client never got an answer for within the driver's patience.
    unanswered: int = 0
    #: When each registration (by email) was first sent.
    started: dict[str, float] = field(default_factory=dict)

    def missing_before(self, cutoff: float) -> set[str]:
        """Registrations sent before ``cutoff`` with an effect missing."""
        return {
            who
            for concerned in self.missing.values()
            for who in concerned
            if self.started.get(who, 0.0) <= cutoff
        }

    @property
    def lost(self) -> int:
        """Registrations with at least one effect missing somewhere."""
        return len(set().union(*self.missing.values())) if self.missing else 0

    @property
    def duplicated_effects(self) -> int:
        return sum(self.duplicated.values())

    @property
    def caught_up(self) -> bool:
        return not self.lost and not +self.backlog

    @property
    def sound(self) -> bool:
        """No loss, no duplicate, no violation (what the tests assert)."""
        return (
            not self.lost
            and not self.duplicated_effects
            and not any(self.violations.values())
            and not self.unanswered
        )

    def describe(self) -> str:
        lines = [
            f"registrations sent {self.sent}, in the profile database {self.registered}, "
            f"matches {self.matches}, mentorships {self.mentorships}, "
            f"mentees waiting {self.waiting}, mails {self.mails} "
            f"(raw duplicates {self.raw_duplicate_mails}), unanswered {self.unanswered}",
        ]
        for effect, who in sorted(self.missing.items()):
            if who:
                lines.append(f"missing {effect}: {len(who)}, e.g. {sorted(who)[:_EXAMPLES]}")
        for effect, extra in sorted(self.duplicated.items()):
            if extra:
                lines.append(f"duplicated {effect}: {extra} extra")
        for what, examples in sorted(self.violations.items()):
            if examples:
                lines.append(f"{what}: {len(examples)}, e.g. {examples[:_EXAMPLES]}")
        if +self.backlog:
            lines.append(f"backlog: {dict(+self.backlog)}")
        return "\n".join(lines)


class Maildir:
    """The sink's mail, parsed once per file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._parsed: dict[str, tuple[str, str]] = {}

    def read(self) -> list[tuple[str, str]]:
        """(Message-ID, recipient address) of every mail, in arrival order."""
        files = sorted(self.path.glob("*.eml"))
        for file in files:
            if file.name in self._parsed:
                continue
            message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            to = message["To"]
            addresses: Iterable[Address] = getattr(to, "addresses", ())
            recipient = next((a.addr_spec.lower() for a in addresses), str(to).lower())
            self._parsed[file.name] = (str(message["Message-ID"]).strip(), recipient)
        return [self._parsed[file.name] for file in files]


async def _fetch(url: str, queries: dict[str, str]) -> dict[str, list[asyncpg.Record]]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return {name: await conn.fetch(sql) for name, sql in queries.items()}
    finally:
        await conn.close()


#: How long before a due check-in the mentorship service reminds both sides (its default).
REMINDER_LEAD = timedelta(hours=48)

_PROFILE = {
    "profiles": "SELECT id::text AS id, kind, lower(email) AS email FROM profiles",
    "outbox": "SELECT status, count(*) AS n FROM outbox GROUP BY status",
}
_MATCHING = {
    "mentees": "SELECT id::text AS id FROM mentees",
    "mentors": "SELECT id::text AS id, capacity, load FROM mentors",
    "matches": "SELECT id::text AS id, mentee_id::text AS mentee, mentor_id::text AS mentor, "
    "status FROM matches",
    "proposed": "SELECT event_id::text AS event_id, "
    "convert_from(payload, 'UTF8')::jsonb -> 'payload' ->> 'match_id' AS match_id "
    "FROM outbox WHERE event_type = 'MatchProposed'",
    "outbox": "SELECT status, count(*) AS n FROM outbox GROUP BY status",
}
_NOTIFICATION = {
    "contacts": "SELECT profile_id::text AS id FROM contacts",
    "notifications": "SELECT message_id, template, context ->> 'match_id' AS match_id, "
    "context ->> 'mentorship_id' AS mentorship_id, "
    "context ->> 'check_in_number' AS check_in_number, "
    "recipient_id::text AS recipient, status FROM notifications",
    "outbox": "SELECT status, count(*) AS n FROM outbox GROUP BY status",
}
_MENTORSHIP = {
    "people": "SELECT profile_id::text AS id FROM people",
    "mentorships": "SELECT id::text AS id, match_id::text AS match_id, "
    "mentee_id::text AS mentee, mentor_id::text AS mentor, status, cadence_weeks, "
    "schedule_anchor, check_ins FROM mentorships",
    "events": "SELECT event_id::text AS event_id, event_type, "
    "convert_from(payload, 'UTF8')::jsonb -> 'payload' ->> 'mentorship_id' AS mentorship_id, "
    "convert_from(payload, 'UTF8')::jsonb -> 'payload' ->> 'check_in_number' AS number "
    "FROM outbox WHERE event_type IN ('MentorshipStarted', 'CheckInReminderIssued')",
    "outbox": "SELECT status, count(*) AS n FROM outbox GROUP BY status",
}
#: What a mail is about, by template: (template, what, recipient) names one mail that must
#: go out exactly once.
MailKey = tuple[str, str, str]


def _about(row: asyncpg.Record) -> str:
    """What a notification is about: its match, its mentorship (with the check-in, for a
    reminder), or, for a learning plan, nothing but the mentee it goes to."""
    template = row["template"]
    if template == "learning_plan":
        return "plan"
    if template == "check_in_reminder":
        return f"{row['mentorship_id']} check-in {row['check_in_number']}"
    return str(row["mentorship_id"] or row["match_id"])


class Inspector:
    """Looks at the stack's databases and maildir and says what is missing or doubled."""

    def __init__(
        self,
        stack: Stack,
        driver: LoadDriver,
        *,
        journeys: JourneyDriver | None = None,
        clock: DevClock | None = None,
    ) -> None:
        """``journeys``: people accept proposals and check in (without it, every match stays
        proposed); ``clock``: the mentorship service's clock, when the test moves it."""
        self.stack = stack
        self.driver = driver
        self.journeys = journeys
        self.clock = clock
        assert stack.sink is not None, "the fault stacks run an SMTP sink of their own"
        self.maildir = Maildir(stack.sink.maildir)

    async def look(self) -> Findings:
        profile, matching, notification, mentorship = await asyncio.gather(
            _fetch(self.stack.database_url("profile"), _PROFILE),
            _fetch(self.stack.database_url("matching"), _MATCHING),
            _fetch(self.stack.database_url("notification"), _NOTIFICATION),
            _fetch(self.stack.database_url("mentorship"), _MENTORSHIP),
        )
        mails = self.maildir.read()
        found = Findings(
            sent=len(self.driver.registrations),
            mails=len(mails),
            started={r.email.lower(): r.started_at for r in self.driver.registrations},
        )
        for service, rows in (
            ("profile", profile),
            ("matching", matching),
            ("notification", notification),
            ("mentorship", mentorship),
        ):
            for row in rows["outbox"]:
                if row["status"] == "pending":
                    found.backlog[f"{service} outbox"] += row["n"]
                elif row["status"] == "failed":
                    found.violations[f"{service} outbox rows failed"].append(str(row["n"]))

        # -- profile ------------------------------------------------------------------------
        by_email: dict[str, list[asyncpg.Record]] = defaultdict(list)
        for row in profile["profiles"]:
            by_email[row["email"]].append(row)
        found.registered = len(by_email)
        for same_email in by_email.values():
            found.duplicated["profile row"] += len(same_email) - 1
        for registration in self.driver.registrations:
            self._check_answer(found, registration, by_email.get(registration.email.lower(), []))
        kind_of = {row["id"]: row["kind"] for row in profile["profiles"]}
        email_of = {row["id"]: row["email"] for row in profile["profiles"]}

        # -- matching -----------------------------------------------------------------------
        mentees = {r["id"] for r in matching["mentees"]}
        mentors = {r["id"]: r for r in matching["mentors"]}
        for profile_id, kind in kind_of.items():
            known = mentees if kind == "mentee" else mentors
            if profile_id not in known:
                found.missing[f"{kind} in the matcher"].add(email_of[profile_id])
        matches_of: dict[str, list[asyncpg.Record]] = defaultdict(list)
        open_of_mentor: Counter[str] = Counter()
        # Nobody declines and nothing ends: a match stays proposed, or is accepted by both
        # when the test's people accept proposals.
        allowed = ("proposed", "accepted") if self.journeys is not None else ("proposed",)
        for match in matching["matches"]:
            matches_of[match["mentee"]].append(match)
            if match["status"] in ("proposed", "accepted"):
                open_of_mentor[match["mentor"]] += 1
            if match["status"] not in allowed:
                found.violations[f"match {match['status']}"].append(match["id"])
            if match["status"] == "proposed" and self._will_accept(match["mentee"]):
                found.backlog["proposals to accept"] += 1
        found.matches = len(matching["matches"])
        full = all(m["load"] >= m["capacity"] for m in mentors.values())
        for profile_id, kind in kind_of.items():
            if kind != "mentee":
                continue
            decided = matches_of.get(profile_id, [])
            if not decided:
                found.waiting += 1
                if not full:
                    found.missing["match decision"].add(email_of[profile_id])
            found.duplicated["match decision"] += max(0, len(decided) - 1)
        for mentor in mentors.values():
            if mentor["load"] > mentor["capacity"]:
                found.violations["mentor above capacity"].append(
                    f"{mentor['id']} load {mentor['load']} > capacity {mentor['capacity']}"
                )
            if mentor["load"] != open_of_mentor[mentor["id"]]:
                found.violations["mentor load differs from open matches"].append(
                    f"{mentor['id']} load {mentor['load']}, open {open_of_mentor[mentor['id']]}"
                )
        events_of_match: dict[str, set[str]] = defaultdict(set)
        for row in matching["proposed"]:
            events_of_match[row["match_id"]].add(row["event_id"])
        for match in matching["matches"]:
            events = events_of_match.get(match["id"], set())
            if not events:
                found.missing["MatchProposed event"].add(email_of.get(match["mentee"], "?"))
            found.duplicated["MatchProposed event"] += max(0, len(events) - 1)

        # -- notification -------------------------------------------------------------------
        contacts = {r["id"] for r in notification["contacts"]}
        for profile_id in kind_of:
            if profile_id not in contacts:
                found.missing["contact"].add(email_of[profile_id])
        for row in notification["notifications"]:
            if row["status"] == "pending":
                found.backlog["notification mails"] += 1
            elif row["status"] != "sent":
                found.violations[f"notification {row['status']}"].append(row["message_id"])
        copies = Counter(message_id for message_id, _ in mails)
        found.raw_duplicate_mails = sum(n - 1 for n in copies.values())
        key_of_message = {
            r["message_id"]: (r["template"], _about(r)) for r in notification["notifications"]
        }
        messages_to: dict[MailKey, set[str]] = defaultdict(set)
        for message_id, recipient in mails:
            about = key_of_message.get(message_id)
            if about is None:
                found.violations["mail about no known notification"].append(message_id)
                continue
            messages_to[(*about, recipient)].add(message_id)
        expected: dict[MailKey, str] = {}  # -> the mentee concerned

        def expect(template: str, about: str, mentee: str, *people: str) -> None:
            for person in people:
                address = email_of.get(person, f"unknown profile {person}")
                expected[(template, about, address)] = email_of.get(mentee, "?")

        for profile_id, kind in kind_of.items():
            if kind == "mentee" and not matches_of.get(profile_id) and full:
                expect("learning_plan", "plan", profile_id, profile_id)
        for match in matching["matches"]:
            people = (match["mentee"], match["mentor"])
            expect("match_proposed", match["id"], match["mentee"], *people)
            if match["status"] == "accepted":
                expect("match_accepted", match["id"], match["mentee"], *people)
        self._look_at_mentorships(found, matching, mentorship, kind_of, email_of, expect)
        for key, mentee in expected.items():
            got = messages_to.get(key, set())
            if not got:
                found.missing[f"{key[0]} mail"].add(mentee)
            found.duplicated[f"{key[0]} mail (distinct Message-IDs)"] += max(0, len(got) - 1)
        for key in messages_to.keys() - expected.keys():
            found.violations["mail nobody should get"].append(str(key))
        return found

    def _will_accept(self, mentee_id: str) -> bool:
        """Whether the test's people accept this mentee's proposal (both have a token)."""
        if self.journeys is None or not accepts(mentee_id):
            return False
        return any(
            r.profile_id == mentee_id and r.token is not None for r in self.driver.registrations
        )

    def _look_at_mentorships(
        self,
        found: Findings,
        matching: dict[str, list[asyncpg.Record]],
        mentorship: dict[str, list[asyncpg.Record]],
        kind_of: dict[str, str],
        email_of: dict[str, str],
        expect: Callable[..., None],
    ) -> None:
        known = {r["id"] for r in mentorship["people"]}
        for profile_id in kind_of:
            if profile_id not in known:
                found.missing["person in the mentorship service"].add(email_of[profile_id])
        accepted = {m["id"]: m for m in matching["matches"] if m["status"] == "accepted"}
        of_match: dict[str, list[asyncpg.Record]] = defaultdict(list)
        for m in mentorship["mentorships"]:
            of_match[m["match_id"]].append(m)
        found.mentorships = len(mentorship["mentorships"])
        for match_id, match in accepted.items():
            if not of_match.get(match_id):
                found.missing["mentorship"].add(email_of.get(match["mentee"], "?"))
        for match_id, rows in of_match.items():
            found.duplicated["mentorship"] += len(rows) - 1
            if match_id not in accepted:
                found.violations["mentorship of a match not accepted"].append(match_id)
        # Events in the outbox: (mentorship, "started" or the check-in reminded of) -> ids.
        events: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in mentorship["events"]:
            what = "started" if row["event_type"] == "MentorshipStarted" else row["number"]
            events[(row["mentorship_id"], what)].add(row["event_id"])
        now = self.clock.now() if self.clock is not None else None
        expected_events: dict[tuple[str, str], str] = {}  # -> the mentee concerned
        for m in mentorship["mentorships"]:
            people = (m["mentee"], m["mentor"])
            expected_events[(m["id"], "started")] = email_of.get(m["mentee"], "?")
            expect("mentorship_started", m["id"], m["mentee"], *people)
            if m["check_ins"] >= 1:
                expect("survey_invitation", m["id"], m["mentee"], *people)
            # The reminder of the check-in due next, once the service's clock passed its time.
            due = m["schedule_anchor"] + timedelta(weeks=m["cadence_weeks"])
            if m["status"] == "active" and now is not None and now >= due - REMINDER_LEAD:
                number = str(m["check_ins"] + 1)
                expected_events[(m["id"], number)] = email_of.get(m["mentee"], "?")
                expect("check_in_reminder", f"{m['id']} check-in {number}", m["mentee"], *people)
        for key, mentee in expected_events.items():
            got = events.get(key, set())
            kind = "MentorshipStarted" if key[1] == "started" else "CheckInReminderIssued"
            if not got:
                found.missing[f"{kind} event"].add(mentee)
            found.duplicated[f"{kind} event"] += max(0, len(got) - 1)
        for key in events.keys() - expected_events.keys():
            found.violations["mentorship event nobody should raise"].append(str(key))

    @staticmethod
    def _check_answer(
        found: Findings, registration: Registration, rows: list[asyncpg.Record]
    ) -> None:
        who = registration.email
        if registration.outcome == "created":
            if not rows:
                found.missing["profile row"].add(who)
            elif rows[0]["id"] != registration.profile_id:
                found.violations["profile stored under another id"].append(who)
        elif registration.outcome == "created_earlier":
            if not rows:
                found.missing["profile row"].add(who)
        elif registration.outcome == "gave_up":
            found.unanswered += 1
        elif registration.outcome == "refused":
            found.violations["registration refused"].append(f"{who}: {registration.answers}")


@dataclass
class Recovery:
    """The outcome of waiting for the system to catch up after a fault."""

    findings: Findings
    #: Seconds from the end of the fault until every registration sent before that moment
    #: had all its effects; None if that did not happen within the bound.
    seconds: float | None
    #: Whether everything (the load after the fault too) caught up, backlogs empty, in time.
    caught_up: bool
    bound: float

    def row(self, fault: str) -> str:
        f = self.findings
        recovered = f"{self.seconds:.1f} s" if self.seconds is not None else f"> {self.bound:.0f} s"
        return (
            f"{fault:<44} {f.sent:>6} {f.lost:>5} {f.duplicated_effects:>12} "
            f"{f.raw_duplicate_mails:>14} {recovered:>9}"
        )


async def wait_until_caught_up(
    inspector: Inspector,
    *,
    fault_ended: float,
    load: asyncio.Task[None],
    bound: float,
    settle: float = 3.0,
) -> Recovery:
    """Poll from the end of the fault while ``load`` (the rest of the load, then its stop)
    finishes: note when the registrations sent before the fault ended all have their
    effects, and wait, at most ``bound`` seconds after the fault ended, until everything has
    caught up with no work left; then look once more after ``settle`` seconds, for late
    duplicates."""
    deadline = fault_ended + bound
    recovered: float | None = None
    caught_up = False
    while True:
        findings = await inspector.look()
        now = time.monotonic()
        if recovered is None and not findings.missing_before(fault_ended):
            recovered = max(0.0, now - fault_ended)
        if load.done() and findings.caught_up:
            caught_up = True
            break
        if now > deadline and load.done():
            break
        await asyncio.sleep(0.5)
    await load  # its failure, if any, is the test's
    if caught_up:
        await asyncio.sleep(settle)
        findings = await inspector.look()
    return Recovery(findings, recovered, caught_up, bound)


async def population_known(inspector: Inspector, timeout: float = 60.0) -> None:
    """Wait until the matcher and the notification service know every registered mentor."""
    deadline = time.monotonic() + timeout
    while True:
        found = await inspector.look()
        if found.caught_up:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the mentors did not reach every service within {timeout:.0f} s\n"
                f"{found.describe()}\n{inspector.stack.log_tail()}"
            )
        await asyncio.sleep(0.5)
