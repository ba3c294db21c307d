"""The services' SQL leaves no session state behind, which lets a pooled connection whose
checkout ran one unit of work go back without asyncpg's reset query (`database.mark_clean`)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
#: What survives a committed transaction on its session: session-level advisory locks,
#: LISTEN, session settings, held cursors, temporary tables and prepared statements.
SESSION_STATE = re.compile(
    r"pg_(try_)?advisory_lock(_shared)?\(|set_config\(|\bWITH HOLD\b|\bCREATE TEMP"
    r"|[\"']\s*(LISTEN|PREPARE|SET(?!\s+(LOCAL|CONSTRAINTS)\b))\s"
)
#: Code that takes session state on purpose, never inside a unit of work: the migration lock,
#: and the outbox relay's lock on its own connection (both reset when they go back).
OUTSIDE_UNITS_OF_WORK = {
    "shared/src/mentorship_shared/plumbing/database.py",
    "shared/src/mentorship_shared/plumbing/relay.py",
}


def test_no_service_code_leaves_session_state_on_a_pooled_connection() -> None:
    sources = [
        *REPO.glob("services/*/src/**/*.py"),
        *REPO.glob("shared/src/mentorship_shared/**/*.py"),
    ]
    assert len(sources) > 50
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sources
        if str(path.relative_to(REPO)) not in OUTSIDE_UNITS_OF_WORK
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SESSION_STATE.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []


def test_the_pattern_finds_what_would_leave_session_state() -> None:
    for sql in (
        '"SELECT pg_advisory_lock($1)"',
        '"SET search_path = x"',
        "'LISTEN outbox_pending'",
        '"PREPARE q AS SELECT 1"',
        '"SELECT set_config($1, $2, false)"',
        '"DECLARE c CURSOR WITH HOLD FOR SELECT 1"',
        '"CREATE TEMP TABLE t (x int)"',
    ):
        assert SESSION_STATE.search(sql), sql
    for sql in (
        '"SELECT pg_advisory_xact_lock($1)"',
        '"SET LOCAL lock_timeout = 1000"',
        '"UPDATE outbox SET status = $1"',
        '"(PostgreSQL LISTEN/NOTIFY wakes it)"',
    ):
        assert not SESSION_STATE.search(sql), sql
