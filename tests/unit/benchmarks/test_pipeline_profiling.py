"""The pipeline benchmark's profile summary: py-spy's collapsed stacks added up."""

from __future__ import annotations

from benchmarks.pipeline.profiling import (
    Statement,
    library_of,
    parse_collapsed,
    postgres_cpu_by_label,
    summarise,
)

SITE = "/venv/lib/python3.11/site-packages"
LOOP = "run (asyncio/runners.py:118);Runner.run (/py/lib/python3.11/asyncio/runners.py:118)"
SEND = f"send_batch (/repo/notification_service/dispatcher.py:60);fetch ({SITE}/asyncpg/connection.py:690)"
RELAY = (
    f"_run (/repo/mentorship_shared/plumbing/worker.py:110);send ({SITE}/aiokafka/client.py:500)"
)


def test_samples_add_up_by_function_library_and_task() -> None:
    profile = parse_collapsed(f"{LOOP};{SEND} 6\n{LOOP};{RELAY} 3\n{LOOP} 1\nnot a stack line\n")

    assert profile.samples == 10
    assert profile.inclusive["Runner.run (asyncio/runners.py)"] == 10
    assert profile.inclusive["send_batch (notification_service/dispatcher.py)"] == 6
    assert profile.own["fetch (asyncpg/connection.py)"] == 6
    assert profile.libraries == {"asyncpg": 6, "aiokafka": 3, "asyncio": 1}
    assert profile.tasks == {
        "send_batch (notification_service/dispatcher.py)": 6,
        "_run (plumbing/worker.py)": 3,
        "(the event loop itself)": 1,
    }


def test_a_function_twice_in_one_stack_counts_once_inclusive() -> None:
    frame = f"wrap ({SITE}/pydantic/main.py:10)"
    profile = parse_collapsed(f"{frame};{frame};{frame} 4\n")

    assert profile.inclusive["wrap (pydantic/main.py)"] == 4
    assert profile.own["wrap (pydantic/main.py)"] == 4


def test_a_file_belongs_to_the_first_library_its_path_names() -> None:
    assert library_of(f"{SITE}/opentelemetry/sdk/trace/__init__.py") == "opentelemetry"
    assert library_of("/repo/shared/src/mentorship_shared/plumbing/logs.py") == "mentorship_shared"
    assert library_of("/py/lib/python3.11/logging/__init__.py") == "logging"
    assert library_of("/py/lib/python3.11/uuid.py") == "uuid"
    assert library_of("/somewhere/else.py") == "other"


def test_postgres_cpu_counts_processes_alive_at_both_readings_by_what_they_are() -> None:
    before = {1: ("walwriter", 1.0), 2: ("backend profile_s1", 2.0), 3: ("backend x", 5.0)}
    after = {1: ("walwriter", 1.5), 2: ("backend profile_s1", 2.25), 4: ("backend x", 9.0)}

    assert postgres_cpu_by_label(before, after) == {
        "walwriter": 0.5,
        "backend profile_s1": 0.25,
    }


def test_the_summary_gives_shares_and_statements_per_registration() -> None:
    profile = parse_collapsed(f"{LOOP};{SEND} 3\n{LOOP};{RELAY} 1\n")
    page = summarise(
        {"notification": profile},
        [Statement("notification_s1", "SELECT 1", calls=50, total_ms=10.0, rows=50)],
        registrations=25,
        cpu_seconds={"notification": 12.5},
        postgres={"walwriter": 0.05},
        sampled_registrations=10,
    )

    assert "4 samples; 12.5 ms a registration" in page
    assert "| `send_batch (notification_service/dispatcher.py)` | 75.0% |" in page
    assert "| walwriter | 5.00 |" in page
    assert "| notification_s1 | 2.00 | 0.200 | 0.400 | `SELECT 1` |" in page
    # The loop's own frame is under every stack: not listed among the functions.
    assert "| `Runner.run (asyncio/runners.py)` |" not in page
