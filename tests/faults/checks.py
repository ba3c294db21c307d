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
  and its record carries the same Message-ID: those raw copies are counted separately.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import asyncpg
from devstack.load import LoadDriver, Registration
from devstack.stack import Stack

#: How many examples of each problem a report quotes.
_EXAMPLES = 5


@dataclass
class Findings:
    """One look at the whole system."""

    sent: int = 0
    registered: int = 0
    matches: int = 0
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
            f"matches {self.matches}, mentees waiting {self.waiting}, mails {self.mails} "
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


#: What a learning-plan mail is about in place of a match: the mentee it goes to.
PLAN = "learning plan"

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
    "notifications": "SELECT message_id, context ->> 'match_id' AS match_id, template, "
    "recipient_id::text AS recipient, status FROM notifications",
    "outbox": "SELECT status, count(*) AS n FROM outbox GROUP BY status",
}


class Inspector:
    """Looks at the stack's databases and maildir and says what is missing or doubled."""

    def __init__(self, stack: Stack, driver: LoadDriver) -> None:
        self.stack = stack
        self.driver = driver
        assert stack.sink is not None, "the fault stacks run an SMTP sink of their own"
        self.maildir = Maildir(stack.sink.maildir)

    async def look(self) -> Findings:
        profile, matching, notification = await asyncio.gather(
            _fetch(self.stack.database_url("profile"), _PROFILE),
            _fetch(self.stack.database_url("matching"), _MATCHING),
            _fetch(self.stack.database_url("notification"), _NOTIFICATION),
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
        for rows in by_email.values():
            found.duplicated["profile row"] += len(rows) - 1
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
        for match in matching["matches"]:
            matches_of[match["mentee"]].append(match)
            if match["status"] in ("proposed", "accepted"):
                open_of_mentor[match["mentor"]] += 1
            if match["status"] != "proposed":
                found.violations["match no longer proposed"].append(match["id"])
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
        # A mail is about a match, or (a learning plan) about the mentee it goes to.
        match_of_message = {
            r["message_id"]: PLAN if r["template"] == "learning_plan" else r["match_id"]
            for r in notification["notifications"]
        }
        copies = Counter(message_id for message_id, _ in mails)
        found.raw_duplicate_mails = sum(n - 1 for n in copies.values())
        messages_to: dict[tuple[str, str], set[str]] = defaultdict(set)
        for message_id, recipient in mails:
            match_id = match_of_message.get(message_id)
            if match_id is None:
                found.violations["mail about no known notification"].append(message_id)
                continue
            messages_to[(match_id, recipient)].add(message_id)
        expected: set[tuple[str, str]] = set()
        for profile_id, kind in kind_of.items():
            if kind == "mentee" and not matches_of.get(profile_id) and full:
                key = (PLAN, email_of[profile_id])
                expected.add(key)
                got = messages_to.get(key, set())
                if not got:
                    found.missing["learning plan mail"].add(email_of[profile_id])
                found.duplicated["learning plan mail (distinct Message-IDs)"] += max(
                    0, len(got) - 1
                )
        for match in matching["matches"]:
            for person in (match["mentee"], match["mentor"]):
                key = (match["id"], email_of.get(person, f"unknown profile {person}"))
                expected.add(key)
                got = messages_to.get(key, set())
                if not got:
                    found.missing["mail"].add(email_of.get(match["mentee"], "?"))
                found.duplicated["mail (distinct Message-IDs)"] += max(0, len(got) - 1)
        for key in messages_to.keys() - expected:
            found.violations["mail to someone outside its proposal"].append(str(key))
        return found

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
